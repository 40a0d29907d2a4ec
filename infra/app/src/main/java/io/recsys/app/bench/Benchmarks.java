package io.recsys.app.bench;

import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStacks;
import io.recsys.spark.JobRunner;
import io.recsys.spark.SparkSessions;
import io.recsys.spark.UserError;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import io.recsys.features.FeatureDefinitions;
import io.recsys.streaming.common.TriggerSpec;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./run bench [ingest|online]}: runs a benchmark and writes its section of BENCHMARKS.md. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Run benchmarks; results go to BENCHMARKS.md.")
public final class Benchmarks implements Callable<Integer> {

  @Parameters(index = "0", defaultValue = "ingest", description = "Which benchmark: ingest, online (freshness, "
      + "then lookups), lookups (the lookups alone, no Spark), batch.")
  String which;
  @Option(names = "--rate", defaultValue = "5000", description = "online: events/s produced (default: ${DEFAULT-VALUE}).")
  int rate;
  @Option(names = "--seconds", defaultValue = "120", description = "online: measured seconds per freshness run "
      + "(default: ${DEFAULT-VALUE}).")
  int seconds;
  @Option(names = "--views", split = ",", description = "online: views of the freshness runs, one run per "
      + "option given (default: user_activity_5m, then the six user views).")
  List<String> views;
  @Option(names = "--no-lookups", description = "online: the freshness runs only, without the lookups after them.")
  boolean noLookups;
  /** The online job's offline-log interval in the freshness runs. */
  private Duration offlineLogInterval = Duration.ZERO;
  @Option(names = "--data-dir", description = "batch: folder holding ml-latest-small/ and online-retail/ "
      + "(default: ../shared/data, else the samples in data/samples).")
  Path dataDir;
  @Option(names = "--events", defaultValue = "1000000", description = "Records to ingest (default: ${DEFAULT-VALUE}).")
  long events;
  @Option(names = "--per-batch", defaultValue = "500000", description = "maxOffsetsPerTrigger (default: ${DEFAULT-VALUE}).")
  long perBatch;
  @Option(names = "--out", defaultValue = "BENCHMARKS.md", description = "Results file (default: ${DEFAULT-VALUE}).")
  Path out;

  private static final int ROUNDS = 3;
  private static final Duration FRESHNESS_WARM_UP = Duration.ofSeconds(90);

