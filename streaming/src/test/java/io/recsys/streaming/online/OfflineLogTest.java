package io.recsys.streaming.online;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.spark.SparkTestSession;
import java.nio.file.Path;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The offline log's exactly-once rests on finding a query's newest batch marker in the table's history
 * ({@link OnlineBatchWriter#lastLoggedBatch}; the replay of a committed batch is in OnlineFeaturesIT), and its
 * Delta log checkpoints are written beside the stream ({@link OfflineLogCheckpoints}).
 */
class OfflineLogTest {

  final SparkSession spark = SparkTestSession.get();

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
