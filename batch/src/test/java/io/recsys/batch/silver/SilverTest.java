package io.recsys.batch.silver;

import static io.recsys.batch.silver.BronzeRows.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.spark.SparkTestSession;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

class SilverTest {

  static final SparkSession spark = SparkTestSession.get();

  @Test
  void keepsTheFirstLandedCopyOfEachEventId() {
    List<Row> out = Silver.deduplicate(BronzeRows.frame(spark, List.of(
        event("e1", "page_view", "u1", "s1", "i1", "2026-03-01T10:00:00Z", 7, "2026-03-01T10:00:05Z"),
        event("e1", "page_view", "u1", "s1", "i1", "2026-03-01T10:00:00Z", 3, "2026-03-01T10:00:01Z"),
        event("e2", "click", "u1", "s1", "i1", "2026-03-01T10:00:10Z", 8, "2026-03-01T10:00:11Z"))))
        .collectAsList();
    assertThat(out).hasSize(2);
    assertThat(BronzeRows.byId(out).get("e1").<Long>getAs("kafka_offset")).isEqualTo(3L);
  }

  @Test
  void missingSessionsComeFromTheTrackerOrAreGeneratedPerInactivityGap() {
    List<Row> out = Silver.build(BronzeRows.frame(spark, List.of(
        // u1: no tracker ids; 10:00 and 10:25 are one visit, 11:00 (35 min later) starts another
        event("a1", "page_view", "u1", null, "i1", "2026-03-01T10:00:00Z", 1, "2026-03-01T10:00:01Z"),
        event("a2", "click", "u1", null, "i1", "2026-03-01T10:25:00Z", 2, "2026-03-01T10:25:01Z"),
        event("a3", "page_view", "u1", null, "i2", "2026-03-01T11:00:00Z", 3, "2026-03-01T11:00:01Z"),
        // u2: a server-side purchase without session_id, 5 minutes after a tracked page view
        event("b1", "page_view", "u2", "trk-9", "i3", "2026-03-01T10:00:00Z", 4, "2026-03-01T10:00:01Z"),
        event("b2", "purchase", "u2", null, "i3", "2026-03-01T10:05:00Z", 5, "2026-03-01T10:05:01Z"))),
        Duration.ofMinutes(30)).collectAsList();
    Map<String, Row> byId = BronzeRows.byId(out);
    long start = Instant.parse("2026-03-01T10:00:00Z").toEpochMilli();
    long second = Instant.parse("2026-03-01T11:00:00Z").toEpochMilli();
    assertThat(byId.get("a1").<String>getAs("session_id")).isEqualTo("auto-u1-" + start);
    assertThat(byId.get("a2").<String>getAs("session_id")).isEqualTo("auto-u1-" + start);
    assertThat(byId.get("a3").<String>getAs("session_id")).isEqualTo("auto-u1-" + second);
    assertThat(byId.get("b1").<String>getAs("session_id")).isEqualTo("trk-9");
    assertThat(byId.get("b1").<Boolean>getAs("session_inferred")).isFalse();
    assertThat(byId.get("b2").<String>getAs("session_id")).isEqualTo("trk-9");
    assertThat(byId.get("b2").<Boolean>getAs("session_inferred")).isTrue();
    assertThat(out.get(0).schema().fieldNames()).containsExactlyElementsOf(Silver.COLUMNS);
  }
}