  public static void main(String[] args) {
    JobRunner.main(new Benchmarks(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (!List.of("ingest", "online", "lookups", "batch").contains(which)) {
      throw UserError.badArgument("bench", which, "ingest, online, lookups or batch");
    }
    Configurator.setLevel("org.apache.spark", Level.ERROR);
    Configurator.setLevel("io.recsys", Level.WARN);
    // per-batch timings of the sinks (online: Redis, offline log; bronze: events, quarantine) beside the figures
    Configurator.setLevel("io.recsys.streaming.online.OnlineBatchWriter", Level.INFO);
    Configurator.setLevel("io.recsys.streaming.online.OfflineLogCheckpoints", Level.INFO);
    Configurator.setLevel("io.recsys.streaming.online.OfflineLogSpool", Level.INFO);
    Configurator.setLevel("io.recsys.streaming.bronze.BronzeBatchWriter", Level.INFO);
    Configurator.setLevel("io.recsys.streaming.metrics.ProgressListener", Level.INFO);
    Path work = Path.of("bench-data").toAbsolutePath();
    // two benchmarks in one checkout would delete each other's bench-data/ (and the stack in it) mid-run
    Path lockFile = Path.of("bench-data.lock").toAbsolutePath();
    try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.tryLock()) {
      if (lock == null) {
        throw UserError.of("Another ./run bench is running in this checkout (it holds " + lockFile + " and uses "
            + work + ")", "Wait for it to end, or run this one from another clone");
      }
      return run(work);
    }
  }

  private int run(Path work) throws Exception {
    deleteTree(work);
    Files.createDirectories(work);
    if (which.equals("batch")) {
      try {
        batch(work);
      } finally {
        deleteTree(work);
      }
      return 0;
    }
    if (which.equals("online") || which.equals("lookups")) {
      try (LocalStack stack = LocalStacks.start(work.resolve("stack"))) {
        if (which.equals("online")) {
          freshness(stack, work);
        }
        if (!(which.equals("online") && noLookups)) {
          lookups(new OnlineBenchmark(null, stack, work));
        }
      } finally {
        deleteTree(work);
      }
      return 0;
    }
    try (LocalStack stack = LocalStacks.start(work.resolve("stack"))) {
      SparkSession spark = SparkSessions.create("recsys bench", Map.of());
      IngestBenchmark b = new IngestBenchmark(spark, stack, work, perBatch);
      System.out.println("warming up Spark and Delta on 100,000 records...");
      b.produce("warmup", 100_000);
      b.plainQuery("warmup", 100_000, b.lake("warm-plain"));
      b.plainParsedQuery("warmup", 100_000, b.lake("warm-plain-parsed"));
      b.bronze("warmup", 100_000, b.lake("warm-bronze"));
      b.plainWithQuarantine("warmup", 100_000, b.lake("warm-plain-quarantine"), b.lake("warm-bronze"));

      System.out.printf("producing %,d records...%n", events);
      List<IngestBenchmark.Result> results = new ArrayList<>();
      results.add(b.produce("bench", events));
      results.add(b.rawConsumer("bench", events));
      // sustained rates: on 2 cores the JIT keeps compiling Spark's, Delta's and Parquet's paths for minutes
      // (both queries ran 30-40% faster in their third round than in their first), so three rounds, alternating
      for (int round = 1; round <= ROUNDS; round++) {
        results.add(b.plainQuery("bench", events, b.lake("plain-" + round)));
        results.add(b.plainParsedQuery("bench", events, b.lake("plain-parsed-" + round)));
        results.add(b.bronze("bench", events, b.lake("bronze-" + round)));
        results.add(b.plainWithQuarantine("bench", events, b.lake("plain-quarantine-" + round),
            b.lake("bronze-" + round)));
      }
      for (IngestBenchmark.Result r : results) {
        System.out.printf("%-45s %,10d records %8.2f s %,12.0f records/s%n", r.name(), r.records(), r.seconds(),
            r.rate());
      }
      writeReport(results);
    } finally {
      deleteTree(work);
    }
    return 0;
  }

  private void writeReport(List<IngestBenchmark.Result> r) throws IOException {
    double plain = best(r, IngestBenchmark.PLAIN_RAW);
    double parsed = best(r, IngestBenchmark.PLAIN_PARSED);
    double bronze = best(r, IngestBenchmark.BRONZE);
    double withQuarantine = best(r, IngestBenchmark.PLAIN_QUARANTINE);
    StringBuilder s = new StringBuilder();
    s.append("## Ingest: Kafka -> validated bronze\n\n");
    s.append("Measured ").append(LocalDate.now()).append(" with `./run bench ingest --events ").append(events)
        .append(" --per-batch ").append(perBatch).append("` on ").append(machine()).append(".\n");
    s.append("Synthetic clickstream, 1% bad records, 2 Kafka partitions, embedded stack (Kafka KRaft in a child JVM), ")
        .append("Spark local[*], Delta on local disk, trigger available-now, maxOffsetsPerTrigger ").append(perBatch)
        .append(". Each Spark query ran once on a 100k-record warm-up topic first; the plain queries and the ")
        .append("bronze job then ran ").append(ROUNDS)
        .append(" times each, alternating, over the same records; the best run of each is compared (sustained rate, ")
        .append("after the JIT has compiled the paths). The last query of a round stores the records raw as the ")
        .append("plain query does, and also appends, per micro-batch, the rows that the round's bronze job ")
        .append("quarantined from the same offsets to a second Delta table, as the bronze job does; it parses nothing ")
        .append("(the rows are read from the bronze run's quarantine before it starts).\n\n");
    s.append("| what | records | seconds | records/s |\n|---|---:|---:|---:|\n");
    for (IngestBenchmark.Result x : r) {
      s.append(String.format("| %s | %,d | %.2f | %,.0f |%n", x.name(), x.records(), x.seconds(), x.rate()));
    }
    s.append(String.format("%nValidated bronze: **%,.0f events/s**, %.2f x the plain query that stores the raw "
        + "bytes (targets: >= 100,000 events/s and >= 0.9 x), and %.2f x the plain query that parses the same JSON "
        + "with from_json into the same fields, partitioned the same way, without validation or quarantine.%n",
        bronze, bronze / plain, bronze / parsed));
    s.append(String.format("%nThe plain query with the quarantine's appends and no parsing: %.2f x the plain query. "
        + "That is the most a job that keeps bronze.quarantine as a table of its own reaches here before it parses "
        + "a record, if it appends the quarantine as the bronze job does (after the batch's events).%n",
        withQuarantine / plain));
    Section.replace(out, "## Ingest:", s.toString());
    System.out.printf("%nvalidated bronze %,.0f events/s = %.2f x plain query (raw bytes), %.2f x plain from_json "
        + "query; written to %s%n", bronze, bronze / plain, bronze / parsed, out);
  }

  /** The best rate of the rounds of one query. */
  private static double best(List<IngestBenchmark.Result> results, String name) {
    return results.stream().filter(x -> x.name().equals(name)).mapToDouble(IngestBenchmark.Result::rate).max()
        .orElseThrow();
  }

  private void freshness(LocalStack stack, Path work) throws Exception {
    SparkSession spark = SparkSessions.create("recsys bench online", Map.of());
    OnlineBenchmark b = new OnlineBenchmark(spark, stack, work);
    offlineLogInterval = io.recsys.streaming.online.OnlineFeaturesJob.offlineLogInterval(spark);
    // the job's JVM reaches its steady state late on 2 cores: after 30 s, micro-batches still took 2.5-3 s
    // (JIT compiling), after about 75 s, 1.2-1.5 s; a feature job runs for days
    Duration warm = FRESHNESS_WARM_UP;
    Duration measured = Duration.ofSeconds(seconds);
    List<OnlineBenchmark.Freshness> fresh = new ArrayList<>();
    // the floor first, measured the same way: what any Spark micro-batch query reaches on this machine
    System.out.printf("freshness floor (Kafka -> Redis, no aggregation), %,d events/s, %d s warm-up + %d s "
        + "measured...%n", rate, warm.toSeconds(), measured.toSeconds());
    OnlineBenchmark.Freshness floor = b.freshnessFloor(rate, warm, measured);
    System.out.printf("  %d probes, %d seen; p50 %.0f ms, p95 %.0f ms, p99 %.0f ms%n", floor.probes(),
        floor.seenProbes(), floor.latency().p50(), floor.latency().p95(), floor.latency().p99());
    List<String> userViews = List.of("user_activity_5m", "user_activity_1h", "user_activity_24h",
        "user_interests_1h", "user_recent_items", "user_session");
    for (List<String> views : this.views != null ? List.of(this.views) : List.of(List.of("user_activity_5m"), userViews)) {
      System.out.printf("freshness: %d view(s), %,d events/s, %d s warm-up + %d s measured...%n", views.size(), rate,
          warm.toSeconds(), measured.toSeconds());
      OnlineBenchmark.Freshness f = b.freshness(views.size() + " view(s)", views, rate, warm, measured,
          TriggerSpec.parse("0ms"));
      System.out.printf("  %d probes, %d seen; p50 %.0f ms, p95 %.0f ms, p99 %.0f ms%n", f.probes(), f.seenProbes(),
          f.latency().p50(), f.latency().p95(), f.latency().p99());
      fresh.add(f);
    }
    writeFreshnessReport(floor, fresh);
    spark.stop();
  }

  private void lookups(OnlineBenchmark b) throws Exception {
    System.out.println("lookups: writing 10,000 users x 250 features...");
    b.wideDefinitions();
    List<OnlineBenchmark.Lookup> lookups = new ArrayList<>();
    Duration run = Duration.ofSeconds(10);
    // redis-benchmark reads random users' hashes, as our client does: Redis spends about five times longer on an
    // HMGET of a hash that is not in the CPU's cache than on one it just read (the one-hash row shows it)
    lookups.add(b.redisCost(() -> b.redisBenchmark(1, 1, 50, 100_000, true)));
    lookups.add(b.redisCost(() -> b.ourClient(1, 1, 50, run)));
    lookups.add(b.redisCost(() -> b.redisBenchmark(8, 1, 50, 200_000, true)));
    lookups.add(b.redisCost(() -> b.ourClient(8, 1, 50, run)));
    lookups.add(b.redisCost(() -> b.redisBenchmark(1, 100, 50, 500_000, true)));
    lookups.add(b.redisCost(() -> b.ourClient(1, 100, 50, run)));
    OnlineBenchmark.Lookup bench8x100 = b.redisCost(() -> b.redisBenchmark(8, 100, 50, 1_000_000, true));
    lookups.add(bench8x100);
    OnlineBenchmark.Lookup ours8x100 = b.redisCost(() -> b.ourClient(8, 100, 50, run));
    lookups.add(ours8x100);
    lookups.add(b.redisCost(() -> b.redisBenchmark(8, 100, 50, 1_000_000, false)));
    lookups.add(b.redisCost(() -> b.ourClient(1, 1, 250, run)));
    lookups.add(b.redisCost(() -> b.feastClient(250, run)));
    // the floor under it: the same client and server with nothing to look up (no HMGET, so no Redis column)
    lookups.add(b.feastInfo(run));
    for (OnlineBenchmark.Lookup l : lookups) {
      System.out.printf("  %-48s threads %d, %3d x %3d: p50 %.3f ms, p99 %.3f ms, %,.0f calls/s, %,.0f rows/s, "
          + "Redis %s us/HMGET%n", l.what(), l.threads(), l.entities(), l.features(), l.latency().p50(),
          l.latency().p99(), l.callsPerSecond(), l.entityRowsPerSecond(), l.redisMicrosText());
    }
    writeLookupReport(lookups, bench8x100, ours8x100);
  }

  /**
   * The freshness target's line: each run's p99 against it, and the verdict of the run with the most views. A user
   * runs the job with every streaming view of an entity, so a target met by fewer views alone is not met.
   */
  static String freshnessVerdict(List<OnlineBenchmark.Freshness> fresh, double floorP99) {
    List<String> runs = new ArrayList<>();
    OnlineBenchmark.Freshness most = fresh.get(0);
    for (OnlineBenchmark.Freshness f : fresh) {
      runs.add(String.format("%d view%s, p99 %,.0f ms (%s)", f.views(), f.views() == 1 ? "" : "s", f.latency().p99(),
          f.latency().p99() <= 1000 ? "met" : "not met"));
      if (f.views() > most.views()) {
        most = f;
      }
    }
    return String.format("%nTarget p99 <= 1,000 ms: %s, judged by the run with the most views (%d), as users run "
        + "the job. Each run: %s. The floor's p99: %,.0f ms.%n", most.latency().p99() <= 1000 ? "met" : "**not met**",
        most.views(), String.join("; ", runs), floorP99);
  }

  private void writeFreshnessReport(OnlineBenchmark.Freshness floor, List<OnlineBenchmark.Freshness> fresh)
      throws IOException {
    StringBuilder s = new StringBuilder();
    s.append("## Online: freshness\n\n");
    s.append("Measured ").append(LocalDate.now()).append(" with `./run bench online --rate ").append(rate)
        .append(" --seconds ").append(seconds).append(noLookups ? " --no-lookups" : "")
        .append(views != null ? " --views " + String.join(",", views) : "").append("` on ").append(machine())
        .append(".\n");
    s.append("Embedded stack (Kafka KRaft in a child JVM, redis-server ").append(redisVersion())
        .append("), Spark local[*] in the benchmark's JVM, which also runs the producer and the poller.\n\n");
    s.append("### Freshness: produce -> visible in Redis\n\n");
    s.append(String.format("%,d events/s (10,000 users, event time = now) for " + FRESHNESS_WARM_UP.toSeconds()
        + " s of warm-up (the job's steady state), then %d s measured. "
        + "Ten probe events per second, each from a new user, are polled every 5 ms through OnlineFeatureClient; "
        + "latency = first read that finds the probe's row minus the send. OnlineFeaturesJob (one query per entity, "
        + "whose views share one transformWithState operator) with trigger 0 ms "
        + "(back-to-back micro-batches), RocksDB state, Redis written first; each micro-batch spools its rows for "
        + "the Delta offline log, which a thread beside the stream appends every %d s.%n%n",
        rate,
        seconds, offlineLogInterval.toSeconds()));
    s.append("| views (one query per entity) | events produced | probes seen / sent | p50 ms | p95 ms | p99 ms | max ms |\n")
        .append("|---|---:|---:|---:|---:|---:|---:|\n");
    List<OnlineBenchmark.Freshness> rows = new ArrayList<>(fresh);
    rows.add(0, floor);
    for (OnlineBenchmark.Freshness f : rows) {
      s.append(String.format("| %s | %,d | %d / %d | %.0f | %.0f | %.0f | %.0f |%n",
          f == floor ? f.label() + " (see below)" : String.join(", ", f.perView().keySet()), f.produced(),
          f.seenProbes(), f.probes(), f.latency().p50(), f.latency().p95(), f.latency().p99(), f.latency().max()));
    }
    s.append("\nThe floor row is not the feature job: it is the least a Spark micro-batch query can do to make an "
        + "event visible, measured the same way in the same run (trigger 0 ms; each micro-batch read from Kafka, "
        + "user_id and event_time taken out of the JSON, one user_activity_5m row per event written to Redis "
        + "from the executors by the jobs' writer; no contract parsing, aggregation, shuffle, state store or "
        + "offline log). The feature job's rows minus the floor are the cost of its work.\n");
    OnlineBenchmark.Freshness last = fresh.get(fresh.size() - 1);
    s.append("\nPer view, in the run with ").append(last.views()).append(" views:\n\n")
        .append("| view | p50 ms | p99 ms |\n|---|---:|---:|\n");
    last.perView().forEach((v, l) -> s.append(String.format("| %s | %.0f | %.0f |%n", v, l.p50(), l.p99())));
    s.append(freshnessVerdict(fresh, floor.latency().p99()));

    Section.replace(out, "## Online: freshness", s.toString());
  }

  private void writeLookupReport(List<OnlineBenchmark.Lookup> lookups, OnlineBenchmark.Lookup bench8x100,
      OnlineBenchmark.Lookup ours8x100) throws IOException {
    StringBuilder s = new StringBuilder();
    s.append("## Online: lookups\n\n");
    s.append("Measured ").append(LocalDate.now()).append(" with `./run bench ").append(which).append("` on ")
        .append(machine()).append(".\n");
    s.append("Embedded stack (redis-server ").append(redisVersion()).append(", ")
        .append(String.join(" ", io.recsys.infra.stack.internal.RedisServerProcess.ONLINE_STORE_SETTINGS))
        .append(", as README advises for the online store). Each client runs in a JVM of its "
        + "own, as serving code does (no Spark beside it); the gRPC server is the deployed jar (`java -jar "
        + "serving/target/recsys-feature-server.jar`) in a third JVM. Default JVM settings everywhere.\n\n");
    s.append("10,000 users with a 250-feature INT64 view, written by the jobs' writer. Our client and FeastClient: "
        + "random users per call, " + LookupProcess.WARM_UP.toSeconds() + " s of the same calls to warm up (the "
        + "JVMs' steady state; FeastClient " + LookupProcess.GRPC_WARM_UP.toSeconds() + " s, as its calls warm up "
        + "the server's new JVM too, whose JIT was still compiling after 10 s), then 10 s measured; latency per "
        + "call. "
        + "redis-benchmark: the command our client sends (HMGET of the fields), with ASCII keys and field names "
        + "(binary Feast keys cannot be passed on its command line), on 10,000 hashes of as many fields as the "
        + "users' (`-r 10000`, a random user per HMGET, as our client asks for), and once on one hash read over "
        + "and over (Redis then finds it in the CPU's cache); with -P 100, 100 HMGETs per round trip, which is what "
        + "our client sends for 100 entities. Redis us per HMGET: Redis's own time per command over the run "
        + "(`INFO commandstats`, warm-up included). The last row is the floor under the FeastClient row: the same "
        + "client, server and warm-up, calling GetFeastServingInfo, which carries no features and reads nothing "
        + "from Redis.\n\n");
    s.append("| client | threads | entities x features per call | p50 ms | p99 ms | calls/s | entity rows/s | Redis us "
        + "per HMGET |\n").append("|---|---:|---|---:|---:|---:|---:|---:|\n");
    for (OnlineBenchmark.Lookup l : lookups) {
      s.append(String.format("| %s | %d | %d x %d | %.3f | %.3f | %,.0f | %,.0f | %s |%n", l.what(), l.threads(),
          l.entities(), l.features(), l.latency().p50(), l.latency().p99(), l.callsPerSecond(),
          l.entityRowsPerSecond(), l.redisMicrosText()));
    }
    OnlineBenchmark.Lookup one = lookups.get(1);
    OnlineBenchmark.Lookup grpc = lookups.get(lookups.size() - 2);
    OnlineBenchmark.Lookup floor = lookups.get(lookups.size() - 1);
    double share = ours8x100.entityRowsPerSecond() / bench8x100.entityRowsPerSecond();
    s.append(String.format("%nTargets: one entity x 50 features p99 <= 0.5 ms: %s (%.3f ms). Throughput >= 50%% of "
        + "redis-benchmark pipelined (8 threads, 100 entities per call, against -c 8 -P 100 on random users): %s "
        + "(%.0f%%). "
        + "FeastClient 1 x 250 p99 <= 1 ms: %s (%.3f ms; FeastClient's empty GetFeastServingInfo round trip to the "
        + "same server, p50 %.3f / p99 %.3f ms).%n",
        one.latency().p99() <= 0.5 ? "met" : "**not met**", one.latency().p99(),
        share >= 0.5 ? "met" : "**not met**", share * 100,
        grpc.latency().p99() <= 1 ? "met" : "**not met**", grpc.latency().p99(), floor.latency().p50(),
        floor.latency().p99()));
    Section.replace(out, "## Online: lookups", s.toString());
    System.out.println("written to " + out);
  }

  private void batch(Path work) throws Exception {
    SparkSession spark = SparkSessions.create("recsys bench batch", Map.of());
    BatchBenchmark b = new BatchBenchmark(spark, work);
    List<BatchBenchmark.Run> runs = new ArrayList<>();
    Path ml = BatchBenchmark.dataFolder(dataDir, "ml-latest-small");
    System.out.println("ALS on MovieLens from " + ml + "...");
    runs.add(b.run("movielens", io.recsys.streaming.producer.DatasetReplay.movieLens(ml).events()));
    Path retail = BatchBenchmark.dataFolder(dataDir, "online-retail");
    System.out.println("ALS on Online Retail from " + retail + "...");
    runs.add(b.run("online-retail", io.recsys.streaming.producer.DatasetReplay.onlineRetail(retail).events()));

    StringBuilder s = new StringBuilder("## Batch: ALS against a popularity baseline\n\n");
    s.append("Measured ").append(LocalDate.now()).append(" with `./run bench batch` on ").append(machine())
        .append(", Spark local[*]. Each data set becomes silver.events (MovieLens: one rating event per rating; ")
        .append("Online Retail: purchase events per invoice line with a customer, cancellations as removals, which ")
        .append("do not count). The nightly ALS run (`AlsJob`, default grid) holds out the most recent 20% of each ")
        .append("user's items (users with at least 5), trains on the rest, and scores each candidate, and the ")
        .append("popularity baseline, on the held-out items at k = 10; training items are excluded from both ")
        .append("lists. MLlib's BLAS in this JVM: ").append(io.recsys.batch.als.AlsTrainer.blas())
        .append(". Sources: ").append(ml).append(", ").append(retail).append(".\n\n");
    s.append("| data set | events | test users | model | fit s | NDCG@10 | precision@10 | recall@10 | MAP@10 | coverage |\n")
        .append("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for (BatchBenchmark.Run r : runs) {
      for (Map<String, Object> c : r.outcome().search()) {
        var m = (io.recsys.batch.als.RankingEvaluation.Metrics) c.get("metrics");
        var p = (io.recsys.batch.als.AlsTrainer.Params) c.get("params");
        s.append(String.format("| %s | %,d | %,d | ALS rank %d, reg %s, alpha %s, %d iter | %.1f | %.4f | %.4f | %.4f | %.4f | %.3f |%n",
            r.dataset(), r.events(), m.users(), p.rank(), p.regParam(), p.alpha(), p.maxIter(),
            (Double) c.get("fit_seconds"), m.ndcg(), m.precision(), m.recall(), m.map(), m.coverage()));
      }
      var pop = r.outcome().popularity();
      s.append(String.format("| %s | %,d | %,d | popularity | - | %.4f | %.4f | %.4f | %.4f | %.3f |%n", r.dataset(),
          r.events(), pop.users(), pop.ndcg(), pop.precision(), pop.recall(), pop.map(), pop.coverage()));
      System.out.printf("%s: best %s NDCG@10 %.4f vs popularity %.4f (whole run %.0f s)%n", r.dataset(),
          r.outcome().best(), r.outcome().candidate().ndcg(), pop.ndcg(), r.seconds());
    }
    // the targets of issue 4: NDCG@10 >= 1.3 x popularity on both data sets; ALS fit <= 10 s on ml-latest-small,
    // for every candidate, the first one included (the JVM's first use of MLlib)
    s.append("\nTargets: NDCG@10 of the chosen model >= 1.3 x popularity on both data sets; ALS fit <= 10 s on "
        + "ml-latest-small for every candidate, the first (the JVM's first use of MLlib) included.\n");
    for (BatchBenchmark.Run r : runs) {
      double ratio = r.outcome().candidate().ndcg() / r.outcome().popularity().ndcg();
      double slowest = r.outcome().search().stream().mapToDouble(c -> (Double) c.get("fit_seconds")).max().orElse(0);
      double first = (Double) r.outcome().search().get(0).get("fit_seconds");
      s.append(String.format("- %s: NDCG@10 %.2f x popularity (%s); first fit %.1f s, slowest %.1f s%s%n",
          r.dataset(), ratio, ratio >= 1.3 ? "met" : "**not met**", first, slowest,
          r.dataset().equals("movielens") ? (slowest <= 10 ? " (met)" : " (**not met**)") : ""));
    }
    Section.replace(out, "## Batch:", s.toString());
    System.out.println("written to " + out);
  }

  private static String redisVersion() {
    try {
      Process p = new ProcessBuilder("redis-server", "--version").redirectErrorStream(true).start();
      String v = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      p.waitFor();
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("v=(\\S+)").matcher(v);
      return m.find() ? m.group(1) : "unknown";
    } catch (IOException | InterruptedException e) {
      return "unknown";
    }
  }

  static String machine() {
    String cpu = "unknown CPU";
    try {
      cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
          .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse(cpu);
    } catch (IOException ignored) {
      // not Linux: keep "unknown CPU"
    }
    long memGb = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getTotalMemorySize() >> 30;
    return Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), " + memGb + " GB RAM, Java "
        + System.getProperty("java.version");
  }

  private static void deleteTree(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
