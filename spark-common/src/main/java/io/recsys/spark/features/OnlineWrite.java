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
 * built there on first use. Returns one small stats row per partition, which is all that reaches the driver.
 */
public record OnlineWrite(String redis, String project, Entity entity, FeatureView view, int batchSize)
    implements Serializable {

  static final StructType STATS = new StructType()
      .add("rows", DataTypes.LongType).add("written", DataTypes.LongType).add("stale", DataTypes.LongType)
      .add("lag_sum_ms", DataTypes.DoubleType).add("lag_max_ms", DataTypes.LongType);

  /** Totals over the partitions of one write. */
  public record Stats(long rows, long written, long stale, double lagSumSeconds, double lagMaxSeconds) {}

  public Stats run(Dataset<Row> rows) {
    List<Row> parts = rows.mapPartitions(new WritePartition(this), Encoders.row(STATS)).collectAsList();
    long n = 0;
    long written = 0;
    long stale = 0;
    double lagSum = 0;
    long lagMax = 0;
    for (Row r : parts) {
      n += r.getLong(0);
      written += r.getLong(1);
      stale += r.getLong(2);
      lagSum += r.getDouble(3);
      lagMax = Math.max(lagMax, r.getLong(4));
    }
    return new Stats(n, written, stale, lagSum / 1000.0, lagMax / 1000.0);
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

    WritePartition(OnlineWrite w) {
      this.w = w;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
      if (!input.hasNext()) {
        return List.<Row>of(RowFactory.create(0L, 0L, 0L, 0.0, 0L)).iterator();
      }
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
      return List.<Row>of(RowFactory.create(rows, written, stale, writtenLagSum, lagMax)).iterator();
    }
  }
}
