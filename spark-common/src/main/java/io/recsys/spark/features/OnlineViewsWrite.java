package io.recsys.spark.features;

import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureView;
import io.recsys.online.OnlineRow;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.CatalystTypeConverters;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.BoundReference;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.util.DateTimeUtils;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
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
   * {@link #run} on Spark's own rows of a micro-batch ({@code all}, of {@code schema}: {@link
   * StatefulViewAggregation#computeAll}'s), as the stream's sink holds them: an RDD job with no query of its own
   * to analyse, optimise and plan on the driver, and no conversion of the rows to {@code Row}s on the executors.
   * With {@code createdMicros} (else null), each view's result holds its rows' records: each row's columns of
   * {@link StatefulViewAggregation#rowsOf} followed by {@code created_timestamp}, as Spark's binary row; the same
   * bytes as {@link #records} gives with the spool's record function. None when a partition held more than
   * {@code maxRecordsPerPartition} rows, as in {@link #run}.
   */
  public List<OnlineWrite.Result> runRows(RDD<InternalRow> all, StructType schema,
      Long createdMicros, int maxRecordsPerPartition) {
    List<Row> parts = all.toJavaRDD().mapPartitions(new RowsPartition(new Source(this), schema, createdMicros,
        maxRecordsPerPartition)).collect();
    return OnlineWrite.results(parts, views.size(), createdMicros != null);
  }

  /** The executors' side of {@link #runRows}. */
  private record RowsPartition(Source source, StructType schema, Long createdMicros, int maxRecords)
      implements FlatMapFunction<Iterator<InternalRow>, Row> {
    @Override
    public Iterator<Row> call(Iterator<InternalRow> rows) {
      if (!rows.hasNext()) {
        return java.util.Collections.emptyIterator();
      }
      OnlineWrite.RecordOf<InternalRow> recordOf = null;
      if (createdMicros != null) {
        UnsafeProjection[] projections = source.w().recordProjections(schema);
        JoinedRow joined = new JoinedRow();
        GenericInternalRow created = new GenericInternalRow(new Object[] {createdMicros});
        // the projection's row is reused from one call to the next: each record is its own copy
        recordOf = (r, v) -> projections[v].apply(joined.apply(r, created)).copy().getBytes();
      }
      return OnlineWrite.writePartition(rows, source, source.bindRows(schema), recordOf, maxRecords).iterator();
    }
  }

  /**
   * Per view, the projection of a row of {@code schema} joined with a one-column row of created_timestamp into the
   * view's offline-log row, generated once per executor thread and schema, not per task: the spool's record
   * encoder, generated per task, had its code generation at 3.1% of a six-view job's samples (BENCHMARKS.md).
   */
  UnsafeProjection[] recordProjections(StructType schema) {
    List<Object> key = List.of(schema, views.stream().map(FeatureView::name).toList());
    return PROJECTIONS.get().computeIfAbsent(key, k -> {
      UnsafeProjection[] out = new UnsafeProjection[views.size()];
      for (int v = 0; v < views.size(); v++) {
        List<Expression> exprs = new ArrayList<>();
        for (String name : StatefulViewAggregation.viewColumnNames(views, entity, v)) {
          int i = schema.fieldIndex(name);
          exprs.add(new BoundReference(i, schema.fields()[i].dataType(), schema.fields()[i].nullable()));
        }
        exprs.add(new BoundReference(schema.size(), DataTypes.TimestampType, false));
        out[v] = UnsafeProjection.create(scala.jdk.javaapi.CollectionConverters.asScala(exprs).toSeq());
      }
      return out;
    });
  }

  private static final ThreadLocal<java.util.Map<Object, UnsafeProjection[]>> PROJECTIONS =
      ThreadLocal.withInitial(java.util.HashMap::new);

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

    public OnlineWrite.Bound<Row> bind(StructType schema) {
      int viewColumn = schema.fieldIndex(StatefulViewAggregation.VIEW);
      int keyColumn = schema.fieldIndex(w.entity().joinKey());
      int timeColumn = schema.fieldIndex(FeatureAggregations.EVENT_TIMESTAMP);
      int[][] featureColumns = featureColumns(schema);
      return new OnlineWrite.Bound<>() {
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

    /** Per view, the positions in {@code schema} of its features' columns, in the view's order. */
    private int[][] featureColumns(StructType schema) {
      int[][] out = new int[w.views().size()][];
      for (int v = 0; v < out.length; v++) {
        FeatureView view = w.views().get(v);
        out[v] = view.features().stream()
            .mapToInt(f -> schema.fieldIndex(StatefulViewAggregation.column(view, f))).toArray();
      }
      return out;
    }

    /** As {@link #bind}, for Spark's own rows: the same {@link OnlineRow}s from the same values. */
    OnlineWrite.Bound<InternalRow> bindRows(StructType schema) {
      int viewColumn = schema.fieldIndex(StatefulViewAggregation.VIEW);
      int keyColumn = schema.fieldIndex(w.entity().joinKey());
      int timeColumn = schema.fieldIndex(FeatureAggregations.EVENT_TIMESTAMP);
      DataType keyType = schema.fields()[keyColumn].dataType();
      scala.Function1<Object, Object> key = CatalystTypeConverters.createToScalaConverter(keyType);
      int[][] featureColumns = featureColumns(schema);
      DataType[][] types = new DataType[featureColumns.length][];
      List<List<scala.Function1<Object, Object>>> converters = new ArrayList<>();
      for (int v = 0; v < featureColumns.length; v++) {
        types[v] = java.util.Arrays.stream(featureColumns[v]).mapToObj(c -> schema.fields()[c].dataType())
            .toArray(DataType[]::new);
        converters.add(java.util.Arrays.stream(types[v]).map(CatalystTypeConverters::createToScalaConverter)
            .toList());
      }
      return new OnlineWrite.Bound<>() {
        public int view(InternalRow r) {
          return r.getInt(viewColumn);
        }

        public OnlineRow encode(InternalRow r, int v) {
          int[] cols = featureColumns[v];
          List<Object> values = new ArrayList<>(cols.length);
          for (int i = 0; i < cols.length; i++) {
            values.add(r.isNullAt(cols[i]) ? null
                : OnlineWrite.javaValue(converters.get(v).get(i).apply(r.get(cols[i], types[v][i]))));
          }
          return OnlineRow.encode(w.project(), w.entity(), w.views().get(v),
              key.apply(r.get(keyColumn, keyType)).toString(), DateTimeUtils.microsToInstant(r.getLong(timeColumn)),
              values);
        }
      };
    }
  }
}
