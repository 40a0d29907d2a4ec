package io.recsys.spark.features;

import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureView;
import io.recsys.online.OnlineRow;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

/**
 * Writes the rows of several views of one entity, as {@link StatefulViewAggregation#computeAll} gives them (one
 * frame, a view index per row), to the Redis online store in one Spark job: the rows an entity's views got in
 * one call of the operator come out together, so they go to Redis in one script call (one hash holds all of an
 * entity's views; {@link io.recsys.online.OnlineStore#write(List, long[])}), each view's row still written only
 * if it is not older than the stored one. Otherwise as {@link OnlineWrite}: written from the executors, the
 * client built there, one {@link OnlineWrite.Result} per view back on the driver, with the offline log's records
 * when asked for.
 */
public record OnlineViewsWrite(String redis, String project, Entity entity, List<FeatureView> views, int batchSize)
    implements Serializable {

  public OnlineViewsWrite {
    views = List.copyOf(views);
    StatefulViewAggregation.requireViewsOf(entity, views);
  }

  /**
   * Writes {@code all} ({@link StatefulViewAggregation#computeAll}'s rows of these {@link #views}, in their order)
   * and returns one result per view, in that order. {@code record}, if not null, is a binary column of {@code all}
   * (each row's offline-log record, see {@link #records}); each view's result then holds its rows' records, or
   * null for every view when a partition held more than {@code maxRecordsPerPartition} rows.
   */
  public List<OnlineWrite.Result> run(Dataset<Row> all, Column record, int maxRecordsPerPartition) {
    return OnlineWrite.write(all, record, maxRecordsPerPartition, new Source(this));
  }

  /**
   * The record of each row of {@code all}: {@code recordOf} applied to the view's row in
   * {@link StatefulViewAggregation#rowsOf}'s columns followed by {@code extra}, chosen by the row's view index.
   */
  public Column records(java.util.function.Function<Column[], Column> recordOf, Column... extra) {
    Column out = null;
    for (int i = 0; i < views.size(); i++) {
      List<Column> cols = new ArrayList<>(StatefulViewAggregation.viewColumns(views, entity, i));
      cols.addAll(List.of(extra));
      Column cond = org.apache.spark.sql.functions.col(StatefulViewAggregation.VIEW).equalTo(i);
      Column value = recordOf.apply(cols.toArray(Column[]::new));
      out = out == null ? org.apache.spark.sql.functions.when(cond, value) : out.when(cond, value);
    }
    return out;
  }

  private record Source(OnlineViewsWrite w) implements OnlineWrite.Source {
    public String redis() {
      return w.redis();
    }

    public int batchSize() {
      return w.batchSize();
    }

    public int views() {
      return w.views().size();
    }

    public long ttlMillis(int view) {
      return w.views().get(view).ttl().toMillis();
    }

    public OnlineWrite.Bound bind(StructType schema) {
      int viewColumn = schema.fieldIndex(StatefulViewAggregation.VIEW);
      int keyColumn = schema.fieldIndex(w.entity().joinKey());
      int timeColumn = schema.fieldIndex(FeatureAggregations.EVENT_TIMESTAMP);
      int[][] featureColumns = new int[w.views().size()][];
      for (int v = 0; v < featureColumns.length; v++) {
        FeatureView view = w.views().get(v);
        featureColumns[v] = view.features().stream()
            .mapToInt(f -> schema.fieldIndex(StatefulViewAggregation.column(view, f))).toArray();
      }
      return new OnlineWrite.Bound() {
        public int view(Row r) {
          return r.getInt(viewColumn);
        }

        public OnlineRow encode(Row r, int v) {
          int[] cols = featureColumns[v];
          List<Object> values = new ArrayList<>(cols.length);
          for (int c : cols) {
            values.add(OnlineWrite.javaValue(r.get(c)));
          }
          return OnlineRow.encode(w.project(), w.entity(), w.views().get(v), r.get(keyColumn).toString(),
              r.getTimestamp(timeColumn).toInstant(), values);
        }
      };
    }
  }
}
