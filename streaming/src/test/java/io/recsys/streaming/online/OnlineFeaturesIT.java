package io.recsys.streaming.online;

import io.recsys.spark.features.FeatureAggregations;
import io.recsys.spark.features.OnlineWrite;
import io.recsys.spark.features.TopK;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.features.Entity;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.online.OnlineRow;
import io.recsys.spark.JobPools;
import io.recsys.spark.SchedulerPools;
import io.recsys.spark.SparkTestSession;
import io.recsys.streaming.bronze.IngestFixtures;
import io.recsys.streaming.common.SupervisedQuery;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.streaming.metrics.StreamMetrics;
import io.recsys.streaming.producer.SyntheticClickstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.redisson.Redisson;
import org.redisson.api.RScript;
import org.redisson.api.RedissonClient;
import org.redisson.client.codec.ByteArrayCodec;
import org.redisson.config.Config;

/**
 * The online-features job on the real stack (Kafka KRaft, redis-server, Delta on disk): after a replay, every
 * entity's hash in Redis holds exactly the bytes a batch recomputation of the same events encodes, and running
 * the last micro-batch again leaves Redis byte for byte as it was.
 */
@ExtendWith(LocalStackExtension.class)
class OnlineFeaturesIT {

  static SparkSession spark;
  static FeatureDefinitions defs;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.get();
    defs = FeatureDefinitions.load();
  }

  @Test
  void redisEqualsABatchRecomputationAndAReplayedBatchChangesNothing(LocalStack stack, @TempDir Path dir)
      throws Exception {
    String topic = IngestFixtures.newTopic(stack, 2);
    IngestFixtures.produce(stack, topic, new SyntheticClickstream(SyntheticClickstream.Config.defaults(6_000)
        .withSeed(5).withBadRatio(0.02).withDisorder(0.02, 0.05)
        .withTime(Instant.now().minusSeconds(60), Duration.ofHours(3))));
    List<FeatureView> views = List.of(defs.view("user_activity_1h"), defs.view("user_interests_1h"),
        defs.view("user_recent_items"), defs.view("user_session"), defs.view("item_popularity"));
    OnlineFeaturesConfig config = config(stack, dir, topic, views, 1_500);
    StreamMetrics metrics = new StreamMetrics("online-features-it");
    // no append by the spool's thread during the test: the spooled micro-batches are appended when the query ends
    spark.conf().set("spark.recsys.online.offlineLogInterval", "1h");
    List<SupervisedQuery> queries;
    List<JobPools.Job> jobs;
    try (JobPools pools = JobPools.watch(spark)) {
      queries = runAll(config, metrics);
      jobs = pools.jobs();
    } finally {
      spark.conf().unset("spark.recsys.online.offlineLogInterval");
    }
    // the queries' micro-batches ran in the pool that gets task slots first (SchedulerPools)
    assertThat(jobs).filteredOn(j -> j.queryId() != null).hasSizeGreaterThan(2)
        .allSatisfy(j -> assertThat(j.pool()).as(j.description()).isEqualTo(SchedulerPools.STREAMS));

    try (RedisProbe redis = new RedisProbe(stack.redisUri())) {
      Map<String, Map<String, List<Object>>> recomputed = new TreeMap<>();
      Map<String, Map<String, String>> expected = recompute(stack, topic, views, recomputed);
      Map<String, Map<String, String>> actual = redis.hashes();
      assertThat(expected).hasSizeGreaterThan(100);
      assertThat(actual).isEqualTo(expected);

      // Feast's own Python SDK reads what the job wrote and gets the recomputed values
      FeastPython.assertReadsBack(stack.redisUri(), defs, views, recomputed, dir);

      // offline log: every micro-batch's rows, once
      long logged = spark.read().format("delta").load(config.lake().features("user_activity_1h")).count();
      assertThat(logged).isPositive().isEqualTo((long) (metrics.onlineWrittenTotal("user_activity_1h")
          + metrics.onlineStaleTotal("user_activity_1h")));
      // and what it holds: each entity's newest row of a view has the recomputed values (for most micro-batches
      // these rows came back from the Redis write's own job, as JSON, through the spool)
      for (FeatureView view : views) {
        assertThat(newestLogged(config.lake().features(view.name()), view)).as("offline log of " + view.name())
            .isEqualTo(recomputed.get(view.name()));
      }
      // the micro-batches after the first went through the spool; the end of the query appended them
      Path spool = Path.of(java.net.URI.create(config.checkpoint(defs.view("user_activity_1h"))))
          .resolve(OnlineFeaturesJob.SPOOL_DIR);
      try (Stream<Path> files = Files.list(spool)) {
        assertThat(files.map(f -> f.getFileName().toString()).filter(n -> OfflineLogSpool.batchOf(n) != null))
            .isEmpty();
      }
      long dataBatches = java.util.Arrays.stream(queries.get(0).query().recentProgress())
          .filter(p -> p.numInputRows() > 0).count();
      assertThat(dataBatches).isGreaterThan(2);
      assertThat(io.delta.tables.DeltaTable.forPath(spark, config.lake().features("user_activity_1h")).history()
          .filter("operation = 'WRITE'").count()).as("the first micro-batch's append, then the spooled ones' at the end")
          .isEqualTo(2);
      // the job checkpoints the log beside the stream: Delta's checkpoint on commit stalled a micro-batch
      assertThat(io.delta.tables.DeltaTable.forPath(spark, config.lake().features("user_activity_1h")).detail()
          .select("properties").first().<String, String>getJavaMap(0))
          .containsEntry("delta.checkpointInterval", String.valueOf(OfflineLogCheckpoints.ON_COMMIT))
          .containsEntry(OfflineLogCheckpoints.OWNER_PROPERTY, OfflineLogCheckpoints.OWNER);

      // one query per entity, each computing its views
      List<String> entities = List.copyOf(config.viewsByEntity().keySet());
      assertThat(entities).containsExactly("user", "item");
      assertThat(queries).hasSize(2);
      // ops.stream_progress: every query's micro-batches as Spark reported them, with the size of its state
      var progress = spark.read().format("delta").load(config.lake().opsStreamProgress());
      for (int i = 0; i < entities.size(); i++) {
        String name = OnlineFeaturesConfig.queryName(entities.get(i));
        long reported = java.util.Arrays.stream(queries.get(i).query().recentProgress())
            .mapToLong(p -> p.numInputRows()).sum();
        var r = progress.filter(progress.col("query").equalTo(name))
            .selectExpr("count(*)", "sum(input_rows)", "count(state_rows)").first();
        assertThat(r.getLong(1)).as(name).isPositive().isEqualTo(reported);
        assertThat(r.getLong(2)).as(name + ": state rows on every batch").isEqualTo(r.getLong(0));
      }

      // run the last micro-batch with data of the user query again: drop its commit (and those of the empty
      // batches after it), so Spark re-executes it from the checkpoint's offsets and state, as after a crash
      long lastDataBatch = -1;
      for (var p : queries.get(0).query().recentProgress()) {
        if (p.numInputRows() > 0) {
          lastDataBatch = Math.max(lastDataBatch, p.batchId());
        }
      }
      assertThat(lastDataBatch).isPositive();
      Path checkpoint = Path.of(java.net.URI.create(config.checkpoint("user")));
      dropBatches(checkpoint.resolve("commits"), lastDataBatch);
      dropBatches(checkpoint.resolve("offsets"), lastDataBatch + 1);
      long writtenBefore = (long) metrics.onlineWrittenTotal("user_activity_1h");
      List<FeatureView> userViews = config.viewsByEntity().get("user");
      runAll(config.withViews(userViews), metrics);
      assertThat((long) metrics.onlineWrittenTotal("user_activity_1h")).as("the batch was run again")
          .isGreaterThan(writtenBefore);
      assertThat(redis.hashes()).isEqualTo(actual);
      assertThat(spark.read().format("delta").load(config.lake().features("user_activity_1h")).count())
          .isEqualTo(logged);
    }
  }

  /**
   * Micro-batches with more rows in a partition than the spool takes through the driver: their records do not
   * come back with the Redis write, so the job computes the batch's rows again for the offline log and appends
   * them itself. The log still holds every row once, with the values Redis got.
   */
  @Test
  void aBatchTooBigForTheSpoolIsComputedAgainAndLoggedOnce(LocalStack stack, @TempDir Path dir) throws Exception {
    String topic = IngestFixtures.newTopic(stack, 2);
    IngestFixtures.produce(stack, topic, new SyntheticClickstream(SyntheticClickstream.Config.defaults(1_500)
        .withSeed(11).withBadRatio(0.0).withDisorder(0.0, 0.0)
        .withTime(Instant.now().minusSeconds(60), Duration.ofHours(1))));
    List<FeatureView> views = List.of(defs.view("user_activity_1h"), defs.view("user_recent_items"));
    OnlineFeaturesConfig config = config(stack, dir, topic, views, 400);
    StreamMetrics metrics = new StreamMetrics("online-features-overflow-it");
    spark.conf().set("spark.recsys.online.offlineLogInterval", "1h");
    spark.conf().set("spark.recsys.online.spoolMaxBatchRows", "40"); // 20 rows a partition
    List<SupervisedQuery> queries;
    try {
      queries = runAll(config, metrics);
    } finally {
      spark.conf().unset("spark.recsys.online.offlineLogInterval");
      spark.conf().unset("spark.recsys.online.spoolMaxBatchRows");
    }
    try (RedisProbe redis = new RedisProbe(stack.redisUri())) {
      try {
        Map<String, Map<String, List<Object>>> recomputed = new TreeMap<>();
        recompute(stack, topic, views, recomputed);
        long dataBatches = java.util.Arrays.stream(queries.get(0).query().recentProgress())
            .filter(p -> p.numInputRows() > 0).count();
        assertThat(dataBatches).isGreaterThan(2);
        for (FeatureView view : views) {
          String table = config.lake().features(view.name());
          assertThat(spark.read().format("delta").load(table).count()).as(view.name() + ": every row once")
              .isPositive().isEqualTo((long) (metrics.onlineWrittenTotal(view.name())
                  + metrics.onlineStaleTotal(view.name())));
          assertThat(newestLogged(table, view)).as("offline log of " + view.name())
              .isEqualTo(recomputed.get(view.name()));
          // each micro-batch appended its own rows: nothing went through the spool
          assertThat(io.delta.tables.DeltaTable.forPath(spark, table).history().filter("operation = 'WRITE'")
              .count()).as(view.name()).isEqualTo(dataBatches);
        }
      } finally {
        redis.deleteProject(defs.project()); // the other test compares the whole database with its own replay
      }
    }
  }

  /**
   * The job on {@code topic} until it has caught up (available-now), {@code maxOffsets} events per micro-batch,
   * Redis pipelines of 97 rows, and lateness above the replays' disorder, so that the stream and a batch
   * recomputation see the same events.
   */
  private static OnlineFeaturesConfig config(LocalStack stack, Path dir, String topic, List<FeatureView> views,
      long maxOffsets) {
    OnlineFeaturesConfig c = OnlineFeaturesConfig.defaults(dir.resolve("lake").toUri().toString(),
            stack.kafkaBootstrap(), stack.redisUri())
        .withViews(views).withAllowedLateness(Duration.ofDays(2))
        .withTrigger(TriggerSpec.parse("available-now"));
    return new OnlineFeaturesConfig(c.lake(), c.bootstrap(), topic, c.redis(), c.definitions(), c.views(),
        c.checkpointRoot(), c.trigger(), maxOffsets, "earliest", c.allowedLateness(), 97, c.parser(), -1, null,
        Map.of());
  }

  /** Each entity's newest row of a view's offline log (latest event, then latest logged), as feature values. */
  private static Map<String, List<Object>> newestLogged(String table, FeatureView view) {
    String key = defs.entities().get(view.entity()).joinKey();
    Map<String, List<Object>> out = new TreeMap<>();
    for (Row r : spark.read().format("delta").load(table)
        .orderBy(org.apache.spark.sql.functions.col("event_timestamp"),
            org.apache.spark.sql.functions.col("created_timestamp")).collectAsList()) {
      out.put(r.getAs(key).toString(), OnlineWrite.values(r, view.features()));
    }
    return out;
  }

  /** Deletes the checkpoint log entries (and their .crc files) of batch {@code from} and later. */
  private static void dropBatches(Path log, long from) throws Exception {
    try (Stream<Path> files = Files.list(log)) {
      for (Path f : files.toList()) {
        String n = f.getFileName().toString().replaceAll("^\\.|\\.crc$", "");
        if (n.matches("\\d+") && Long.parseLong(n) >= from) {
          Files.delete(f);
        }
      }
    }
  }

  private static List<SupervisedQuery> runAll(OnlineFeaturesConfig config, StreamMetrics metrics) throws Exception {
    List<SupervisedQuery> queries = OnlineFeaturesJob.run(spark, config, metrics);
    for (SupervisedQuery q : queries) {
      q.awaitTermination();
    }
    return queries;
  }

  /** Every entity hash a batch recomputation of the topic's events gives, encoded with our codec. */
  private static Map<String, Map<String, String>> recompute(LocalStack stack, String topic, List<FeatureView> views,
      Map<String, Map<String, List<Object>>> valuesOut) {
    HexFormat hex = HexFormat.of();
    Dataset<Row> kafka = spark.read().format("kafka").option("kafka.bootstrap.servers", stack.kafkaBootstrap())
        .option("subscribe", topic).option("startingOffsets", "earliest").load();
    OnlineFeaturesConfig parse = OnlineFeaturesConfig.defaults("file:/unused", "unused", "unused");
    Dataset<Row> events = OnlineFeaturesJob.events(kafka, parse).cache();
    TopK.register(spark);
    Map<String, Map<String, String>> out = new TreeMap<>();
    for (FeatureView view : views) {
      Entity entity = defs.entities().get(view.entity());
      Map<String, Row> latest = new TreeMap<>();
      for (Row r : FeatureAggregations.compute(events, view, entity).collectAsList()) {
        String key = r.getAs(entity.joinKey());
        Row seen = latest.get(key);
        if (seen == null || ((Timestamp) r.getAs("event_timestamp")).after(seen.getAs("event_timestamp"))) {
          latest.put(key, r);
        }
      }
      for (Map.Entry<String, Row> e : latest.entrySet()) {
        Row r = e.getValue();
        List<Object> values = OnlineWrite.values(r, view.features());
        valuesOut.computeIfAbsent(view.name(), v -> new TreeMap<>()).put(e.getKey(), values);
        OnlineRow row = OnlineRow.encode(defs.project(), entity, view, e.getKey(),
            ((Timestamp) r.getAs("event_timestamp")).toInstant(), values);
        Map<String, String> hash = out.computeIfAbsent(hex.formatHex(row.key()), k -> new TreeMap<>());
        hash.put(hex.formatHex(row.timestampField()),
            hex.formatHex(io.recsys.feast.FeastValueCodec.encodeTimestamp(row.eventTime())));
        for (int i = 0; i < row.fieldsAndValues().length; i += 2) {
          hash.put(hex.formatHex(row.fieldsAndValues()[i]), hex.formatHex(row.fieldsAndValues()[i + 1]));
        }
      }
    }
    events.unpersist();
    return out;
  }

  /** Reads every hash of a Redis database, as hex, for byte-for-byte comparisons. */
  static final class RedisProbe implements AutoCloseable {
    private final RedissonClient client;

    RedisProbe(String uri) {
      Config c = new Config();
      c.setCodec(ByteArrayCodec.INSTANCE);
      c.useSingleServer().setAddress(uri);
      client = Redisson.create(c);
    }

    Map<String, Map<String, String>> hashes() {
      HexFormat hex = HexFormat.of();
      List<Object> flat = client.getScript(ByteArrayCodec.INSTANCE).eval(RScript.Mode.READ_ONLY,
          "local out = {} for _, k in ipairs(redis.call('KEYS', '*')) do "
              + "table.insert(out, k) table.insert(out, redis.call('HGETALL', k)) end return out",
          RScript.ReturnType.MULTI);
      Map<String, Map<String, String>> out = new TreeMap<>();
      for (int i = 0; i < flat.size(); i += 2) {
        Map<String, String> fields = new TreeMap<>();
        List<?> kv = (List<?>) flat.get(i + 1);
        for (int j = 0; j < kv.size(); j += 2) {
          fields.put(hex.formatHex((byte[]) kv.get(j)), hex.formatHex((byte[]) kv.get(j + 1)));
        }
        out.put(hex.formatHex((byte[]) flat.get(i)), fields);
      }
      return out;
    }

    /** Deletes every entity hash of a Feast project (its keys end with the project's name). */
    void deleteProject(String project) {
      client.getScript(ByteArrayCodec.INSTANCE).eval(RScript.Mode.READ_WRITE,
          "for _, k in ipairs(redis.call('KEYS', '*' .. ARGV[1])) do redis.call('DEL', k) end",
          RScript.ReturnType.STATUS, List.of(), (Object) project.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
      client.shutdown();
    }
  }
}
