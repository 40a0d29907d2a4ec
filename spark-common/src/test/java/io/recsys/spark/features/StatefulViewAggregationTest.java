package io.recsys.spark.features;

import static io.recsys.spark.features.FeatureAggregationsTest.ev;
import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.spark.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryProgress;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streaming job's engine against {@link FeatureAggregations}: the same rows for every streaming view of
 * features.yaml, on static frames and through a stream in micro-batches; late events dropped and counted; panes
 * dropped once the watermark passes them.
 */
class StatefulViewAggregationTest {

  static SparkSession spark;
  static FeatureDefinitions defs;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.get();
    TopK.register(spark);
    defs = FeatureDefinitions.load();
  }

  /** Events of 6 users over 3 hours and a midnight, every type, nulls, duplicate times, several sessions. */
  static List<Row> randomEvents(long seed, int n) {
    Random rnd = new Random(seed);
    String[] types = {"page_view", "page_view", "page_view", "click", "add_to_cart", "purchase", "search"};
    Instant t0 = Instant.parse("2026-03-01T22:10:00Z");
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String user = "u" + rnd.nextInt(6);
      String type = types[rnd.nextInt(types.length)];
      String item = type.equals("search") || rnd.nextInt(20) == 0 ? null : "i" + rnd.nextInt(12);
      String category = item == null ? null : "c" + rnd.nextInt(4);
      // seconds, with repeats, so ties in time occur
      Instant t = t0.plusSeconds(rnd.nextInt(3 * 3600) / 7 * 7);
      String session = rnd.nextInt(15) == 0 ? null : user + "-s" + (t.getEpochSecond() / 2400);
      Double price = type.equals("purchase") ? (rnd.nextInt(9000) + 100) / 100.0 : null;
      rows.add(RowFactory.create("e" + i, type, user, session, item, category, price, Timestamp.from(t)));
    }
    return rows;
  }

  static List<String> canonical(Dataset<Row> rows) {
    return rows.collectAsList().stream().map(Row::toString).sorted().collect(Collectors.toList());
  }

  @Test
  void staticFramesGiveFeatureAggregationsRowsForEveryStreamingView() {
    Dataset<Row> events = spark.createDataFrame(randomEvents(7, 1500), FeatureAggregationsTest.EVENTS);
    int compared = 0;
    for (FeatureView view : streamingViews()) {
      var entity = defs.entities().get(view.entity());
      List<String> expected = canonical(FeatureAggregations.compute(events, view, entity));
      List<String> actual = canonical(StatefulViewAggregation.compute(events, view, entity));
      assertThat(actual).as(view.name()).isNotEmpty().containsExactlyElementsOf(expected);
      compared++;
    }
    assertThat(compared).isEqualTo(8);
  }

  /** The job's query per entity: all of the entity's views in one operator, each with its own rows. */
  @Test
  void everyViewOfAnEntityInOneOperatorGivesEachViewsOwnRows() {
    Dataset<Row> events = spark.createDataFrame(randomEvents(8, 1200), FeatureAggregationsTest.EVENTS);
    for (String entityName : List.of("user", "item")) {
      var entity = defs.entities().get(entityName);
      List<FeatureView> views = streamingViews().stream().filter(v -> v.entity().equals(entityName)).toList();
      assertThat(views).hasSizeGreaterThan(1);
      Dataset<Row> all = StatefulViewAggregation.computeAll(events, views, entity).cache();
      for (int i = 0; i < views.size(); i++) {
        List<String> expected = canonical(FeatureAggregations.compute(events, views.get(i), entity));
        List<String> actual = canonical(StatefulViewAggregation.rowsOf(all, views, entity, i));
        assertThat(actual).as(views.get(i).name()).isNotEmpty().containsExactlyElementsOf(expected);
      }
      all.unpersist();
    }
  }

  static List<FeatureView> streamingViews() {
    return defs.views().values().stream().filter(v -> v.schedule() == FeatureView.Schedule.STREAMING).toList();
  }

  @Test
  void theSmallCasesOfFeatureAggregationsTest() {
    Dataset<Row> events = spark.createDataFrame(List.of(
        ev("e1", "page_view", "u1", "i1", "c1", "2026-03-01T10:00:30Z"),
        ev("e2", "click", "u1", "i1", "c1", "2026-03-01T10:02:10Z"),
        ev("e3", "page_view", "u1", "i2", "c1", "2026-03-01T10:04:59Z"),
        ev("e4", "purchase", "u1", "i2", "c1", "2026-03-01T10:06:00Z")), FeatureAggregationsTest.EVENTS);
    FeatureView v = defs.view("user_activity_5m");
    Dataset<Row> out = StatefulViewAggregation.compute(events, v, defs.entities().get("user"));
    Row u1 = FeatureAggregationsTest.latest(out, "user_id", "u1");
    assertThat(u1.getTimestamp(u1.fieldIndex("window_start"))).isEqualTo(Timestamp.from(Instant.parse("2026-03-01T10:02:00Z")));
    assertThat(u1.getLong(u1.fieldIndex("views"))).isEqualTo(1);
    assertThat(u1.getLong(u1.fieldIndex("clicks"))).isEqualTo(1);
    assertThat(u1.getLong(u1.fieldIndex("purchases"))).isEqualTo(1);
    assertThat(out.count()).isEqualTo(4);
  }

  /**
   * A stream of the random events in micro-batches, in time order, three views in one operator: each entity's
   * last row of each view equals the batch recomputation's.
   */
  @Test
  void aStreamInMicroBatchesEndsWithTheBatchValues(@TempDir Path dir) throws Exception {
    spark.conf().set("spark.sql.streaming.stateStore.providerClass",
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider");
    List<Row> all = new ArrayList<>(randomEvents(11, 900));
    all.sort((a, b) -> a.getTimestamp(7).compareTo(b.getTimestamp(7)));
    Path in = Files.createDirectories(dir.resolve("in"));
    List<FeatureView> views = List.of(defs.view("user_interests_1h"), defs.view("user_recent_items"),
        defs.view("user_session"));
    var entity = defs.entities().get("user");
    Dataset<Row> stream = spark.readStream().schema(FeatureAggregationsTest.EVENTS).json(in.toString())
        .withWatermark("event_time", "4 hours");
    StreamingQuery q = StatefulViewAggregation.computeAll(stream, views, entity)
        .writeStream().format("memory").queryName("tws_batches").outputMode(OutputMode.Update())
        .option("checkpointLocation", dir.resolve("cp").toString()).start();
    try {
      // three micro-batches, cut where the time changes (a window emitted twice at the same event time could
      // not be told apart in the memory sink)
      int from = 0;
      for (int b = 1; b <= 3; b++) {
        int to = b == 3 ? all.size() : b * 300;
        while (to < all.size() && all.get(to).getTimestamp(7).equals(all.get(to - 1).getTimestamp(7))) {
          to++;
        }
        write(in.resolve(b + ".json"), all.subList(from, to));
        q.processAllAvailable();
        from = to;
      }
    } finally {
      q.stop();
    }
    Dataset<Row> events = spark.createDataFrame(all, FeatureAggregationsTest.EVENTS);
    Dataset<Row> emitted = spark.sql("select * from tws_batches");
    for (int i = 0; i < views.size(); i++) {
      List<String> expected = canonical(latestPerEntity(FeatureAggregations.compute(events, views.get(i), entity),
          "user_id"));
      List<String> actual = canonical(latestPerEntity(StatefulViewAggregation.rowsOf(emitted, views, entity, i),
          "user_id"));
      assertThat(actual).as(views.get(i).name()).hasSize(6).containsExactlyElementsOf(expected);
    }
  }

  @Test
  void lateEventsAreDroppedAndCountedOnceAndOldPanesLeaveTheState(@TempDir Path dir) throws Exception {
    spark.conf().set("spark.sql.streaming.stateStore.providerClass",
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider");
    Path in = Files.createDirectories(dir.resolve("in"));
    Dataset<Row> stream = spark.readStream().schema(FeatureAggregationsTest.EVENTS).json(in.toString())
        .withWatermark("event_time", "10 minutes");
    FeatureView view = defs.view("user_activity_5m");
    StreamingQuery q = StatefulViewAggregation.compute(stream, view, defs.entities().get("user"))
        .writeStream().format("memory").queryName("tws_late").outputMode(OutputMode.Update())
        .option("checkpointLocation", dir.resolve("cp").toString()).start();
    try {
      write(in.resolve("1.json"), List.of(ev("e1", "page_view", "u1", "i1", "c", "2026-03-01T12:00:00Z"),
          ev("e0", "page_view", "u2", "i1", "c", "2026-03-01T11:59:00Z")));
      q.processAllAvailable();
      // the watermark is now 11:50; an event at 10:00 is beyond it, one at 11:58 is not
      write(in.resolve("2.json"), List.of(
          ev("e2", "page_view", "u1", "i1", "c", "2026-03-01T10:00:00Z"),
          ev("e3", "click", "u1", "i1", "c", "2026-03-01T11:58:00Z")));
      q.processAllAvailable();
      List<Row> emitted = spark.sql("select * from tws_late").collectAsList();
      assertThat(emitted).noneMatch(r -> r.getTimestamp(r.fieldIndex("event_timestamp")).toInstant()
          .isBefore(Instant.parse("2026-03-01T11:00:00Z")));
      // the window whose last minute holds 11:58: [11:54, 11:59) has the click; 12:00's [11:56, 12:01) both
      assertThat(emitted).anyMatch(r -> r.getLong(r.fieldIndex("clicks")) == 1 && r.getLong(r.fieldIndex("views")) == 0
          && r.getTimestamp(r.fieldIndex("window_end")).toInstant().equals(Instant.parse("2026-03-01T11:59:00Z")));
      assertThat(emitted).anyMatch(r -> r.getLong(r.fieldIndex("clicks")) == 1 && r.getLong(r.fieldIndex("views")) == 1
          && r.getTimestamp(r.fieldIndex("window_end")).toInstant().equals(Instant.parse("2026-03-01T12:01:00Z")));
      assertThat(dropped(q)).isEqualTo(1);
      assertThat(stateRows(q)).isEqualTo(3); // u1's panes 11:58 and 12:00, u2's 11:59

      // an hour later: the watermark passes the end of every window holding those panes
      write(in.resolve("3.json"), List.of(ev("e4", "page_view", "u3", "i1", "c", "2026-03-01T13:30:00Z")));
      q.processAllAvailable();
      write(in.resolve("4.json"), List.of(ev("e5", "page_view", "u3", "i1", "c", "2026-03-01T13:31:00Z")));
      q.processAllAvailable();
      assertThat(stateRows(q)).isEqualTo(2); // u3's two panes
    } finally {
      q.stop();
    }
  }

  /** Rows of the operator's state (its panes) in the last progress. */
  private static long stateRows(StreamingQuery q) {
    StreamingQueryProgress p = q.lastProgress();
    long panes = 0;
    for (var op : p.stateOperators()) {
      panes += op.numRowsTotal();
    }
    return panes;
  }

  private static long dropped(StreamingQuery q) {
    long dropped = 0;
    for (var p : q.recentProgress()) {
      for (var op : p.stateOperators()) {
        dropped += op.numRowsDroppedByWatermark();
      }
    }
    return dropped;
  }

  static Dataset<Row> latestPerEntity(Dataset<Row> rows, String key) {
    rows.createOrReplaceTempView("latest_rows");
    return rows.sparkSession().sql("select * from (select *, row_number() over (partition by " + key
        + " order by event_timestamp desc, window_end desc) as rn from latest_rows) where rn = 1").drop("rn");
  }

  private static void write(Path file, List<Row> rows) throws Exception {
    StructType s = FeatureAggregationsTest.EVENTS;
    List<String> lines = new ArrayList<>(spark.createDataFrame(rows, s).toJSON().collectAsList());
    Files.write(file, lines);
  }
}
