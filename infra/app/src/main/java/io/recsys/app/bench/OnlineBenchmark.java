package io.recsys.app.bench;

import io.recsys.contract.Event;
import io.recsys.contract.EventJson;
import io.recsys.contract.EventType;
import io.recsys.features.Entity;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import io.recsys.serving.OnlineFeatureClient;
import io.recsys.streaming.common.SupervisedQuery;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.streaming.metrics.StreamMetrics;
import io.recsys.streaming.online.OnlineFeaturesConfig;
import io.recsys.streaming.online.OnlineFeaturesJob;
import io.recsys.streaming.producer.EventProducer;
import io.recsys.streaming.producer.ProducedRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.api.java.function.ForeachPartitionFunction;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.Trigger;
import org.redisson.Redisson;
import org.redisson.api.RBatch;
import org.redisson.api.RedissonClient;
import org.redisson.api.redisnode.RedisNode;
import org.redisson.api.redisnode.RedisNodes;
import org.redisson.client.codec.StringCodec;
import org.redisson.config.Config;

/**
 * {@code ./run bench online}: freshness of the online-features job (produce -> visible through our client),
 * lookups through our Java client beside redis-benchmark running the same command, and lookups through
 * dev.feast.FeastClient against our gRPC server beside our client.
 */
final class OnlineBenchmark {

