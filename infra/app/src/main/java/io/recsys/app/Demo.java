package io.recsys.app;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;

import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStacks;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.bronze.BronzeIngestConfig;
import io.recsys.streaming.bronze.BronzeIngestJob;
import io.recsys.spark.JobRunner;
import io.recsys.spark.SparkSessions;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.spark.UserError;
import io.recsys.streaming.metrics.StreamMetrics;
import io.recsys.streaming.producer.ReplayCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import io.recsys.streaming.common.SupervisedQuery;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./run demo}: starts the local stack, replays a data set into Kafka, runs the bronze ingest job and the
 * online-features job until both have caught up while printing progress, summarizes what landed in the lake,
 * and reads one user's features back through our Java client and through the official Feast Java client
 * against our gRPC feature server.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Replay events through Kafka into the Delta lake and the Redis online store on a local stack, "
        + "and show what landed.")
public final class Demo implements Callable<Integer> {

  @Option(names = "--dataset", defaultValue = "synthetic",
      description = "synthetic (works anywhere), movielens or online-retail (need ../shared/data or --data-dir).")
  String dataset;
  @Option(names = "--events", description = "Records to send (synthetic default 100000; data sets: all).")
  Long events;
  @Option(names = "--lake", description = "Lake root (default: demo-data/lake in the checkout).")
  Path lake;
  @Option(names = "--data-dir", description = "Folder holding ml-latest-small/ and online-retail/.")
  Path dataDir;
  @Option(names = "--bad-ratio", description = "Share of bad records mixed in, 0..1 (default: 0.01 for synthetic, 0 "
      + "for the real data sets, to which they are added beside the events).")
  Double badRatio;
  @Option(names = "--reset", description = "Delete a non-default --lake before starting.")
  boolean reset;
  @Option(names = "--no-online", description = "Skip the online-features job and the nightly chain (bronze only).")
  boolean noOnline;
  @Option(names = "--no-nightly", description = "Skip the nightly chain (silver, gold features, check, ALS).")
  boolean noNightly;

  public static void main(String[] args) {
    JobRunner.main(new Demo(), args);
  }

