package io.recsys.batch.silver;

import static io.recsys.batch.silver.BronzeRows.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.recsys.lake.LakeLayout;
import io.recsys.spark.SparkTestSession;
import io.recsys.spark.UserError;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SilverJob on a Delta lake on disk: idempotent per date, late data picked up, sessions across midnight. */
class SilverJobIT {

  static final SparkSession spark = SparkTestSession.get();
  static final LocalDate D = LocalDate.parse("2026-03-02");

  static SilverJob.Config config(LakeLayout lake, LocalDate from, LocalDate to) {
    return new SilverJob.Config(lake, from, to, Duration.ofMinutes(30), null);
  }

  static void appendBronze(LakeLayout lake, List<Row> rows) {
    BronzeRows.frame(spark, rows).write().format("delta").mode(SaveMode.Append).partitionBy("event_date")
        .save(lake.bronzeEvents());
  }

  static List<String> silver(LakeLayout lake) {
    return spark.read().format("delta").load(lake.silverEvents()).orderBy("event_id").collectAsList().stream()
        .map(Row::toString).toList();
  }

  @Test
  void aDateRunTwiceGivesTheSameTableAndLateEventsAreTakenOnTheNextRun(@TempDir Path dir) {
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    appendBronze(lake, List.of(
        // a session that starts before midnight and continues after it
        event("x1", "page_view", "u1", null, "i1", "2026-03-01T23:50:00Z", 1, "2026-03-01T23:50:01Z"),
        event("x2", "page_view", "u1", null, "i2", "2026-03-02T00:10:00Z", 2, "2026-03-02T00:10:01Z"),
        event("x3", "purchase", "u1", null, "i2", "2026-03-02T00:15:00Z", 3, "2026-03-02T00:15:01Z"),
        event("x3", "purchase", "u1", null, "i2", "2026-03-02T00:15:00Z", 9, "2026-03-02T00:20:00Z"),
        event("y1", "page_view", "u2", "s-7", "i5", "2026-03-02T08:00:00Z", 4, "2026-03-02T08:00:01Z"),
        event("z1", "page_view", "u3", null, "i5", "2026-03-03T08:00:00Z", 5, "2026-03-03T08:00:01Z")));

    SilverJob.Result first = SilverJob.run(spark, config(lake, D, D));
    assertThat(first.bronzeRows()).isEqualTo(4);
    assertThat(first.duplicatesDropped()).isEqualTo(1);
    assertThat(first.silverRows()).isEqualTo(3);
    List<String> once = silver(lake);
    assertThat(once).hasSize(3); // only D was written: x1 is the day before, z1 the day after
    Row x2 = spark.read().format("delta").load(lake.silverEvents()).filter("event_id = 'x2'").first();
    assertThat(x2.<String>getAs("session_id"))
        .isEqualTo("auto-u1-" + Instant.parse("2026-03-01T23:50:00Z").toEpochMilli());

    SilverJob.run(spark, config(lake, D, D));
    assertThat(silver(lake)).isEqualTo(once);

    // a late event for D lands in bronze; the next run replaces D's partition with it included
    appendBronze(lake, List.of(
        event("y2", "click", "u2", "s-7", "i5", "2026-03-02T08:01:00Z", 6, "2026-03-03T09:00:00Z")));
    SilverJob.run(spark, config(lake, D, D));
    assertThat(silver(lake)).hasSize(4);

    // the next date is added beside D, and D is untouched
    SilverJob.run(spark, config(lake, D.plusDays(1), D.plusDays(1)));
    assertThat(spark.read().format("delta").load(lake.silverEvents()).count()).isEqualTo(5);
  }

  @Test
  void aDateWithoutEventsSucceedsEmptyAndAMissingBronzeIsAClearError(@TempDir Path dir) {
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    assertThatThrownBy(() -> SilverJob.run(spark, config(lake, D, D)))
        .isInstanceOf(UserError.class).hasMessageContaining("No bronze.events table at");
    appendBronze(lake, List.of(
        event("a", "page_view", "u1", "s", "i1", "2026-03-02T10:00:00Z", 1, "2026-03-02T10:00:01Z")));
    SilverJob.Result r = SilverJob.run(spark, config(lake, LocalDate.parse("2026-04-01"),
        LocalDate.parse("2026-04-01")));
    assertThat(r.silverRows()).isZero();
    assertThat(spark.read().format("delta").load(lake.silverEvents()).count()).isZero();
  }
}
