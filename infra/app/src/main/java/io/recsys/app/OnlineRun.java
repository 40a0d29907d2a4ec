package io.recsys.app;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.max;

import dev.feast.FeastClient;
import io.recsys.feast.FeastValueCodec;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.lake.LakeLayout;
import io.recsys.serving.FeatureServer;
import io.recsys.serving.OnlineFeatureClient;
import io.recsys.serving.OnlineFeatureClient.FeatureValue;
import io.recsys.streaming.common.SupervisedQuery;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.spark.UserError;
import io.recsys.streaming.metrics.StreamMetrics;
import io.recsys.streaming.online.OnlineFeaturesConfig;
import io.recsys.streaming.online.OnlineFeaturesJob;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQueryListener;

/** The demo's online part: the online-features job beside bronze, then one user's features read back. */
final class OnlineRun {

  /** Views whose feature names are distinct, so Feast's client (short names only) can ask for all at once. */
  private static final List<String> FEAST_CLIENT_VIEWS =
      List.of("user_activity_1h", "user_interests_1h", "user_recent_items", "user_session");

  private final SparkSession spark;
  private final OnlineFeaturesConfig config;
  private final StreamMetrics metrics;
  private final List<SupervisedQuery> queries;
  /** Kafka records read so far, per query name. */
  private final Map<String, Long> counts;
  private final StreamingQueryListener counter;

  private OnlineRun(SparkSession spark, OnlineFeaturesConfig config, StreamMetrics metrics, Map<String, Long> counts,
      StreamingQueryListener counter) throws TimeoutException {
    this.spark = spark;
    this.config = config;
    this.metrics = metrics;
    this.counts = counts;
    this.counter = counter;
    this.queries = OnlineFeaturesJob.run(spark, config, metrics);
  }

  static OnlineRun start(SparkSession spark, LakeLayout lake, String bootstrap, String redis)
      throws TimeoutException {
    Map<String, Long> rows = new ConcurrentHashMap<>();
    StreamingQueryListener counter = new StreamingQueryListener() {
      @Override
      public void onQueryStarted(QueryStartedEvent event) {}

      @Override
      public void onQueryProgress(QueryProgressEvent event) {
        rows.merge(event.progress().name(), event.progress().numInputRows(), Long::sum);
      }

      @Override
      public void onQueryTerminated(QueryTerminatedEvent event) {}
    };
    spark.streams().addListener(counter);
    // Few, large micro-batches: each costs a Delta commit per view. Not larger than 50,000 records, though: a
    // batch whose rows overflow the offline log's spool (100,000 rows by default) is computed twice.
    OnlineFeaturesConfig config = OnlineFeaturesConfig.defaults(lake.root(), bootstrap, redis)
        .withTrigger(TriggerSpec.parse("5s")).withMaxOffsetsPerTrigger(50_000);
    return new OnlineRun(spark, config, new StreamMetrics("online-features"), rows, counter);
  }

  /** Waits until every view's query has read all {@code sent} records, printing progress; then stops them. */
  void awaitCaughtUp(long sent) throws Exception {
    List<String> entities = new ArrayList<>(config.viewsByEntity().keySet());
    System.out.printf("      waiting for the online-features job (%d views, one query per entity: %s) to catch up...%n",
        config.views().size(), String.join(", ", entities));
    long start = System.currentTimeMillis();
    long lastPrint = start;
    while (true) {
      for (SupervisedQuery q : queries) {
        if (q.failure() != null) {
          throw UserError.of("The online-features job failed: " + q.failure().getMessage(), "See the log above");
        }
      }
      long behind = entities.stream()
          .filter(e -> counts.getOrDefault(OnlineFeaturesConfig.queryName(e), 0L) < sent).count();
      if (behind == 0) {
        break;
      }
      if (System.currentTimeMillis() - start > Duration.ofMinutes(20).toMillis()) {
        throw UserError.of("The online-features job did not catch up within 20 minutes", "See the log above");
      }
      if (System.currentTimeMillis() - lastPrint > 15_000) {
        lastPrint = System.currentTimeMillis();
        System.out.printf("      online features: %d of %d queries caught up (%.0f s)%n",
            entities.size() - behind, entities.size(), (lastPrint - start) / 1000.0);
      }
      Thread.sleep(250);
    }
    for (SupervisedQuery q : queries) {
      q.stop();
    }
    spark.streams().removeListener(counter);
    System.out.printf("      online features caught up in %.1f s after the replay ended%n",
        (System.currentTimeMillis() - start) / 1000.0);
  }

