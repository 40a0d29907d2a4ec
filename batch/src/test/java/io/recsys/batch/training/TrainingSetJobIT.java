package io.recsys.batch.training;

import static io.recsys.batch.silver.BronzeRows.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.batch.silver.BronzeRows;
import io.recsys.batch.silver.SilverJob;
import io.recsys.features.FeatureDefinitions;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.SparkTestSession;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A training set from silver labels and an offline log on disk, rebuilt as of an earlier log version. */
class TrainingSetJobIT {

  static final SparkSession spark = SparkTestSession.get();
  static final FeatureDefinitions DEFS = FeatureDefinitions.load();
  static final LocalDate D = LocalDate.parse("2026-03-02");

  @Test
  void labelsGetPointInTimeFeaturesAndTimeTravelRebuildsAnOlderSet(@TempDir Path dir) throws Exception {
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    BronzeRows.frame(spark, List.of(
            event("p1", "purchase", "u1", "s1", "i1", "2026-03-02T10:30:00Z", 1, "2026-03-02T10:30:01Z"),
            event("v1", "page_view", "u1", "s1", "i1", "2026-03-02T10:00:00Z", 2, "2026-03-02T10:00:01Z")))
        .write().format("delta").mode(SaveMode.Append).partitionBy("event_date").save(lake.bronzeEvents());
    SilverJob.run(spark, new SilverJob.Config(lake, D, D, Duration.ofMinutes(30), null));

    String log = lake.features("user_activity_1h");
    writeLog(log, 5L);
    Thread.sleep(1500);
    Instant between = Instant.now();
    Thread.sleep(1500);
    writeLog(log, 7L); // a backfill rewrote the history

    TrainingSetJob.Config now = new TrainingSetJob.Config(lake, D, D, List.of("purchase"), DEFS,
        List.of(DEFS.view("user_activity_1h")), "t-now", null, null);
    assertThat(TrainingSetJob.run(spark, now)).isEqualTo(1);
    assertThat(spark.read().format("delta").load(TrainingSetJob.output(now)).first()
        .<Long>getAs("user_activity_1h__views")).isEqualTo(7L);

    TrainingSetJob.Config then = new TrainingSetJob.Config(lake, D, D, List.of("purchase"), DEFS,
        List.of(DEFS.view("user_activity_1h")), "t-then", between, null);
    TrainingSetJob.run(spark, then);
    assertThat(spark.read().format("delta").load(TrainingSetJob.output(then)).first()
        .<Long>getAs("user_activity_1h__views")).isEqualTo(5L);
  }

  static void writeLog(String path, long views) {
    spark.sql("select 'u1' as user_id, timestamp'2026-03-02 09:00:00' as window_start, "
            + "timestamp'2026-03-02 10:05:00' as window_end, timestamp'2026-03-02 10:00:00' as event_timestamp, "
            + "cast(" + views + " as bigint) as views, 0L as clicks, 0L as carts, 0L as purchases, "
            + "current_timestamp() as created_timestamp")
        .write().format("delta").mode(SaveMode.Overwrite).save(path);
  }
}