  /** Percentiles of a sample, in milliseconds. */
  record Latency(long count, double p50, double p95, double p99, double max) {
    static Latency of(long[] nanos, int n) {
      long[] s = Arrays.copyOf(nanos, n);
      Arrays.sort(s);
      if (n == 0) {
        return new Latency(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
      }
      return new Latency(n, at(s, 0.50), at(s, 0.95), at(s, 0.99), s[n - 1] / 1e6);
    }

    private static double at(long[] sorted, double q) {
      return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)] / 1e6;
    }
  }

  record Freshness(String label, int views, long produced, long probes, long seenProbes, Latency latency,
      Map<String, Latency> perView) {}

  /**
   * One lookup run. {@code redisMicrosPerHmget}: Redis's own time per HMGET during the run (INFO commandstats,
   * warm-up included), null until {@link #redisCost} fills it in.
   */
  record Lookup(String what, int threads, int entities, int features, Latency latency, double callsPerSecond,
      double entityRowsPerSecond, Double redisMicrosPerHmget) {
    Lookup(String what, int threads, int entities, int features, Latency latency, double callsPerSecond,
        double entityRowsPerSecond) {
      this(what, threads, entities, features, latency, callsPerSecond, entityRowsPerSecond, null);
    }

    /** Redis's time per HMGET for a report, "-" when not measured. */
    String redisMicrosText() {
      return redisMicrosPerHmget == null ? "-" : String.format("%.1f", redisMicrosPerHmget);
    }
  }

  private final SparkSession spark;
  private final LocalStack stack;
  private final Path work;

  OnlineBenchmark(SparkSession spark, LocalStack stack, Path work) {
    this.spark = spark;
    this.stack = stack;
    this.work = work;
  }

  // ---------------------------------------------------------------------------------------------------------
  // 1. Freshness

  /**
   * Produces {@code rate} events/s with event time = now for warm-up + measured seconds, while the job runs with
   * the views; probe events (a new user each, 10 per second) are polled every 5 ms through our client, and the
   * time from send to visible in Redis is recorded per view. Only probes sent after the warm-up count.
   */
  Freshness freshness(String label, List<String> viewNames, int rate, Duration warmup, Duration measured,
      TriggerSpec trigger) throws Exception {
    FeatureDefinitions defs = FeatureDefinitions.load();
    List<FeatureView> views = viewNames.stream().map(defs::view).toList();
    return measureFreshness(label, defs, views, rate, warmup, measured, topic -> {
      OnlineFeaturesConfig base = OnlineFeaturesConfig.defaults(work.resolve("lake-" + topic).toUri().toString(),
          stack.kafkaBootstrap(), stack.redisUri());
      OnlineFeaturesConfig config = new OnlineFeaturesConfig(base.lake(), base.bootstrap(), topic, base.redis(),
          defs, views, base.checkpointRoot(), trigger, 0, "earliest", base.allowedLateness(), base.redisBatch(),
          base.parser(), -1, null, Map.of());
      StreamMetrics metrics = new StreamMetrics("bench-online");
      List<SupervisedQuery> queries = OnlineFeaturesJob.run(spark, config, metrics);
      return () -> {
        for (SupervisedQuery q : queries) {
          q.stop();
        }
        metrics.close();
      };
    });
  }

  static final String FLOOR = "floor: Kafka -> Redis, no aggregation";

  /**
   * The floor under {@link #freshness}, measured the same way (producer, probes, poller, trigger 0 ms): the least
   * a Spark micro-batch query can do to make an event visible. It reads each micro-batch from Kafka, takes
   * user_id and event_time out of the JSON, and writes one user_activity_5m row per event to Redis from the
   * executors with the jobs' writer ({@link OnlineStore}); no contract parsing, no aggregation, no shuffle, no
   * state store, no offline log. What the feature job takes beyond this is the cost of its work.
   */
  Freshness freshnessFloor(int rate, Duration warmup, Duration measured) throws Exception {
    FeatureDefinitions defs = FeatureDefinitions.load();
    FeatureView view = defs.view("user_activity_5m");
    FloorWriter writer = new FloorWriter(stack.redisUri(), defs.project(), defs.entities().get(view.entity()), view);
    return measureFreshness(FLOOR, defs, List.of(view), rate, warmup, measured, topic -> {
      StreamingQuery q = spark.readStream().format("kafka").option("kafka.bootstrap.servers", stack.kafkaBootstrap())
          .option("subscribe", topic).option("startingOffsets", "earliest").load()
          .selectExpr("get_json_object(CAST(value AS STRING), '$.user_id') AS user_id",
              "CAST(get_json_object(CAST(value AS STRING), '$.event_time') AS TIMESTAMP) AS event_time")
          .writeStream().trigger(Trigger.ProcessingTime(0))
          .option("checkpointLocation", work.resolve("floor-" + topic).toUri().toString())
          .foreachBatch((VoidFunction2<Dataset<Row>, Long>) (batch, id) -> batch.foreachPartition(writer))
          .start();
      return q::stop;
    });
  }

  /**
   * The floor query's writer: one row of the view per event, as the feature job writes it (its four counts as
   * 1, 0, 0, 0). Carries the resolved definitions, as the job's writer does, so executors parse nothing.
   */
  private record FloorWriter(String redis, String project, Entity entity, FeatureView view)
      implements ForeachPartitionFunction<Row> {
    @Override
    public void call(Iterator<Row> rows) {
      List<OnlineRow> out = new ArrayList<>();
      while (rows.hasNext()) {
        Row r = rows.next();
        if (!r.isNullAt(0) && !r.isNullAt(1)) {
          out.add(OnlineRow.encode(project, entity, view, r.getString(0), r.getTimestamp(1).toInstant(),
              List.of(1L, 0L, 0L, 0L)));
        }
      }
      OnlineStore.shared(redis).write(out, view.ttl().toMillis(), 500);
    }
  }

  /** Starts the job under test on a topic; closing what it returns stops it. */
  private interface JobUnderTest {
    AutoCloseable start(String topic) throws Exception;
  }

  private Freshness measureFreshness(String label, FeatureDefinitions defs, List<FeatureView> views, int rate,
      Duration warmup, Duration measured, JobUnderTest job) throws Exception {
    String topic = "fresh-" + System.nanoTime();
    stack.createTopic(topic, 2);
    AutoCloseable running = job.start(topic);

    List<String> refs = views.stream().map(v -> v.name() + ":" + v.features().get(0).name()).toList();
    Map<String, Long> sentAt = new ConcurrentHashMap<>(); // probe user -> send nanos (measured probes only)
    Map<String, long[]> seenAt = new ConcurrentHashMap<>(); // probe user -> per view: visible nanos
    AtomicBoolean producing = new AtomicBoolean(true);
    AtomicLong produced = new AtomicLong();
    long start = System.nanoTime();
    long measureFrom = start + warmup.toNanos();
    long end = measureFrom + measured.toNanos();

    Thread poller = new Thread(() -> poll(defs, refs, sentAt, seenAt, producing), "bench-poller");
    poller.setDaemon(true);
    poller.start();
    SplittableRandom rnd = new SplittableRandom(7);
    long probeSeq = 0;
    try (EventProducer producer = new EventProducer(stack.kafkaBootstrap(), topic, Map.of("linger.ms", "0"))) {
      long tick = Duration.ofMillis(10).toNanos();
      int perTick = Math.max(1, rate / 100);
      long next = start;
      long nextProbe = start;
      while (System.nanoTime() < end) {
        long now = System.currentTimeMillis();
        for (int i = 0; i < perTick; i++) {
          producer.send(record(event(rnd, "u" + rnd.nextInt(10_000), now)));
        }
        produced.addAndGet(perTick);
        long t = System.nanoTime();
        if (t >= nextProbe) {
          String user = "probe-" + topic + "-" + (probeSeq++);
          if (t >= measureFrom) {
            sentAt.put(user, t);
          }
          producer.send(record(event(rnd, user, now)));
          nextProbe += Duration.ofMillis(100).toNanos();
        }
        next += tick;
        long sleep = next - System.nanoTime();
        if (sleep > 0) {
          TimeUnit.NANOSECONDS.sleep(sleep);
        }
      }
      producer.flush();
    }
    // let the last probes land, then stop
    long drainUntil = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < drainUntil && seenAt.values().stream().filter(a -> allSeen(a)).count() < sentAt.size()) {
      Thread.sleep(100);
    }
    producing.set(false);
    poller.join(5_000);
    running.close();

    long[] all = new long[sentAt.size() * views.size()];
    int n = 0;
    Map<String, Latency> perView = new java.util.LinkedHashMap<>();
    long seenProbes = 0;
    for (int v = 0; v < views.size(); v++) {
      long[] lat = new long[sentAt.size()];
      int m = 0;
      for (var e : sentAt.entrySet()) {
        long[] seen = seenAt.get(e.getKey());
        if (seen != null && seen[v] > 0) {
          lat[m++] = seen[v] - e.getValue();
          all[n++] = seen[v] - e.getValue();
        }
      }
      perView.put(views.get(v).name(), Latency.of(lat, m));
    }
    for (var e : sentAt.entrySet()) {
      long[] seen = seenAt.get(e.getKey());
      if (seen != null && allSeen(seen)) {
        seenProbes++;
      }
    }
    return new Freshness(label, views.size(), produced.get(), sentAt.size(), seenProbes, Latency.of(all, n),
        perView);
  }

  private static boolean allSeen(long[] a) {
    for (long x : a) {
      if (x == 0) {
        return false;
      }
    }
    return true;
  }

  private void poll(FeatureDefinitions defs, List<String> refs, Map<String, Long> sentAt,
      Map<String, long[]> seenAt, AtomicBoolean producing) {
    try (OnlineFeatureClient client = new OnlineFeatureClient(stack.redisUri(), defs)) {
      while (producing.get()) {
        List<String> pending = sentAt.keySet().stream()
            .filter(u -> !seenAt.containsKey(u) || !allSeen(seenAt.get(u))).toList();
        if (!pending.isEmpty()) {
          List<Map<String, OnlineFeatureClient.FeatureValue>> got = client.get(pending, refs);
          long now = System.nanoTime();
          for (int i = 0; i < pending.size(); i++) {
            long[] seen = seenAt.computeIfAbsent(pending.get(i), u -> new long[refs.size()]);
            for (int v = 0; v < refs.size(); v++) {
              if (seen[v] == 0 && got.get(i).get(refs.get(v)).status() != OnlineFeatureClient.Status.NOT_FOUND) {
                seen[v] = now;
              }
            }
          }
        }
        Thread.sleep(5);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static final EventType[] TYPES = {EventType.PAGE_VIEW, EventType.PAGE_VIEW, EventType.PAGE_VIEW,
      EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE};

  private static Event event(SplittableRandom rnd, String user, long now) {
    String item = "i" + rnd.nextInt(5_000);
    EventType type = user.startsWith("probe-") ? EventType.PAGE_VIEW : TYPES[rnd.nextInt(TYPES.length)];
    return new Event(new UUID(rnd.nextLong(), rnd.nextLong()).toString(), 1, type, user, "s-" + user, item,
        "c" + Math.floorMod(item.hashCode(), 20), type == EventType.PURCHASE ? 9.99 : null,
        type == EventType.PURCHASE ? 1 : null, null, null, now, Map.of("device", "web"));
  }

  private static ProducedRecord record(Event e) {
    return new ProducedRecord(e.userId(), EventJson.toBytes(e), null);
  }

  // ---------------------------------------------------------------------------------------------------------
  // 2 and 3. Lookups

  static final int ENTITIES = 10_000;
  static final int WIDE = 250;

  /** The packaged definitions plus a view of 250 INT64 features, written for 10,000 users. */
  FeatureDefinitions wideDefinitions() throws IOException {
    String text;
    try (var in = FeatureDefinitions.class.getResourceAsStream(FeatureDefinitions.RESOURCE)) {
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    StringBuilder s = new StringBuilder(text.stripTrailing()).append("\n  bench_wide:\n    entity: user\n")
        .append("    source: events\n    window: 1h\n    slide: 5m\n    ttl: 1d\n    filter: [page_view]\n")
        .append("    features:\n");
    for (int i = 0; i < WIDE; i++) {
      s.append(String.format("      f%03d: {agg: count, dtype: INT64}%n", i));
    }
    Path file = wideDefinitionsFile();
    Files.writeString(file, s);
    FeatureDefinitions defs = FeatureDefinitions.load(file);
    FeatureView view = defs.view("bench_wide");
    SplittableRandom rnd = new SplittableRandom(11);
    Instant now = Instant.now();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri())) {
      List<OnlineRow> rows = new ArrayList<>();
      for (int u = 0; u < ENTITIES; u++) {
        List<Object> values = new ArrayList<>(WIDE);
        for (int i = 0; i < WIDE; i++) {
          values.add((long) rnd.nextInt(1_000));
        }
        rows.add(OnlineRow.encode(defs.project(), defs.entities().get("user"), view, "bench-u" + u, now, values));
        if (rows.size() == 500) {
          store.write(rows, Duration.ofDays(1).toMillis(), 500);
          rows.clear();
        }
      }
      store.write(rows, Duration.ofDays(1).toMillis(), 500);
    }
    return defs;
  }

  static List<String> wideRefs(int features) {
    List<String> refs = new ArrayList<>();
    for (int i = 0; i < features; i++) {
      refs.add(String.format("bench_wide:f%03d", i));
    }
    return refs;
  }

  /** The definitions file {@link #wideDefinitions} wrote, for the lookup processes and the server. */
  Path wideDefinitionsFile() {
    return work.resolve("features-bench.yaml");
  }

  /** Our client in a JVM of its own ({@link LookupProcess}): threads x (calls of entities x features). */
  Lookup ourClient(int threads, int entities, int features, Duration time) throws Exception {
    return LookupProcess.inChild("client", stack.redisUri(), wideDefinitionsFile().toString(),
        Integer.toString(threads), Integer.toString(entities), Integer.toString(features),
        Long.toString(time.toSeconds()));
  }

  /** The ASCII key of user u for redis-benchmark: what its {@code __rand_int__} becomes with {@code -r}. */
  private static String asciiKey(int u) {
    return String.format("bench:%012d", u);
  }

  private static final String HOT_KEY = "bench:hot";
  private boolean asciiWritten;

  /**
   * The hashes redis-benchmark reads: one per user ({@link #asciiKey}) with as many fields as the users' Feast
   * hashes, and one more, {@value #HOT_KEY}, read over and over. Field names f000..., values about as long as an
   * encoded INT64 {@code feast.types.Value}.
   */
  private void writeAsciiHashes() {
    if (asciiWritten) {
      return;
    }
    Map<String, String> hash = new HashMap<>();
    for (int i = 0; i < WIDE; i++) {
      hash.put(String.format("f%03d", i), "\u0008" + (char) ('a' + i % 26) + "xyz");
    }
    RedissonClient r = redisson();
    try {
      for (int from = 0; from < ENTITIES; from += 500) {
        RBatch batch = r.createBatch();
        for (int u = from; u < Math.min(ENTITIES, from + 500); u++) {
          batch.getMap(asciiKey(u), StringCodec.INSTANCE).putAllAsync(hash);
        }
        batch.execute();
      }
      r.getMap(HOT_KEY, StringCodec.INSTANCE).putAll(hash);
    } finally {
      r.shutdown();
    }
    asciiWritten = true;
  }

  private RedissonClient redisson() {
    Config c = new Config();
    c.useSingleServer().setAddress(stack.redisUri());
    return Redisson.create(c);
  }

  /**
   * redis-benchmark running the client's own command, HMGET of {@code features} fields, on hashes of the users'
   * width with ASCII keys and field names (binary Feast keys cannot be passed on its command line). With
   * {@code randomUser}, each HMGET names a random one of the {@value #ENTITIES} users' hashes, as our client's
   * calls do; without it, every HMGET reads one hash, which Redis then serves from the CPU's cache.
   */
  Lookup redisBenchmark(int clients, int pipeline, int features, long requests, boolean randomUser)
      throws Exception {
    writeAsciiHashes();
    String uri = stack.redisUri().replaceFirst("^redis://", "");
    String host = uri.substring(0, uri.lastIndexOf(':'));
    String port = uri.substring(uri.lastIndexOf(':') + 1);
    List<String> cmd = new ArrayList<>(List.of("redis-benchmark", "-h", host, "-p", port, "-n",
        Long.toString(requests), "-c", Integer.toString(clients), "-P", Integer.toString(pipeline), "--csv"));
    if (randomUser) {
      cmd.addAll(List.of("-r", Integer.toString(ENTITIES), "HMGET", "bench:__rand_int__"));
    } else {
      cmd.addAll(List.of("HMGET", HOT_KEY));
    }
    for (int i = 0; i < features; i++) {
      cmd.add(String.format("f%03d", i));
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("redis-benchmark failed: " + out);
    }
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    // the test name (the command) has commas of its own: take the seven numbers from the end
    String[] f = out.strip().lines().reduce((a, b) -> b).orElseThrow().replace("\"", "").split(",");
    int k = f.length - 7;
    double rps = Double.parseDouble(f[k]);
    Latency l = new Latency(requests, Double.parseDouble(f[k + 3]), Double.parseDouble(f[k + 4]),
        Double.parseDouble(f[k + 5]), Double.parseDouble(f[k + 6]));
    return new Lookup("redis-benchmark, same HMGET, " + (randomUser ? "random user" : "one hash") + " (-P "
        + pipeline + ")", clients, 1, features, l, rps, rps);
  }

  /** A lookup run, with Redis's own time per HMGET over it (the change of INFO commandstats across the run). */
  Lookup redisCost(Callable<Lookup> run) throws Exception {
    RedissonClient r = redisson();
    try {
      long[] before = hmgetStats(r);
      Lookup l = run.call();
      long[] after = hmgetStats(r);
      long calls = after[0] - before[0];
      Double micros = calls == 0 ? null : (double) (after[1] - before[1]) / calls;
      return new Lookup(l.what(), l.threads(), l.entities(), l.features(), l.latency(), l.callsPerSecond(),
          l.entityRowsPerSecond(), micros);
    } finally {
      r.shutdown();
    }
  }

  /** HMGET's calls and microseconds so far, from INFO commandstats ("calls=N,usec=N,..."). */
  private static long[] hmgetStats(RedissonClient r) {
    Map<String, String> stats = r.getRedisNodes(RedisNodes.SINGLE).getInstance()
        .info(RedisNode.InfoSection.COMMANDSTATS);
    String line = stats.get("cmdstat_hmget");
    long[] out = new long[2];
    if (line != null) {
      for (String kv : line.split(",")) {
        String[] p = kv.split("=", 2);
        if (p[0].equals("calls")) {
          out[0] = Long.parseLong(p[1]);
        } else if (p[0].equals("usec")) {
          out[1] = Long.parseLong(p[1]);
        }
      }
    }
    return out;
  }

  /**
   * dev.feast.FeastClient in a JVM of its own against our gRPC server as deployed ({@code java -jar}, a third
   * JVM): 1 row x `features`, one thread.
   */
  Lookup feastClient(int features, Duration time) throws Exception {
    try (LookupProcess.ServerProcess server = new LookupProcess.ServerProcess(stack.redisUri(),
        wideDefinitionsFile())) {
      return LookupProcess.inChild("feast", server.address(), Integer.toString(features),
          Long.toString(time.toSeconds()));
    }
  }

  /** {@link LookupProcess#feastInfo}: FeastClient's GetFeastServingInfo against the deployed server. */
  Lookup feastInfo(Duration time) throws Exception {
    try (LookupProcess.ServerProcess server = new LookupProcess.ServerProcess(stack.redisUri(),
        wideDefinitionsFile())) {
      return LookupProcess.inChild("feast-info", server.address(), Long.toString(time.toSeconds()));
    }
  }
}