  /**
   * Rows written to Redis, rows not written because Redis held a later {@code _ts} for the entity, and rows appended
   * to the offline log (every row the job made), per view.
   */
  void printOfflineLog(SparkSession spark) {
    System.out.println("      online store and offline log, per view:");
    for (FeatureView view : config.views()) {
      String path = config.lake().features(view.name());
      long logRows = io.delta.tables.DeltaTable.isDeltaTable(spark, path)
          ? spark.read().format("delta").load(path).count() : 0;
      System.out.printf("        %-18s %,7.0f rows written to Redis, %,4.0f skipped (Redis held newer)"
          + "   features.%s: %,d rows%n", view.name(), metrics.onlineWrittenTotal(view.name()),
          metrics.onlineStaleTotal(view.name()), view.name(), logRows);
    }
    metrics.close();
  }

  /** The most active user of the last hour of event time, read through both clients. */
  /** Returns the user shown, or null when bronze is empty. */
  String printSampleUser(SparkSession spark, LakeLayout lake) throws Exception {
    var events = spark.read().format("delta").load(lake.bronzeEvents());
    Row latest = events.agg(max("event_time")).first();
    if (latest.isNullAt(0)) {
      System.out.println("      no events in bronze; nothing to show");
      return null;
    }
    java.sql.Timestamp end = latest.getTimestamp(0);
    Row top = events.filter(col("event_time").geq(new java.sql.Timestamp(end.getTime() - 3_600_000L)))
        .groupBy("user_id").agg(count("*").as("n")).orderBy(col("n").desc(), col("user_id")).first();
    String user = top.getString(0);
    FeatureDefinitions defs = config.definitions();
    List<String> userViews = config.views().stream().filter(v -> v.entity().equals("user"))
        .map(FeatureView::name).toList();

    System.out.printf("      user %s (%d events in the last hour of event time, which ends %s)%n", user,
        top.getLong(1), end.toInstant());
    Map<String, FeatureValue> ours;
    try (OnlineFeatureClient client = new OnlineFeatureClient(config.redis(), defs)) {
      ours = client.get(List.of(user), client.refsOf(userViews.toArray(String[]::new))).get(0);
    }
    System.out.println();
    System.out.println("      through io.recsys.serving.OnlineFeatureClient (Redis, one round trip):");
    for (var e : ours.entrySet()) {
      FeatureValue v = e.getValue();
      System.out.printf("        %-42s %-28s %s%s%n", e.getKey(), v.value() == null ? "-" : v.value(), v.status(),
          v.eventTime() == null ? "" : "  @ " + v.eventTime());
    }

    List<String> feastRefs = new ArrayList<>();
    for (String view : FEAST_CLIENT_VIEWS) {
      defs.view(view).features().forEach(f -> feastRefs.add(view + ":" + f.name()));
    }
    try (FeatureServer server = FeatureServer.start(config.redis(), defs, 0);
        FeastClient feast = FeastClient.create("127.0.0.1", server.port())) {
      List<dev.feast.Row> request = List.of(dev.feast.Row.create().set("user_id", user));
      long t0 = System.nanoTime();
      feast.getOnlineFeatures(feastRefs, request); // the first call also connects and warms up
      double firstMs = (System.nanoTime() - t0) / 1e6;
      t0 = System.nanoTime();
      dev.feast.Row row = feast.getOnlineFeatures(feastRefs, request).get(0);
      double ms = (System.nanoTime() - t0) / 1e6;
      System.out.println();
      System.out.printf("      through dev.feast.FeastClient 0.38.0 -> our gRPC feature server on :%d "
          + "(first call %.1f ms with connection set-up, second %.1f ms):%n", server.port(), firstMs, ms);
      int agree = 0;
      Map<String, String> differ = new LinkedHashMap<>();
      for (String ref : feastRefs) {
        String name = ref.substring(ref.indexOf(':') + 1);
        Object value = row.getFields().containsKey(name) ? FeastValueCodec.toJava(row.getFields().get(name)) : null;
        String status = String.valueOf(row.getStatus(name));
        System.out.printf("        %-42s %-28s %s%n", name, value == null ? "-" : value, status);
        FeatureValue mine = ours.get(ref);
        boolean same = mine.status().name().equals(status) || mine.status() == OnlineFeatureClient.Status.PRESENT
            && "NULL_VALUE".equals(status);
        if (same && (mine.status() != OnlineFeatureClient.Status.PRESENT || Objects.equals(mine.value(), value))) {
          agree++;
        } else {
          differ.put(ref, mine.value() + " vs " + value);
        }
      }
      System.out.printf("      both clients agree on %d of %d values%s%n", agree, feastRefs.size(),
          differ.isEmpty() ? "" : "; DIFFER: " + differ);
      long stale = ours.values().stream().filter(v -> v.status() == OnlineFeatureClient.Status.OUTSIDE_MAX_AGE)
          .count();
      if (stale > 0) {
        System.out.printf("      (%d values are OUTSIDE_MAX_AGE: their event time is older than the view's TTL "
            + "as of %s, as with a historical data set)%n", stale, Instant.now());
      }
    }
    return user;
  }
}
