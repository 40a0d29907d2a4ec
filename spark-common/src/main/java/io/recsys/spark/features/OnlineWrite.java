package io.recsys.spark.features;

import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureView;
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import java.io.Serializable;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Writes a frame of {@link FeatureAggregations} rows to the Redis online store from the executors: each
 * partition encodes its rows (Feast layout) and sends them through the JVM's shared {@link OnlineStore}
 * client, {@code batchSize} per pipeline. Only this serializable config travels to the executors; the client is
 * built there on first use. Returns one small stats row per partition, which is all that reaches the driver
 * unless the caller asks for a line per row as well (the offline log's, {@link #run(Dataset, Column, int)}).
 */
public record OnlineWrite(String redis, String project, Entity entity, FeatureView view, int batchSize)
    implements Serializable {

  /**
   * What a partition sends back: one stats row ({@code line} null; {@code lines_complete} says whether the
   * partition sent all its lines), then one row per line (the other columns zero).
   */
  static final StructType STATS_AND_LINES = new StructType()
      .add("rows", DataTypes.LongType).add("written", DataTypes.LongType).add("stale", DataTypes.LongType)
      .add("lag_sum_ms", DataTypes.DoubleType).add("lag_max_ms", DataTypes.LongType)
      .add("lines_complete", DataTypes.BooleanType).add("line", DataTypes.StringType);
  /** The column a write with lines adds to the frame. */
  static final String LINE = "__recsys_line";

  /** Totals over the partitions of one write. */
  public record Stats(long rows, long written, long stale, double lagSumSeconds, double lagMaxSeconds) {}

  public Stats run(Dataset<Row> rows) {
    return run(rows, null, 0).stats();
  }

  /**
   * What one write did, and the rows' lines (see {@link #run(Dataset, Column, int)}): null when not asked for, or
   * when a partition held more rows than the limit.
   */
  public record Result(Stats stats, List<String> lines) {}

  /**
   * Writes {@code rows} to Redis as {@link #run(Dataset)} does and, in the same Spark job, brings back each row's
   * {@code line} (a string column computed from the row: the offline log's JSON line), so the caller needs no
   * second pass over the frame. Each partition sends its lines after its Redis writes, so they add nothing to the
   * time a row takes to become visible. At most {@code maxLinesPerPartition} per partition: a partition with
   * more sends none, and the result has no lines (the caller writes the frame another way). A null {@code line}
   * brings back no lines.
   */
  public Result run(Dataset<Row> rows, Column line, int maxLinesPerPartition) {
    Dataset<Row> input = line == null ? rows : rows.withColumn(LINE, line);
    List<Row> parts = input.mapPartitions(new WritePartition(this, line != null, maxLinesPerPartition),
        Encoders.row(STATS_AND_LINES)).collectAsList();
    long n = 0;
    long written = 0;
    long stale = 0;
    double lagSum = 0;
    long lagMax = 0;
    boolean complete = line != null;
    List<String> lines = new ArrayList<>();
    for (Row r : parts) {
      if (!r.isNullAt(6)) {
        lines.add(r.getString(6));
        continue;
      }
      n += r.getLong(0);
      written += r.getLong(1);
      stale += r.getLong(2);
      lagSum += r.getDouble(3);
      lagMax = Math.max(lagMax, r.getLong(4));
      complete &= r.getBoolean(5);
    }
    return new Result(new Stats(n, written, stale, lagSum / 1000.0, lagMax / 1000.0), complete ? lines : null);
  }

  /** The features' values of a {@link FeatureAggregations} row, as Java objects (Scala arrays as Lists). */
  public static List<Object> values(Row r, List<Feature> features) {
    List<Object> values = new ArrayList<>(features.size());
    for (Feature f : features) {
      Object v = r.getAs(f.name());
      values.add(v instanceof scala.collection.Seq<?> seq ? scala.jdk.javaapi.CollectionConverters.asJava(seq) : v);
    }
    return values;
  }

  static final class WritePartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private final OnlineWrite w;
    private final boolean withLines;
    private final int maxLines;

    WritePartition(OnlineWrite w, boolean withLines, int maxLines) {
      this.w = w;
      this.withLines = withLines;
      this.maxLines = maxLines;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
      if (!input.hasNext()) {
        return List.<Row>of(RowFactory.create(0L, 0L, 0L, 0.0, 0L, true, null)).iterator();
      }
      List<Row> out = new ArrayList<>();
      out.add(null); // the stats row, set at the end
      boolean complete = withLines;
      OnlineStore store = OnlineStore.shared(w.redis());
      List<Feature> features = w.view().features();
      long ttl = w.view().ttl().toMillis();
      long rows = 0;
      long written = 0;
      long stale = 0;
      List<OnlineRow> batch = new ArrayList<>(w.batchSize());
      List<Instant> times = new ArrayList<>(w.batchSize());
      double lagSum = 0;
      long lagMax = 0;
      while (input.hasNext()) {
        Row r = input.next();
        Instant t = ((Timestamp) r.getAs(FeatureAggregations.EVENT_TIMESTAMP)).toInstant();
        batch.add(OnlineRow.encode(w.project(), w.entity(), w.view(), r.getAs(w.entity().joinKey()).toString(), t,
            values(r, features)));
        times.add(t);
        rows++;
        if (complete && rows > maxLines) {
          complete = false; // too many for the driver: none are sent
          out.subList(1, out.size()).clear();
        } else if (complete) {
          out.add(RowFactory.create(0L, 0L, 0L, 0.0, 0L, true, r.getAs(LINE)));
        }
        if (batch.size() >= w.batchSize() || !input.hasNext()) {
          OnlineStore.WriteResult res = store.write(batch, ttl, w.batchSize());
          long now = System.currentTimeMillis();
          written += res.written();
          stale += res.skippedStale();
          for (Instant time : times) {
            long lag = Math.max(0, now - time.toEpochMilli());
            lagSum += lag;
            lagMax = Math.max(lagMax, lag);
          }
          batch.clear();
          times.clear();
        }
      }
      // lag is over the rows sent; stale rows were not written, so scale the sum to the written share
      double writtenLagSum = rows == 0 ? 0 : lagSum * written / rows;
      out.set(0, RowFactory.create(rows, written, stale, writtenLagSum, lagMax, complete, null));
      return out.iterator();
    }
  }
}
