package io.recsys.streaming.online;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.features.Entity;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.online.OnlineRow;
import io.recsys.spark.SparkTestSession;
import io.recsys.spark.features.OnlineWrite;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The online job's micro-batch makes one pass over its rows: the Redis write's own Spark job brings back each
 * row's offline-log line for the spool ({@link OnlineWrite#run(Dataset, org.apache.spark.sql.Column, int)}). On
 * real Redis: the rows are written, the lines are exactly the rows', and a partition over the limit brings back
 * none (the job then appends the batch to the log directly) while its rows are still written.
 */
@ExtendWith(LocalStackExtension.class)
class OnlineWriteLinesIT {

  @Test
  void theRedisWriteBringsBackEveryRowsLineUnlessAPartitionHoldsTooMany(LocalStack stack) {
    SparkSession spark = SparkTestSession.get();
    FeatureDefinitions defs = FeatureDefinitions.load();
    FeatureView view = defs.view("user_activity_5m");
    Entity user = defs.entities().get("user");
    StructType schema = new StructType().add("user_id", DataTypes.StringType)
        .add("window_start", DataTypes.TimestampType).add("window_end", DataTypes.TimestampType)
        .add("event_timestamp", DataTypes.TimestampType).add("views", DataTypes.LongType)
        .add("clicks", DataTypes.LongType).add("carts", DataTypes.LongType).add("purchases", DataTypes.LongType)
        .add("created_timestamp", DataTypes.TimestampType);
    Instant base = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).minusSeconds(60);
    List<Row> data = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      Instant t = base.plusMillis(i * 1_001L).plusNanos(123_000); // microseconds must survive the line
      data.add(RowFactory.create("lines-u" + i, Timestamp.from(base.minusSeconds(240)),
          Timestamp.from(base.plusSeconds(60)), Timestamp.from(t), (long) i, 1L, 0L, (long) (i % 2),
          Timestamp.from(base)));
    }
    Dataset<Row> rows = spark.createDataFrame(data, schema).repartition(2, functions.col("user_id"));
    List<String> expected = rows.select(OfflineLogSpool.line(rows)).as(Encoders.STRING()).collectAsList();
    OnlineWrite write = new OnlineWrite(stack.redisUri(), "lines_it", user, view, 7);

    try (OnlineFeaturesIT.RedisProbe redis = new OnlineFeaturesIT.RedisProbe(stack.redisUri())) {
      try {
        OnlineWrite.Result all = write.run(rows, OfflineLogSpool.line(rows), 40);
        assertThat(all.stats().rows()).isEqualTo(40);
        assertThat(all.stats().written()).isEqualTo(40);
        assertThat(all.lines()).hasSize(40).containsExactlyInAnyOrderElementsOf(expected);
        // the line keeps sub-millisecond time (the spool's format)
        assertThat(all.lines()).anySatisfy(l -> assertThat(l).contains("\"lines-u0\"").contains(".000123Z"));

        var hashes = redis.hashes();
        for (Row r : data) {
          byte[] key = OnlineRow.encode("lines_it", user, view, r.getString(0),
              ((Timestamp) r.get(3)).toInstant(), List.of(r.get(4), r.get(5), r.get(6), r.get(7))).key();
          assertThat(hashes).containsKey(HexFormat.of().formatHex(key));
        }

        // 40 rows in 2 partitions: one holds at least 20, over a limit of 19, so no lines come back
        OnlineWrite.Result capped = write.run(rows, OfflineLogSpool.line(rows), 19);
        assertThat(capped.lines()).isNull();
        assertThat(capped.stats().rows()).isEqualTo(40);
        assertThat(capped.stats().written() + capped.stats().stale()).isEqualTo(40);
        // without a line column: the plain write
        assertThat(write.run(rows, null, 40).lines()).isNull();
      } finally {
        redis.deleteProject("lines_it"); // the other tests of this JVM read the whole database
      }
    }
  }
}