  @Override
  public Integer call() throws Exception {
    ReplayCommand.Dataset ds = ReplayCommand.parseDataset(dataset);
    Path lakeDir = prepareLake();
    // A new broker every time: the lake's checkpoints and the produced counts must match the topic's contents.
    Path stackDir = Path.of("demo-data", "stack").toAbsolutePath();
    deleteTree(stackDir);
    Configurator.setLevel("io.recsys", Level.WARN);
    Configurator.setLevel("org.apache.spark", Level.ERROR);
    Configurator.setLevel("org.apache.kafka", Level.ERROR);

    String steps = noOnline ? "4" : noNightly ? "5" : "6";
    step("1/" + steps, "Starting the local stack (Kafka KRaft, redis-server, S3Proxy; no Docker)");
    long t0 = System.currentTimeMillis();
    try (LocalStack stack = LocalStacks.start(stackDir)) {
      stack.createTopic("events", 2);
      System.out.printf("      kafka %s   redis %s   s3 %s   (%.1f s)%n", stack.kafkaBootstrap(), stack.redisUri(),
          stack.s3().endpoint(), (System.currentTimeMillis() - t0) / 1000.0);

      step("2/" + steps, noOnline ? "Starting Spark and the bronze ingest job (Kafka -> Delta, exactly once)"
          : "Starting Spark, the bronze ingest job (Kafka -> Delta, exactly once) and the online-features job "
          + "(Kafka -> windowed features -> Redis in Feast's layout + Delta features.<view>)");
      SparkSession spark = SparkSessions.create("recsys demo", Map.of());
      LakeLayout layout = new LakeLayout(lakeDir.toUri().toString());
      AtomicLong ingested = new AtomicLong();
      AtomicLong batches = new AtomicLong();
      BronzeIngestConfig config = BronzeIngestConfig.defaults(layout.root(), stack.kafkaBootstrap())
          .withTrigger(TriggerSpec.parse("1s")).withMaxOffsetsPerTrigger(100_000);
      StreamMetrics metrics = new StreamMetrics("bronze-ingest");
      SupervisedQuery query = BronzeIngestJob.run(spark, config, metrics, p -> {
        ingested.addAndGet(p.numInputRows());
        if (p.numInputRows() > 0) {
          batches.incrementAndGet();
          System.out.printf("      micro-batch %d: %,d records in %,d ms -> %,d ingested so far%n", p.batchId(),
              p.numInputRows(), p.durationMs().get("triggerExecution"), ingested.get());
        }
      });

      OnlineRun online = noOnline ? null : OnlineRun.start(spark, layout, stack.kafkaBootstrap(), stack.redisUri());

      step("3/" + steps, "Replaying " + dataset + " into Kafka topic 'events'");
      ReplayCommand replay = ReplayCommand.of(events,
          badRatio != null ? badRatio : ds == ReplayCommand.Dataset.SYNTHETIC ? 0.01 : 0,
          ds == ReplayCommand.Dataset.SYNTHETIC ? 0.01 : 0, ds == ReplayCommand.Dataset.SYNTHETIC ? 0.02 : 0,
          dataDir, null);
      CompletableFuture<ReplayCommand.Summary> sent = CompletableFuture.supplyAsync(() -> {
        try {
          return replay.run(ds, stack.kafkaBootstrap(), "events",
              n -> { if (n % 50_000 == 0) System.out.printf("      produced %,d%n", n); });
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      ReplayCommand.Summary summary;
      try {
        summary = sent.join();
      } catch (java.util.concurrent.CompletionException e) {
        query.stop();
        throw e.getCause() instanceof RuntimeException re ? re : e;
      }
      System.out.printf("      produced %,d records in %.1f s%n", summary.sent(), summary.millis() / 1000.0);
      long waitStart = System.currentTimeMillis();
      while (ingested.get() < summary.sent()) {
        if (query.failure() != null) {
          throw UserError.of("The ingest job failed: " + query.failure().getMessage(), "See the log above");
        }
        if (System.currentTimeMillis() - waitStart > 600_000) {
          throw UserError.of("The ingest job did not catch up within 10 minutes", "See the log above");
        }
        Thread.sleep(200);
      }
      query.stop();
      metrics.close();
      if (online != null) {
        online.awaitCaughtUp(summary.sent());
      }

      step("4/" + steps, "What landed in the lake");
      printSummary(spark, layout, summary);
      if (online != null) {
        online.printOfflineLog(spark);
        step("5/" + steps, "One user's features, read back from Redis through two clients");
        String user = online.printSampleUser(spark, layout);
        if (!noNightly && user != null) {
          step("6/6", "The nightly chain: silver, long-horizon features, online check, ALS and recommendations");
          NightlyRun.run(spark, layout, stack.redisUri(), user);
        }
      }
      System.out.printf("%nDone in %.0f s. The stack has been stopped; the lake stays in %s%n",
          (System.currentTimeMillis() - t0) / 1000.0, lakeDir);
      printNext(lakeDir);
    }
    return 0;
  }

  private Path prepareLake() throws IOException {
    boolean isDefault = lake == null;
    Path dir = (isDefault ? Path.of("demo-data", "lake") : lake).toAbsolutePath();
    if (Files.exists(dir) && hasFiles(dir)) {
      if (!isDefault && !reset) {
        throw UserError.of("--lake " + dir + " is not empty, and the demo starts a new Kafka broker whose offsets "
            + "would not match its checkpoints", "Pass an empty folder, or add --reset to delete it first");
      }
      System.out.println("Deleting the previous demo lake " + dir);
      deleteTree(dir);
    }
    Files.createDirectories(dir);
    return dir;
  }

  private static void deleteTree(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static boolean hasFiles(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.findAny().isPresent();
    }
  }

  private static void printSummary(SparkSession spark, LakeLayout lake, ReplayCommand.Summary sent) {
    long bronze = 0;
    long quarantined = 0;
    if (io.delta.tables.DeltaTable.isDeltaTable(spark, lake.bronzeEvents())) {
      var events = spark.read().format("delta").load(lake.bronzeEvents());
      Row r = events.agg(count("*"), min("event_time"), max("event_time"),
          org.apache.spark.sql.functions.countDistinct("user_id"), org.apache.spark.sql.functions.countDistinct("item_id"))
          .first();
      bronze = r.getLong(0);
      System.out.printf("      bronze.events      %,10d rows  (%s .. %s, %,d users, %,d items)%n", bronze,
          r.get(1), r.get(2), r.getLong(3), r.getLong(4));
      for (Row t : events.groupBy("event_type").count().orderBy(col("count").desc()).collectAsList()) {
        System.out.printf("        %-18s %,10d%n", t.getString(0), t.getLong(1));
      }
    }
    if (io.delta.tables.DeltaTable.isDeltaTable(spark, lake.bronzeQuarantine())) {
      var q = spark.read().format("delta").load(lake.bronzeQuarantine());
      List<Row> byReason = q.groupBy("reason").count().orderBy("reason").collectAsList();
      quarantined = byReason.stream().mapToLong(r -> r.getLong(1)).sum();
      System.out.printf("      bronze.quarantine  %,10d rows%n", quarantined);
      for (Row r : byReason) {
        Long injected = sent.injectedBad().entrySet().stream().filter(e -> e.getKey().name().equals(r.getString(0)))
            .map(Map.Entry::getValue).findFirst().orElse(null);
        System.out.printf("        %-26s %,8d%s%n", r.getString(0), r.getLong(1),
            injected == null ? "" : "  (injected on purpose: " + injected + ")");
      }
    }
    System.out.printf("      produced %,d = bronze %,d + quarantine %,d : %s%n", sent.sent(), bronze, quarantined,
        sent.sent() == bronze + quarantined ? "every record accounted for, exactly once" : "MISMATCH");
    if (!sent.skipped().isEmpty()) {
      System.out.println("      source rows not sent: " + sent.skipped());
    }
  }

  private static void printNext(Path lakeDir) {
    System.out.println();
    System.out.println("Try next:");
    System.out.println("  ./run stack up                                   # a local stack that stays up");
    System.out.println("  ./run replay --bootstrap <kafka> --events 20000 --bad-ratio 0.05");
    System.out.println("  ./run job bronze-ingest --lake /tmp/lake --bootstrap <kafka> --trigger 5s");
    System.out.println("  ./run job quarantine-replay --lake " + lakeDir + " --dry-run");
    System.out.println("  ./run job online-features --lake /tmp/lake --bootstrap <kafka> --redis <redis>");
    System.out.println("  ./run serve                                      # Feast gRPC server on the stack's Redis");
    System.out.println("  ./run feast apply && ./run feast feature-views list");
    System.out.println("  ./run demo --dataset movielens                   # real data (needs ../shared/data)");
  }

  private static void step(String n, String what) {
    System.out.println();
    System.out.println("[" + n + "] " + what);
  }
}
