package io.recsys.streaming.online;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.features.Entity;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.online.OnlineRow;
import io.recsys.spark.SparkTestSession;
import io.recsys.spark.features.OnlineViewsWrite;
import io.recsys.spark.features.OnlineWrite;
import io.recsys.spark.features.StatefulViewAggregation;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
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
 * row's offline-log record for the spool ({@link OnlineWrite#run(Dataset, org.apache.spark.sql.Column, int)}). On
 * real Redis: the rows are written, the records are exactly the rows', and a partition over the limit brings back
 * none (the job then appends the batch to the log directly) while its rows are still written.
 */
@ExtendWith(LocalStackExtension.class)
class OnlineWriteRecordsIT {

  @Test
  void theRedisWriteBringsBackEveryRowsRecordUnlessAPartitionHoldsTooMany(LocalStack stack) {
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
      Instant t = base.plusMillis(i * 1_001L).plusNanos(123_000); // microseconds must survive the record
      data.add(RowFactory.create("lines-u" + i, Timestamp.from(base.minusSeconds(240)),
          Timestamp.from(base.plusSeconds(60)), Timestamp.from(t), (long) i, 1L, 0L, (long) (i % 2),
          Timestamp.from(base)));
    }
    Dataset<Row> rows = spark.createDataFrame(data, schema).repartition(2, functions.col("user_id"));
    List<String> expected = hex(rows.select(OfflineLogSpool.record(rows)).as(Encoders.BINARY()).collectAsList());
    OnlineWrite write = new OnlineWrite(stack.redisUri(), "lines_it", user, view, 7);

