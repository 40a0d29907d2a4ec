package io.recsys.spark.features;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.spark.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The views of features.yaml compiled to Spark, on small in-memory frames: windows, slides, sessions, late data. */
class FeatureAggregationsTest {

  static final StructType EVENTS = new StructType()
      .add("event_id", DataTypes.StringType).add("event_type", DataTypes.StringType)
      .add("user_id", DataTypes.StringType).add("session_id", DataTypes.StringType)
      .add("item_id", DataTypes.StringType)
      .add("category", DataTypes.StringType).add("price", DataTypes.DoubleType)
      .add("event_time", DataTypes.TimestampType);

  static SparkSession spark;
  static FeatureDefinitions defs;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.get();
    TopK.register(spark);
    defs = FeatureDefinitions.load();
  }

  static Row ev(String id, String type, String user, String item, String category, String time) {
    return ev(id, type, user, item, category, time, "s-" + user);
  }

  static Row ev(String id, String type, String user, String item, String category, String time, String session) {
    return RowFactory.create(id, type, user, session, item, category, null, Timestamp.from(Instant.parse(time)));
  }

  static Dataset<Row> frame(Row... rows) {
    return spark.createDataFrame(List.of(rows), EVENTS);
  }

  /** The entity's online value after all the events: its row with the latest event_timestamp. */
  static Row latest(Dataset<Row> out, String keyColumn, String key) {
    return out.filter(out.col(keyColumn).equalTo(key)).collectAsList().stream()
        .max(Comparator.comparing(r -> r.getTimestamp(r.fieldIndex("event_timestamp")))).orElseThrow();
  }

  Dataset<Row> compute(String view, Dataset<Row> events) {
    FeatureView v = defs.view(view);
    return FeatureAggregations.compute(events, v, defs.entities().get(v.entity()));
  }

  @Test
  void slidingCountsCoverTheWindowBeforeTheLatestEvent() {
    Dataset<Row> events = frame(
        ev("e1", "page_view", "u1", "i1", "c1", "2026-03-01T10:00:30Z"),
        ev("e2", "click", "u1", "i1", "c1", "2026-03-01T10:02:10Z"),
        ev("e3", "page_view", "u1", "i2", "c1", "2026-03-01T10:04:59Z"),
        ev("e4", "purchase", "u1", "i2", "c1", "2026-03-01T10:06:00Z"),
        ev("e5", "page_view", "u2", "i9", "c2", "2026-03-01T10:06:00Z"));
    Dataset<Row> out = compute("user_activity_5m", events);
    Row u1 = latest(out, "user_id", "u1");
    // 5m window sliding by 1m whose last minute holds 10:06:00: [10:02, 10:07) -> e2, e3, e4
    assertThat(u1.getTimestamp(u1.fieldIndex("window_start"))).isEqualTo(Timestamp.from(Instant.parse("2026-03-01T10:02:00Z")));
    assertThat(u1.getLong(u1.fieldIndex("views"))).isEqualTo(1);
    assertThat(u1.getLong(u1.fieldIndex("clicks"))).isEqualTo(1);
    assertThat(u1.getLong(u1.fieldIndex("purchases"))).isEqualTo(1);
    assertThat(u1.getLong(u1.fieldIndex("carts"))).isZero();
    assertThat(u1.getTimestamp(u1.fieldIndex("event_timestamp"))).isEqualTo(Timestamp.from(Instant.parse("2026-03-01T10:06:00Z")));
    // every emitted row is a window whose last slide holds its latest event: one per (entity, minute with events)
    assertThat(out.filter("user_id = 'u1'").count()).isEqualTo(4);
    Row u2 = latest(out, "user_id", "u2");
    assertThat(u2.getLong(u2.fieldIndex("views"))).isEqualTo(1);
  }

  @Test
  void distinctItemsTopCategoriesAndLastItems() {
    Dataset<Row> events = frame(
        ev("e1", "page_view", "u1", "i1", "shoes", "2026-03-01T10:00:00Z"),
        ev("e2", "page_view", "u1", "i2", "hats", "2026-03-01T10:01:00Z"),
        ev("e3", "click", "u1", "i2", "hats", "2026-03-01T10:02:00Z"),
        ev("e4", "page_view", "u1", "i3", "bags", "2026-03-01T10:03:00Z"),
        ev("e5", "page_view", "u1", "i1", "shoes", "2026-03-01T10:04:00Z"),
        ev("e6", "search", "u1", null, null, "2026-03-01T10:04:30Z"),
        ev("e7", "purchase", "u1", "i3", "bags", "2026-03-01T10:05:00Z"));
    Row interests = latest(compute("user_interests_1h", events), "user_id", "u1");
    assertThat(interests.getLong(interests.fieldIndex("distinct_items"))).isEqualTo(3);
    // bags 2, hats 2, shoes 2: ties by name
    assertThat(interests.getList(interests.fieldIndex("top_categories"))).containsExactly("bags", "hats", "shoes");
    Row recent = latest(compute("user_recent_items", events), "user_id", "u1");
    // page views only, newest first, each item once at its latest view
    assertThat(recent.getList(recent.fieldIndex("last_viewed_items"))).containsExactly("i1", "i3", "i2");
    // and, in the same view, purchases only
    assertThat(recent.getList(recent.fieldIndex("last_purchased_items"))).containsExactly("i3");
  }

  @Test
  void sessionsAndConversionRatio() {
    Dataset<Row> events = frame(
        ev("e1", "page_view", "u1", "i1", "c", "2026-03-01T10:00:00Z", "s1"),
        ev("e2", "page_view", "u1", "i1", "c", "2026-03-01T10:20:00Z", "s1"),
        ev("e3", "purchase", "u1", "i1", "c", "2026-03-01T10:25:00Z", "s1"),
        // the tracker started a new session
        ev("e4", "page_view", "u1", "i2", "c", "2026-03-01T10:56:00Z", "s2"),
        ev("e5", "page_view", "u1", "i2", "c", "2026-03-01T10:58:30Z", "s2"),
        ev("e6", "page_view", "u1", "i2", "c", "2026-03-01T10:59:00Z", null));
    Dataset<Row> sessions = compute("user_session", events);
    assertThat(sessions.count()).isEqualTo(2);
    Row current = latest(sessions, "user_id", "u1");
    assertThat(current.getLong(current.fieldIndex("session_events"))).isEqualTo(2);
    assertThat(current.getLong(current.fieldIndex("session_duration_seconds"))).isEqualTo(150);
    assertThat(current.getTimestamp(current.fieldIndex("window_end")))
        .isEqualTo(Timestamp.from(Instant.parse("2026-03-01T11:28:30Z")));

    Dataset<Row> pop = compute("item_popularity", events);
    Row i1 = latest(pop, "item_id", "i1");
    assertThat(i1.getLong(i1.fieldIndex("views_24h"))).isEqualTo(2);
    assertThat(i1.getLong(i1.fieldIndex("purchases_24h"))).isEqualTo(1);
    assertThat(i1.getDouble(i1.fieldIndex("conversion_24h"))).isEqualTo(0.5);
    Row i2 = latest(pop, "item_id", "i2");
    assertThat(i2.getDouble(i2.fieldIndex("conversion_24h"))).isZero();
    assertThat(i2.getLong(i2.fieldIndex("views_24h"))).isEqualTo(3);
  }

  @Test
  void watermarkDropsEventsLaterThanTheAllowedLatenessAndCountsThem(@TempDir Path dir) throws Exception {
    Path in = Files.createDirectories(dir.resolve("in"));
    Dataset<Row> stream = spark.readStream().schema(EVENTS).json(in.toString())
        .withWatermark("event_time", "10 minutes");
    FeatureView view = defs.view("user_activity_5m");
    StreamingQuery q = FeatureAggregations.compute(stream, view, defs.entities().get("user"))
        .writeStream().format("memory").queryName("agg_late").outputMode(OutputMode.Update())
        .option("checkpointLocation", dir.resolve("cp").toString()).start();
    try {
      write(in.resolve("1.json"), frame(ev("e1", "page_view", "u1", "i1", "c", "2026-03-01T12:00:00Z")));
      q.processAllAvailable();
      // the watermark is now 11:50; an event at 10:00 is beyond it, one at 11:58 is not
      write(in.resolve("2.json"), frame(
          ev("e2", "page_view", "u1", "i1", "c", "2026-03-01T10:00:00Z"),
          ev("e3", "click", "u1", "i1", "c", "2026-03-01T11:58:00Z")));
      q.processAllAvailable();
      List<Row> emitted = spark.sql("select * from agg_late").collectAsList();
      assertThat(emitted).noneMatch(r -> r.getTimestamp(r.fieldIndex("event_timestamp")).toInstant()
          .isBefore(Instant.parse("2026-03-01T11:00:00Z")));
      assertThat(emitted).anyMatch(r -> r.getLong(r.fieldIndex("clicks")) == 1 && r.getLong(r.fieldIndex("views")) == 1);
      long dropped = 0;
      for (var p : q.recentProgress()) {
        for (var op : p.stateOperators()) {
          dropped += op.numRowsDroppedByWatermark();
        }
      }
      // the late event's five 5-minute windows (slide 1m) were all closed
      assertThat(dropped).isEqualTo(5);
    } finally {
      q.stop();
    }
  }

  private static void write(Path file, Dataset<Row> rows) throws Exception {
    List<String> lines = new ArrayList<>(rows.toJSON().collectAsList());
    Files.write(file, lines);
  }
}
