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
 * ({@link OnlineBatchWriter#lastLoggedBatch}); the replay of a committed batch is in OnlineFeaturesIT.
 */
class OnlineLogMarkerTest {

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

  private void append(String path, String appId, long batch) {
    var w = spark.range(3).toDF("n").write().format("delta").mode(SaveMode.Append);
    if (appId != null) {
      w = w.option("userMetadata", OnlineBatchWriter.MARKER + appId + " batch " + batch);
    }
    w.save(path);
  }
}