    try (OnlineFeaturesIT.RedisProbe redis = new OnlineFeaturesIT.RedisProbe(stack.redisUri())) {
      try {
        OnlineWrite.Result all = write.run(rows, OfflineLogSpool.record(rows), 40);
        assertThat(all.stats().rows()).isEqualTo(40);
        assertThat(all.stats().written()).isEqualTo(40);
        assertThat(hex(all.records())).hasSize(40).containsExactlyInAnyOrderElementsOf(expected);
        // a record is the row, to the microsecond
        assertThat(all.records()).anySatisfy(r -> {
          var row = new org.apache.spark.sql.catalyst.expressions.UnsafeRow(schema.size());
          row.pointTo(r, r.length);
          assertThat(row.getUTF8String(0).toString()).isEqualTo("lines-u0");
          assertThat(row.getLong(3)).isEqualTo(base.getEpochSecond() * 1_000_000 + 123);
        });

        var hashes = redis.hashes();
        for (Row r : data) {
          byte[] key = OnlineRow.encode("lines_it", user, view, r.getString(0),
              ((Timestamp) r.get(3)).toInstant(), List.of(r.get(4), r.get(5), r.get(6), r.get(7))).key();
          assertThat(hashes).containsKey(HexFormat.of().formatHex(key));
        }

        // 40 rows in 2 partitions: one holds at least 20, over a limit of 19, so no records come back
        OnlineWrite.Result capped = write.run(rows, OfflineLogSpool.record(rows), 19);
        assertThat(capped.records()).isNull();
        assertThat(capped.stats().rows()).isEqualTo(40);
        assertThat(capped.stats().written() + capped.stats().stale()).isEqualTo(40);
        // without a record column: the plain write
        assertThat(write.run(rows, null, 40).records()).isNull();
      } finally {
        redis.deleteProject("lines_it"); // the other tests of this JVM read the whole database
      }
    }
  }

  /**
   * Several views of one entity in one write (the rows {@link StatefulViewAggregation#computeAll} gives): Redis
   * ends up byte for byte as with one write per view, each view gets its own figures and exactly the records the
   * spool expects for its rows, and the stale-write check stays per view.
   */
  @Test
  void severalViewsInOneWriteLandAsOneWritePerViewWouldWithFiguresAndRecordsPerView(LocalStack stack) {
    SparkSession spark = SparkTestSession.get();
    FeatureDefinitions defs = FeatureDefinitions.load();
    Entity user = defs.entities().get("user");
    List<FeatureView> views = List.of(defs.view("user_activity_5m"), defs.view("user_session"));
    StructType schema = new StructType().add(StatefulViewAggregation.VIEW, DataTypes.IntegerType, false)
        .add("user_id", DataTypes.StringType).add("window_start", DataTypes.TimestampType)
        .add("window_end", DataTypes.TimestampType).add("event_timestamp", DataTypes.TimestampType)
        .add("user_activity_5m__views", DataTypes.LongType).add("user_activity_5m__clicks", DataTypes.LongType)
        .add("user_activity_5m__carts", DataTypes.LongType).add("user_activity_5m__purchases", DataTypes.LongType)
        .add("user_session__session_events", DataTypes.LongType)
        .add("user_session__session_duration_seconds", DataTypes.LongType);
    Instant base = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).minusSeconds(60);
    List<Row> data = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      Timestamp t = Timestamp.from(base.plusMillis(i * 1_001L));
      Timestamp start = Timestamp.from(base.minusSeconds(240));
      Timestamp end = Timestamp.from(base.plusSeconds(60));
      // as the operator emits them: an entity's rows together; every third user has no session row
      data.add(RowFactory.create(0, "views-u" + i, start, end, t, (long) i, 2L, 0L, (long) (i % 2), null, null));
      if (i % 3 != 0) {
        data.add(RowFactory.create(1, "views-u" + i, start, end, t, null, null, null, null, (long) i, 60L + i));
      }
    }
    Dataset<Row> all = spark.createDataFrame(data, schema).coalesce(2);
    Timestamp created = Timestamp.from(base);
    OnlineViewsWrite write = new OnlineViewsWrite(stack.redisUri(), "views_it_b", user, views, 7);

    try (OnlineFeaturesIT.RedisProbe redis = new OnlineFeaturesIT.RedisProbe(stack.redisUri())) {
      try {
        List<List<String>> expectedRecords = new ArrayList<>();
        for (int v = 0; v < views.size(); v++) {
          Dataset<Row> rows = StatefulViewAggregation.rowsOf(all, views, user, v);
          new OnlineWrite(stack.redisUri(), "views_it_a", user, views.get(v), 7).run(rows);
          Dataset<Row> logRows = rows.withColumn("created_timestamp", functions.lit(created));
          expectedRecords.add(hex(logRows.select(OfflineLogSpool.record(logRows)).as(Encoders.BINARY())
              .collectAsList()));
        }
        // the job's created_timestamp column (a function, not a literal) gives the literal's records
        List<OnlineWrite.Result> results = write.run(all,
            write.records(OfflineLogSpool::record, OnlineBatchWriter.created(created).as("created_timestamp")), 100);
        assertThat(results).hasSize(2);
        assertThat(results.get(0).stats().rows()).isEqualTo(30);
        assertThat(results.get(0).stats().written()).isEqualTo(30);
        assertThat(results.get(1).stats().rows()).isEqualTo(20);
        assertThat(results.get(1).stats().written()).isEqualTo(20);
        for (int v = 0; v < views.size(); v++) {
          assertThat(hex(results.get(v).records())).as(views.get(v).name())
              .containsExactlyInAnyOrderElementsOf(expectedRecords.get(v));
        }

        // the same hashes as one write per view, field for field (the keys differ only in the project)
        assertSameHashes(redis.hashes(), user, views.get(0), "views-u", 30, "views_it_a", "views_it_b");

        // a second write of the same rows rewrites them (equal event times); session rows one second older
        // than the stored ones are skipped, and only those
        assertThat(write.run(all, null, 0).get(0).stats().written()).isEqualTo(30);
        Dataset<Row> olderSessions = all.withColumn("event_timestamp", functions.when(
            functions.col(StatefulViewAggregation.VIEW).equalTo(1),
            functions.col("event_timestamp").minus(functions.expr("INTERVAL 1 SECOND")))
            .otherwise(functions.col("event_timestamp")));
        List<OnlineWrite.Result> again = write.run(olderSessions, null, 0);
        assertThat(again.get(0).stats().written()).isEqualTo(30);
        assertThat(again.get(1).stats().stale()).isEqualTo(20);
        assertThat(again.get(1).stats().written()).isZero();
        assertThat(again.get(0).records()).isNull();
      } finally {
        redis.deleteProject("views_it_a");
        redis.deleteProject("views_it_b");
      }
    }
  }

  /**
   * The micro-batch's path once every view spools: the sink's own rows ({@code InternalRow}s) written with
   * {@link OnlineViewsWrite#runRows}. Redis gets the same hashes, byte for byte, and the spool the same records as
   * through the frame's path ({@link OnlineViewsWrite#run} with {@link OnlineViewsWrite#records}), for counts,
   * lists (one of them null) and an entity with rows of only some views; over the limit, no records and still
   * every row written.
   */
  @Test
  void theSinksOwnRowsGiveTheSameHashesAndRecordsAsTheFramesPath(LocalStack stack) {
    SparkSession spark = SparkTestSession.get();
    FeatureDefinitions defs = FeatureDefinitions.load();
    Entity user = defs.entities().get("user");
    List<FeatureView> views = List.of(defs.view("user_activity_5m"), defs.view("user_recent_items"),
        defs.view("user_interests_1h"));
    StructType schema = new StructType().add(StatefulViewAggregation.VIEW, DataTypes.IntegerType, false)
        .add("user_id", DataTypes.StringType).add("window_start", DataTypes.TimestampType)
        .add("window_end", DataTypes.TimestampType).add("event_timestamp", DataTypes.TimestampType);
    for (FeatureView v : views) {
      for (var f : v.features()) {
        schema = schema.add(v.name() + "__" + f.name(),
            io.recsys.spark.features.FeatureAggregations.sparkType(f.valueType()));
      }
    }
    Instant base = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).minusSeconds(60);
    List<Row> data = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      Timestamp t = Timestamp.from(base.plusMillis(i * 1_001L).plusNanos(7_000));
      Timestamp start = Timestamp.from(base.minusSeconds(240));
      Timestamp end = Timestamp.from(base.plusSeconds(60));
      String u = "rows-u" + i;
      data.add(RowFactory.create(0, u, start, end, t, (long) i, 2L, 0L, (long) (i % 2), null, null, null, null));
      if (i % 4 != 0) {
        List<String> viewed = i % 5 == 0 ? null : List.of("item-" + i, "item-" + (i + 1));
        data.add(RowFactory.create(1, u, start, end, t, null, null, null, null,
            viewed == null ? null : scala.jdk.javaapi.CollectionConverters.asScala(viewed).toSeq(),
            scala.jdk.javaapi.CollectionConverters.asScala(List.<String>of()).toSeq(), null, null));
      }
      if (i % 3 == 0) {
        data.add(RowFactory.create(2, u, start, end, t, null, null, null, null, null, null, (long) i,
            scala.jdk.javaapi.CollectionConverters.asScala(List.of("books", "toys")).toSeq()));
      }
    }
    Dataset<Row> all = spark.createDataFrame(data, schema).coalesce(2);
    Timestamp created = Timestamp.from(base);
    OnlineViewsWrite frames = new OnlineViewsWrite(stack.redisUri(), "rows_it_a", user, views, 5);
    OnlineViewsWrite rows = new OnlineViewsWrite(stack.redisUri(), "rows_it_b", user, views, 5);

    try (OnlineFeaturesIT.RedisProbe redis = new OnlineFeaturesIT.RedisProbe(stack.redisUri())) {
      try {
        List<OnlineWrite.Result> expected = frames.run(all,
            frames.records(OfflineLogSpool::record, OnlineBatchWriter.created(created).as("created_timestamp")), 100);
        List<OnlineWrite.Result> got = rows.runRows(all.queryExecution().toRdd(), all.schema(),
            org.apache.spark.sql.catalyst.util.DateTimeUtils.fromJavaTimestamp(created), 100);
        assertThat(got).hasSize(3);
        for (int v = 0; v < views.size(); v++) {
          assertThat(got.get(v).stats().rows()).isEqualTo(expected.get(v).stats().rows());
          assertThat(got.get(v).stats().written()).isEqualTo(expected.get(v).stats().rows());
          assertThat(hex(got.get(v).records())).as(views.get(v).name()).isNotEmpty()
              .containsExactlyInAnyOrderElementsOf(hex(expected.get(v).records()));
        }
        assertThat(got.get(0).stats().rows()).isEqualTo(24);
        assertThat(got.get(1).stats().rows()).isEqualTo(18);
        assertThat(got.get(2).stats().rows()).isEqualTo(8);

        // the same hashes as through the frame's path, field for field (the keys differ only in the project)
        assertSameHashes(redis.hashes(), user, views.get(0), "rows-u", 24, "rows_it_a", "rows_it_b");

        // 50 rows in 2 partitions: one holds at least 25, over a limit of 24, so no records come back
        List<OnlineWrite.Result> capped = rows.runRows(all.queryExecution().toRdd(), all.schema(),
            org.apache.spark.sql.catalyst.util.DateTimeUtils.fromJavaTimestamp(created), 24);
        for (OnlineWrite.Result r : capped) {
          assertThat(r.records()).isNull();
          assertThat(r.stats().written() + r.stats().stale()).isEqualTo(r.stats().rows()).isPositive();
        }
      } finally {
        redis.deleteProject("rows_it_a");
        redis.deleteProject("rows_it_b");
      }
    }
  }

  /**
   * Users {@code prefix}0 .. {@code prefix}(n - 1) have the same hash, field for field, under both projects (their
   * keys differ only in the project).
   */
  private static void assertSameHashes(Map<String, Map<String, String>> hashes, Entity user, FeatureView view,
      String prefix, int n, String projectA, String projectB) {
    for (int i = 0; i < n; i++) {
      String a = HexFormat.of().formatHex(OnlineRow.encode(projectA, user, view, prefix + i, Instant.EPOCH,
          List.of(0L, 0L, 0L, 0L)).key());
      String b = HexFormat.of().formatHex(OnlineRow.encode(projectB, user, view, prefix + i, Instant.EPOCH,
          List.of(0L, 0L, 0L, 0L)).key());
      assertThat(hashes.get(b)).as(prefix + i).isNotEmpty().isEqualTo(hashes.get(a));
    }
  }

  private static List<String> hex(List<byte[]> records) {
    return records.stream().map(HexFormat.of()::formatHex).toList();
  }
}
