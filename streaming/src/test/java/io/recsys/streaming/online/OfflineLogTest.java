package io.recsys.streaming.online;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.spark.JobPools;
import io.recsys.spark.SchedulerPools;
import io.recsys.spark.SparkTestSession;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The offline log's exactly-once rests on finding a query's newest batch marker in the table's history
 * ({@link OnlineBatchWriter#lastLoggedBatch}; the replay of a committed batch is in OnlineFeaturesIT), on the
 * spool that holds micro-batches between two appends ({@link OfflineLogSpool}: exact round trip, recovery after a
 * crash, a damaged file), and its Delta log checkpoints are written beside the stream
 * ({@link OfflineLogCheckpoints}).
 */
class OfflineLogTest {

  final SparkSession spark = SparkTestSession.get();

  /** The spool's limit per partition: the default over the shuffle partitions; a bad setting says what to give. */
  @Test
  void theSpoolsLimitIsSharedByThePartitionsAndABadSettingIsRefused() {
    int partitions = Integer.parseInt(spark.conf().get("spark.sql.shuffle.partitions"));
    assertThat(OnlineBatchWriter.spoolRecordsPerPartition(spark))
        .isEqualTo((int) (OnlineBatchWriter.SPOOL_MAX_BATCH_ROWS / partitions));
    for (String bad : List.of("lots", "0", "-5")) {
      spark.conf().set("spark.recsys.online.spoolMaxBatchRows", bad);
      try {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> OnlineBatchWriter.spoolRecordsPerPartition(spark))
            .isInstanceOf(io.recsys.spark.UserError.class)
            .hasMessageContaining("spark.recsys.online.spoolMaxBatchRows").hasMessageContaining("'" + bad + "'");
      } finally {
        spark.conf().unset("spark.recsys.online.spoolMaxBatchRows");
      }
    }
  }

  @Test
  void findsTheQuerysNewestMarkerBehindOtherCommitsAndNothingForOthers(@TempDir Path dir) {
    String path = dir.resolve("features/user_activity_5m").toUri().toString();
    assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 2)).as("no table yet").isEqualTo(-1);

    append(path, "q1", 7);
    append(path, "q1", 8);
    append(path, "q2", 3); // another query's marker (an earlier checkpoint of the same view)
    append(path, null, 0); // a commit with no marker (the maintenance job, a user)
    append(path, null, 0);

    // the first look (2 commits) misses q1's marker: the whole history is read
    assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 2)).isEqualTo(8);
    assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 100)).isEqualTo(8);
    assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q2", 2)).isEqualTo(3);
    // an id that is a prefix of another's is not that one
    assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q", 100)).isEqualTo(-1);
  }

  @Test
  void checkpointsAreWrittenBesideTheCommitsEveryNCommits(@TempDir Path dir) throws Exception {
    String path = dir.resolve("features/user_activity_5m").toUri().toString();
    Path log = dir.resolve("features/user_activity_5m/_delta_log");
    append(path, "q1", 0);
    OfflineLogCheckpoints checkpoints = new OfflineLogCheckpoints(path, 4, java.time.Duration.ZERO);
    assertThat(checkpoints.takeOver(spark)).isTrue();
    assertThat(properties(path)).containsEntry("delta.checkpointInterval", String.valueOf(OfflineLogCheckpoints.ON_COMMIT))
        .containsEntry(OfflineLogCheckpoints.OWNER_PROPERTY, OfflineLogCheckpoints.OWNER);
    // versions 2..11: Delta's default interval (10) would have checkpointed version 10 on commit
    for (int batch = 1; batch <= 10; batch++) {
      append(path, "q1", batch);
      checkpoints.committed(spark);
      checkpoints.awaitIdle();
    }
    // every fourth commit: after the 4th and 8th (versions 5 and 9), and none by Delta at version 10
    assertThat(checkpointVersions(log)).containsExactly(5L, 9L);
    assertThat(spark.read().format("delta").load(path).count()).isEqualTo(33);

    // a second start of the job: the table is already its own
    assertThat(new OfflineLogCheckpoints(path, 4, java.time.Duration.ZERO).takeOver(spark)).isTrue();
  }

  @Test
  void aTableWithItsOwnIntervalKeepsDeltasCheckpointsOnCommit(@TempDir Path dir) throws Exception {
    String path = dir.resolve("features/user_session").toUri().toString();
    append(path, "q1", 0);
    spark.sql("ALTER TABLE delta.`" + path + "` SET TBLPROPERTIES ('delta.checkpointInterval' = '5')");
    OfflineLogCheckpoints checkpoints = new OfflineLogCheckpoints(path, 3, java.time.Duration.ZERO);
    assertThat(checkpoints.takeOver(spark)).isFalse();
    for (int batch = 1; batch <= 4; batch++) {
      append(path, "q1", batch);
      checkpoints.committed(spark);
    }
    checkpoints.awaitIdle();
    assertThat(properties(path)).containsEntry("delta.checkpointInterval", "5")
        .doesNotContainKey(OfflineLogCheckpoints.OWNER_PROPERTY);
    assertThat(checkpointVersions(dir.resolve("features/user_session/_delta_log"))).containsExactly(5L);
  }

  @Test
  void noTwoCheckpointsWithinTheMinimumGap(@TempDir Path dir) throws Exception {
    String path = dir.resolve("features/user_activity_1h").toUri().toString();
    append(path, "q1", 0);
    OfflineLogCheckpoints checkpoints = new OfflineLogCheckpoints(path, 2, java.time.Duration.ofHours(1));
    assertThat(checkpoints.takeOver(spark)).isTrue();
    for (int batch = 1; batch <= 5; batch++) {
      append(path, "q1", batch);
      checkpoints.committed(spark);
    }
    checkpoints.awaitIdle();
    assertThat(checkpointVersions(dir.resolve("features/user_activity_1h/_delta_log"))).isEmpty();
  }

  @Test
  void spooledBatchesAreAppendedInOneCommitMarkedWithTheNewestAndComeBackExactly(@TempDir Path dir) throws Exception {
    String path = dir.resolve("features/user_recent_items").toUri().toString();
    String spoolDir = dir.resolve("checkpoint/offline-log-spool").toUri().toString();
    java.util.concurrent.atomic.AtomicInteger commits = new java.util.concurrent.atomic.AtomicInteger();
    // an hour: no background append during the test, only the ones it asks for
    try (OfflineLogSpool spool = new OfflineLogSpool(spark, path, "q1", spoolDir, java.time.Duration.ofHours(1),
        1_000_000, commits::incrementAndGet)) {
      spool.recover(rows(0).schema(), -1, 3);
      spool.add(rows(3), 3);
      spool.add(rows(4), 4);
      assertThat(spoolFiles(dir)).containsExactly(OfflineLogSpool.name(3), OfflineLogSpool.name(4));
      assertThat(io.delta.tables.DeltaTable.isDeltaTable(spark, path)).as("nothing appended yet").isFalse();

      spool.append();
      assertThat(commits).hasValue(1);
      assertThat(spoolFiles(dir)).isEmpty();
      assertThat(spool.pendingIds()).isEmpty();
      assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 100)).isEqualTo(4);
      assertThat(io.delta.tables.DeltaTable.forPath(spark, path).history().count()).isEqualTo(1);
      // microsecond timestamps, lists, nulls and doubles as they were
      assertThat(sorted(spark.read().format("delta").load(path)))
          .isEqualTo(sorted(rows(3).union(rows(4))));
    }
  }

  @Test
  void spooledTimestampsComeBackAtTheSameInstantInAnySessionTimeZone(@TempDir Path dir) throws Exception {
    String path = dir.resolve("features/user_recent_items").toUri().toString();
    String spoolDir = dir.resolve("checkpoint/offline-log-spool").toUri().toString();
    String zone = "spark.sql.session.timeZone";
    String before = spark.conf().get(zone);
    try (OfflineLogSpool spool = new OfflineLogSpool(spark, path, "q1", spoolDir, java.time.Duration.ofHours(1),
        1_000_000, () -> { })) {
      spool.recover(rows(0).schema(), -1, 5);
      // the lines carry the session's offset (+05:45, not whole hours); read back in another zone
      spark.conf().set(zone, "Asia/Kathmandu");
      spool.add(rows(5), 5);
      spark.conf().set(zone, "America/St_Johns");
      spool.append();
      spark.conf().set(zone, "UTC");
      assertThat(sorted(spark.read().format("delta").load(path))).isEqualTo(sorted(rows(5)));
    } finally {
      spark.conf().set(zone, before);
    }
  }

  @Test
  void recoveryAppendsWhatACrashedRunSpooledOnceAndDropsWhatSparkRunsAgain(@TempDir Path dir) throws Exception {
    String path = dir.resolve("features/user_recent_items").toUri().toString();
    String spoolDir = dir.resolve("checkpoint/offline-log-spool").toUri().toString();
    java.time.Duration never = java.time.Duration.ofHours(1);
    // the crashed run: batches 1 and 2 appended, then 2 spooled again (the delete after the commit did not
    // happen), 3 and 4 committed by Spark and spooled, 5 spooled but not committed by Spark
    OfflineLogSpool crashed = new OfflineLogSpool(spark, path, "q1", spoolDir, never, 1_000_000, () -> { });
    crashed.recover(rows(0).schema(), -1, 1);
    crashed.add(rows(1), 1);
    crashed.add(rows(2), 2);
    crashed.append();
    crashed.add(rows(2), 2);
    crashed.add(rows(3), 3);
    crashed.add(rows(4), 4);
    crashed.add(rows(5), 5);

    // the next run starts with batch 5, which Spark runs again
    try (OfflineLogSpool next = new OfflineLogSpool(spark, path, "q1", spoolDir, never, 1_000_000, () -> { })) {
      long last = OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 100);
      assertThat(last).isEqualTo(2);
      next.recover(rows(0).schema(), last, 5);
      assertThat(spoolFiles(dir)).isEmpty();
      assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 100)).isEqualTo(4);
      assertThat(sorted(spark.read().format("delta").load(path)))
          .isEqualTo(sorted(rows(1).union(rows(2)).union(rows(3)).union(rows(4))));
    }
  }

  @Test
  void aDamagedSpoolFileFailsTheAppendAndStays(@TempDir Path dir) throws Exception {
    java.time.Duration never = java.time.Duration.ofHours(1);
    Map<String, java.util.function.UnaryOperator<byte[]>> damages = Map.of(
        "a bit of a row flipped", b -> {
          b[b.length - 20] ^= 1;
          return b;
        },
        "cut short", b -> java.util.Arrays.copyOf(b, b.length - 30),
        "not a spool file", b -> "{\"user_id\": \"u1\"}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Map<String, String> says = Map.of("a bit of a row flipped", "is damaged (its CRC does not match its rows)",
        "cut short", "is damaged", "not a spool file", "is not an offline-log spool file");
    for (var damage : damages.entrySet()) {
      Path run = dir.resolve(damage.getKey().replace(' ', '-'));
      String path = run.resolve("features/user_recent_items").toUri().toString();
      Path spoolPath = run.resolve("checkpoint/offline-log-spool");
      OfflineLogSpool crashed = new OfflineLogSpool(spark, path, "q1", spoolPath.toUri().toString(), never,
          1_000_000, () -> { });
      crashed.recover(rows(0).schema(), -1, 6);
      crashed.add(rows(6), 6);
      crashed.add(rows(7), 7);
      Path seven = spoolPath.resolve(OfflineLogSpool.name(7));
      java.nio.file.Files.write(seven, damage.getValue().apply(java.nio.file.Files.readAllBytes(seven)));
      // the local file system's own checksum would catch it first: damage it where there is none (S3)
      java.nio.file.Files.deleteIfExists(spoolPath.resolve("." + OfflineLogSpool.name(7) + ".crc"));
      try (OfflineLogSpool next = new OfflineLogSpool(spark, path, "q1", spoolPath.toUri().toString(), never,
          1_000_000, () -> { })) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> next.recover(rows(0).schema(), -1, 9))
            .as(damage.getKey()).hasStackTraceContaining(OfflineLogSpool.name(7))
            .hasStackTraceContaining(says.get(damage.getKey()));
        assertThat(spoolFiles(run)).containsExactly(OfflineLogSpool.name(6), OfflineLogSpool.name(7));
        assertThat(io.delta.tables.DeltaTable.isDeltaTable(spark, path)).as(damage.getKey()).isFalse();
      }
    }
  }

  /**
   * An upgrade: the last run of the version before the binary spool left JSON lines, and a run of this version
   * (with one feature more) spooled a batch of its own before it crashed. The next run appends both in one commit.
   */
  @Test
  void jsonLinesOfAnEarlierVersionAndFilesOfAnotherSchemaAreAppendedTogether(@TempDir Path dir) throws Exception {
    String path = dir.resolve("features/user_recent_items").toUri().toString();
    Path spoolPath = dir.resolve("checkpoint/offline-log-spool");
    java.nio.file.Files.createDirectories(spoolPath);
    // as that version wrote them: to_json, timestamps to the microsecond with the session's offset
    List<String> lines = rows(1).select(org.apache.spark.sql.functions.to_json(
        org.apache.spark.sql.functions.struct(org.apache.spark.sql.functions.col("*")),
        Map.of("timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")))
        .as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
    org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> wider = rows(2).withColumn("score",
        org.apache.spark.sql.functions.col("views").multiply(0.5));
    java.time.Duration never = java.time.Duration.ofHours(1);
    OfflineLogSpool crashed = new OfflineLogSpool(spark, path, "q1", spoolPath.toUri().toString(), never, 1_000_000,
        () -> { });
    crashed.recover(wider.schema(), -1, 2);
    crashed.add(wider, 2);
    java.nio.file.Files.write(spoolPath.resolve(OfflineLogSpool.name(1, true)), lines);
    assertThat(spoolFiles(dir)).containsExactly(OfflineLogSpool.name(1, true), OfflineLogSpool.name(2));

    java.util.concurrent.atomic.AtomicInteger commits = new java.util.concurrent.atomic.AtomicInteger();
    try (OfflineLogSpool next = new OfflineLogSpool(spark, path, "q1", spoolPath.toUri().toString(), never,
        1_000_000, commits::incrementAndGet)) {
      next.recover(rows(0).schema(), -1, 3);
      assertThat(commits).hasValue(1);
      assertThat(spoolFiles(dir)).isEmpty();
      assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 100)).isEqualTo(2);
      var log = spark.read().format("delta").load(path);
      assertThat(log.columns()).contains("score");
      assertThat(sorted(log)).isEqualTo(sorted(rows(1).withColumn("score", org.apache.spark.sql.functions.lit(null)
          .cast("double")).union(wider)));
    }
  }

  @Test
  void theBackgroundThreadAppendsEveryIntervalAndCloseAppendsTheRest(@TempDir Path dir) throws Exception {
    String path = dir.resolve("features/user_recent_items").toUri().toString();
    String spoolDir = dir.resolve("checkpoint/offline-log-spool").toUri().toString();
    OfflineLogSpool spool = new OfflineLogSpool(spark, path, "q1", spoolDir, java.time.Duration.ofMillis(200),
        1_000_000, () -> { });
    spool.recover(rows(0).schema(), -1, 0);
    List<JobPools.Job> jobs;
    try (JobPools pools = JobPools.watch(spark)) {
      spool.add(rows(0), 0);
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
      while (!spool.pendingIds().isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      jobs = pools.jobs();
    }
    assertThat(spool.pendingIds()).as("appended by the spool's thread").isEmpty();
    // in the pool that leaves the task slots to the streams first
    assertThat(jobs).filteredOn(j -> j.description() != null && j.description().startsWith("offline log "))
        .isNotEmpty().allSatisfy(j -> assertThat(j.pool()).isEqualTo(SchedulerPools.BACKGROUND));
    assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 100)).isEqualTo(0);
    spool.add(rows(1), 1);
    spool.close();
    assertThat(OnlineBatchWriter.lastLoggedBatch(spark, path, "q1", 100)).isEqualTo(1);
    assertThat(spark.read().format("delta").load(path).count()).isEqualTo(rows(0).count() + rows(1).count());
    assertThat(spoolFiles(dir)).isEmpty();
  }

  @Test
  void theAppendIntervalIsASettingWithAClearErrorWhenWrong() {
    String key = "spark.recsys.online.offlineLogInterval";
    try {
      assertThat(OnlineFeaturesJob.offlineLogInterval(spark)).isEqualTo(java.time.Duration.ofSeconds(10));
      spark.conf().set(key, "0s");
      assertThat(OnlineFeaturesJob.offlineLogInterval(spark)).isZero();
      spark.conf().set(key, "2m");
      assertThat(OnlineFeaturesJob.offlineLogInterval(spark)).isEqualTo(java.time.Duration.ofMinutes(2));
      spark.conf().set(key, "often");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> OnlineFeaturesJob.offlineLogInterval(spark))
          .isInstanceOf(io.recsys.spark.UserError.class)
          .hasMessageContaining("'often'").hasMessageContaining(key).hasMessageContaining("0s (every micro-batch)");
    } finally {
      spark.conf().unset(key);
    }
  }

  /** Rows of an offline log, different per batch: strings, longs, doubles, lists, microseconds and nulls. */
  private org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> rows(long batch) {
    return spark.sql("SELECT concat('u', id) AS user_id, id * " + (batch + 1) + " AS views, "
        + "CASE WHEN id % 3 = 0 THEN NULL ELSE id / 7.0D END AS ratio, "
        + "array(concat('i', id), 'i" + batch + "') AS recent_items, "
        + "timestamp_micros(1796250000123456 + id * 1000001 + " + batch + ") AS event_timestamp, "
        + "CASE WHEN id % 4 = 0 THEN NULL ELSE timestamp_micros(1796250000000001 + " + batch + ") END "
        + "AS created_timestamp FROM range(" + (5 + batch) + ")");
  }

  private static java.util.List<String> sorted(org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> rows) {
    return rows.collectAsList().stream().map(Object::toString).sorted().toList();
  }

  private static java.util.List<String> spoolFiles(Path dir) throws java.io.IOException {
    Path spool = dir.resolve("checkpoint/offline-log-spool");
    if (!java.nio.file.Files.exists(spool)) {
      return java.util.List.of();
    }
    try (var files = java.nio.file.Files.list(spool)) {
      return files.map(f -> f.getFileName().toString()).filter(n -> OfflineLogSpool.batchOf(n) != null).sorted()
          .toList();
    }
  }

  private java.util.Map<String, String> properties(String path) {
    return io.delta.tables.DeltaTable.forPath(spark, path).detail().select("properties").first().getJavaMap(0);
  }

  private static java.util.List<Long> checkpointVersions(Path log) throws Exception {
    try (var files = java.nio.file.Files.list(log)) {
      return files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".checkpoint.parquet"))
          .map(n -> Long.parseLong(n.substring(0, n.indexOf('.')))).sorted().toList();
    }
  }

  private void append(String path, String appId, long batch) {
    var w = spark.range(3).toDF("n").write().format("delta").mode(SaveMode.Append);
    if (appId != null) {
      w = w.option("userMetadata", OnlineBatchWriter.MARKER + appId + " batch " + batch);
    }
    w.save(path);
  }
}
