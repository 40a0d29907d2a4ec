package io.recsys.batch.training;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.spark.SparkTestSession;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** The point-in-time join never uses a feature row from after the label, nor one older than the view's TTL. */
class PointInTimeTest {

  static final SparkSession spark = SparkTestSession.get();
  static final FeatureDefinitions DEFS = FeatureDefinitions.load();
  static final FeatureView ACTIVITY = DEFS.view("user_activity_1h"); // TTL 6h
  static final FeatureView ITEM = DEFS.view("item_views_1h");

  static Timestamp t(String iso) {
    return Timestamp.from(Instant.parse(iso));
  }

  static Dataset<Row> userLog(Object[]... rows) {
    StructType schema = new StructType().add("user_id", DataTypes.StringType)
        .add("event_timestamp", DataTypes.TimestampType).add("created_timestamp", DataTypes.TimestampType)
        .add("views", DataTypes.LongType).add("clicks", DataTypes.LongType).add("carts", DataTypes.LongType)
        .add("purchases", DataTypes.LongType);
    return spark.createDataFrame(java.util.Arrays.stream(rows).map(r -> RowFactory.create(r[0], t((String) r[1]),
        t((String) r[2]), r[3], 0L, 0L, 0L)).toList(), schema);
  }

  @Test
  void eachLabelGetsTheLatestRowAtOrBeforeItsTimeWithinTtlAndNothingLater() {
    Dataset<Row> log = userLog(
        new Object[] {"u1", "2026-03-02T09:50:00Z", "2026-03-02T09:50:05Z", 1L},
        new Object[] {"u1", "2026-03-02T10:00:00Z", "2026-03-02T10:00:05Z", 2L},
        // the same window updated by a later micro-batch: the later created_timestamp wins
        new Object[] {"u1", "2026-03-02T10:00:00Z", "2026-03-02T10:00:09Z", 20L},
        // after the first label: must never reach it
        new Object[] {"u1", "2026-03-02T10:05:00Z", "2026-03-02T10:05:05Z", 3L});
    StructType itemSchema = new StructType().add("item_id", DataTypes.StringType)
        .add("event_timestamp", DataTypes.TimestampType).add("created_timestamp", DataTypes.TimestampType)
        .add("views_1h", DataTypes.LongType);
    Dataset<Row> itemLog = spark.createDataFrame(List.of(
        RowFactory.create("i1", t("2026-03-02T09:00:00Z"), t("2026-03-02T09:00:01Z"), 40L)), itemSchema);
    StructType labelSchema = new StructType().add("event_id", DataTypes.StringType)
        .add("user_id", DataTypes.StringType).add("item_id", DataTypes.StringType)
        .add("event_time", DataTypes.TimestampType);
    Dataset<Row> labels = spark.createDataFrame(List.of(
        RowFactory.create("at-10:00", "u1", "i1", t("2026-03-02T10:00:00Z")),
        RowFactory.create("at-09:55", "u1", "i1", t("2026-03-02T09:55:00Z")),
        RowFactory.create("before-any", "u1", "i1", t("2026-03-02T09:00:00Z")),
        RowFactory.create("beyond-ttl", "u1", "i1", t("2026-03-02T17:00:00Z")), // 6h55 after 10:05
        RowFactory.create("no-rows", "u9", "i2", t("2026-03-02T10:00:00Z"))), labelSchema);

    List<Row> out = PointInTime.join(labels, "event_time", List.of(ACTIVITY, ITEM), DEFS.entities(),
        Map.of(ACTIVITY.name(), log, ITEM.name(), itemLog)).collectAsList();
    Map<String, Row> byId = out.stream().collect(Collectors.toMap(r -> r.getAs("event_id"), r -> r));

    assertThat(out).hasSize(5);
    assertThat(byId.get("at-10:00").<Long>getAs("user_activity_1h__views")).isEqualTo(20L);
    assertThat(byId.get("at-09:55").<Long>getAs("user_activity_1h__views")).isEqualTo(1L);
    assertThat(byId.get("before-any").<Long>getAs("user_activity_1h__views")).isNull();
    assertThat(byId.get("beyond-ttl").<Long>getAs("user_activity_1h__views")).isNull();
    assertThat(byId.get("no-rows").<Long>getAs("user_activity_1h__views")).isNull();
    assertThat(byId.get("at-10:00").<Long>getAs("item_views_1h__views_1h")).isEqualTo(40L);
    assertThat(byId.get("no-rows").<Long>getAs("item_views_1h__views_1h")).isNull();
    // no leakage: every feature row used is at or before its label
    for (Row r : out) {
      Timestamp label = r.getAs("event_time");
      for (String v : List.of("user_activity_1h", "item_views_1h")) {
        Timestamp used = r.getAs(v + "__event_timestamp");
        assertThat(used == null || !used.after(label)).as("%s for %s", v, r.<String>getAs("event_id")).isTrue();
      }
    }
  }
}
