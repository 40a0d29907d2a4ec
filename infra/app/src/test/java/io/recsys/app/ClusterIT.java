package io.recsys.app;

import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.batch.als.Recommendations;
import io.recsys.features.FeatureDefinitions;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.lake.LakeLayout;
import io.recsys.serving.OnlineFeatureClient;
import io.recsys.serving.Recommender;
import io.recsys.streaming.producer.EventProducer;
import io.recsys.streaming.producer.SyntheticClickstream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application jar on a real multi-process Spark cluster: a standalone master and two workers on 127.0.0.1,
 * started from the project's own Spark jars (a SPARK_HOME of links, no download), each job submitted with
 * spark-submit in client mode, executors in JVMs the workers launch, the lake on s3a:// (S3Proxy), Kafka and
 * Redis from the local stack. Ingest, online features, silver and ALS run in turn; then the lake,
 * Redis and recommend(user) are checked, and both workers must have run executors. The driver and the executors
 * see only what a Spark distribution ships, so Kafka's source, Delta, S3A and our code must come from the jar. Whatever only works in local
 * mode (a closure holding a client, a driver-local path, an executor without credentials) fails here.
 */
@ExtendWith(LocalStackExtension.class)
class ClusterIT {

  private final List<Process> daemons = new ArrayList<>();
  private SparkSession reader;

  @AfterEach
  void stop() {
    if (reader != null) {
      reader.stop();
    }
    daemons.forEach(p -> p.descendants().forEach(ProcessHandle::destroyForcibly));
    daemons.forEach(Process::destroyForcibly);
  }

  @Test
  void theJobsRunOnAStandaloneClusterOfTwoWorkers(LocalStack stack, @TempDir Path dir) throws Exception {
    String topic = "cluster-" + System.nanoTime();
    stack.createTopic(topic, 2);
    SyntheticClickstream gen = new SyntheticClickstream(SyntheticClickstream.Config.defaults(4_000)
        .withBadRatio(0.02).withTime(Instant.now().minusSeconds(5), Duration.ofHours(3)));
    try (EventProducer p = new EventProducer(stack.kafkaBootstrap(), topic, Map.of())) {
      gen.forEachRemaining(p::send);
      p.flush();
    }
    long bad = gen.injectedBadRecords().values().stream().mapToLong(Long::longValue).sum();

    String sparkOnly = SparkDistribution.classpath();
    assertThat(sparkOnly).as("what a Spark distribution has, and only that").contains("spark-core_2.13-4.1.0.jar")
        .contains("spark-sql_2.13-4.1.0.jar").doesNotContain("delta-spark").doesNotContain("spark-sql-kafka")
        .doesNotContain("kafka-clients").doesNotContain("hadoop-aws").doesNotContain("recsys-");
    Path home = SparkDistribution.home(dir.resolve("spark-home"));
    String master = startMaster(home, dir);
    for (int i = 1; i <= 2; i++) {
      startWorker(home, dir, master, i);
    }

    String lakeRoot = stack.s3().lakeUri() + "/cluster-" + System.nanoTime();
    List<String> lake = List.of("--lake", lakeRoot, "--s3-endpoint", stack.s3().endpoint());
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    String from = today.minusDays(1).toString();
    submit(dir, master, stack, "io.recsys.streaming.bronze.BronzeIngestJob", lake, "--bootstrap",
        stack.kafkaBootstrap(), "--topic", topic, "--trigger", "available-now", "--metrics-port", "-1");
    // the spool's thread appends nothing during the job (an hour), so the offline log's commits are known below
    submit(dir, master, stack, Map.of("spark.recsys.online.offlineLogInterval", "1h"),
        "io.recsys.streaming.online.OnlineFeaturesJob", lake, "--bootstrap",
        stack.kafkaBootstrap(), "--topic", topic, "--redis", stack.redisUri(), "--trigger", "available-now",
        "--max-offsets-per-trigger", "1000", "--metrics-port", "-1", "--views", "user_activity_1h");
    submit(dir, master, stack, "io.recsys.batch.silver.SilverJob", lake, "--from", from, "--to", today.toString());
    submit(dir, master, stack, "io.recsys.batch.als.AlsCommand", lake, "--redis", stack.redisUri(),
        "--date", today.toString(), "--grid", "16,0.05,10,5");

    // the executors ran in the workers' JVMs, on both workers
    for (int i = 1; i <= 2; i++) {
      try (Stream<Path> files = Files.walk(dir.resolve("work-" + i))) {
        assertThat(files.filter(f -> f.getFileName().toString().equals("stderr")).count())
            .as("executor logs under worker " + i).isPositive();
      }
    }

    LakeLayout layout = new LakeLayout(lakeRoot);
    SparkSession spark = reader(stack);
    long events = spark.read().format("delta").load(layout.bronzeEvents()).count();
    long quarantined = spark.read().format("delta").load(layout.bronzeQuarantine()).count();
    assertThat(quarantined).isEqualTo(bad);
    assertThat(events + quarantined).isEqualTo(4_000);
    assertThat(spark.read().format("delta").load(layout.silverEvents()).count()).isEqualTo(events);
    List<Row> recs = spark.read().format("delta").load(Recommendations.recommendationsTable(layout))
        .select("user_id", "items").collectAsList();
    assertThat(recs).isNotEmpty();

    // the online job's offline log: its micro-batches after the first went through the spool on s3a://, and the
    // end of the job appended them, each once: a batch appended twice would repeat its rows, created_timestamp and
    // all (a window's row can repeat its counts in another batch: events of other types update the window)
    var offline = spark.read().format("delta").load(layout.features("user_activity_1h"));
    assertThat(offline.count()).isPositive().isEqualTo(offline.distinct().count());
    assertThat(io.delta.tables.DeltaTable.forPath(spark, layout.features("user_activity_1h")).history()
        .filter("operation = 'WRITE'").count()).as("the first micro-batch's append, then the spooled ones' at the end")
        .isEqualTo(2);
    org.apache.hadoop.fs.Path spool = new org.apache.hadoop.fs.Path(
        layout.checkpoint("online-features") + "/user_activity_1h/offline-log-spool");
    org.apache.hadoop.fs.FileSystem fs = spool.getFileSystem(spark.sparkContext().hadoopConfiguration());
    assertThat(fs.exists(spool) ? fs.listStatus(spool) : new org.apache.hadoop.fs.FileStatus[0]).as("spool emptied")
        .isEmpty();

    FeatureDefinitions defs = FeatureDefinitions.load();
    try (OnlineFeatureClient client = new OnlineFeatureClient(stack.redisUri(), defs)) {
      String user = recs.get(0).getString(0);
      var online = client.get(List.of(user), List.of("user_activity_1h:views")).get(0);
      assertThat(online.values()).as("written to Redis from the executors")
          .allMatch(v -> v.status() == OnlineFeatureClient.Status.PRESENT);
      Recommender.Recommendations r = client.recommend(user, 5);
      assertThat(r.personalized()).isTrue();
      assertThat(r.items()).isNotEmpty();
      assertThat(recs.get(0).<String>getList(1)).containsAll(r.items().stream()
          .filter(i -> i.source() == Recommender.Source.MODEL).map(Recommender.Item::itemId).toList());
    }
  }

  private String startMaster(Path home, Path dir) throws Exception {
    Path log = dir.resolve("master.log");
    Process p = daemon(home, dir, log, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
        "--port", "0", "--webui-port", "0");
    Matcher m = awaitLog(p, log, Pattern.compile("Starting Spark master at (spark://127\\.0\\.0\\.1:\\d+)"));
    awaitLog(p, log, Pattern.compile("I have been elected leader"));
    return m.group(1);
  }

  private void startWorker(Path home, Path dir, String master, int n) throws Exception {
    Path log = dir.resolve("worker-" + n + ".log");
    Process p = daemon(home, dir, log, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
        "--port", "0", "--webui-port", "0", "--cores", "1", "--memory", "1536m",
        "--work-dir", dir.resolve("work-" + n).toString(), master);
    awaitLog(p, log, Pattern.compile("Successfully registered with master"));
  }

  private Process daemon(Path home, Path dir, Path log, String main, String... args) throws IOException {
    List<String> cmd = SparkDistribution.java(dir.resolve(main + ".args"), SparkDistribution.classpath());
    cmd.add("-Xmx384m");
    cmd.add(main);
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("SPARK_HOME", home.toString());
    pb.environment().put("SPARK_SCALA_VERSION", "2.13");
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    Process p = pb.start();
    daemons.add(p);
    return p;
  }

  private static Matcher awaitLog(Process p, Path log, Pattern pattern) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      Matcher m = pattern.matcher(Files.exists(log) ? Files.readString(log) : "");
      if (m.find()) {
        return m;
      }
      assertThat(p.isAlive()).as("the daemon is alive; its log:\n" + tail(log)).isTrue();
      Thread.sleep(200);
    }
    throw new AssertionError("no '" + pattern + "' within 90 s in " + log + ":\n" + tail(log));
  }

  private void submit(Path dir, String master, LocalStack stack, String main, List<String> lake, String... args)
      throws Exception {
    submit(dir, master, stack, Map.of(), main, lake, args);
  }

  /** spark-submit of {@code main} on the cluster, with {@code conf} as more --conf settings. */
  private void submit(Path dir, String master, LocalStack stack, Map<String, String> conf, String main,
      List<String> lake, String... args) throws Exception {
    String name = main.substring(main.lastIndexOf('.') + 1);
    List<String> cmd = SparkDistribution.java(dir.resolve(name + ".args"), SparkDistribution.classpath());
    cmd.add("-Xmx1g");
    String executorFlags = String.join(" ", SparkDistribution.jvmFlags().stream()
        .filter(f -> f.startsWith("-D")).toList());
    cmd.addAll(List.of("org.apache.spark.deploy.SparkSubmit", "--master", master, "--deploy-mode", "client",
        "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
        "--conf", "spark.executor.memory=1g", "--conf", "spark.executor.cores=1", "--conf", "spark.cores.max=2",
        // sized for a few thousand events, as a user sizes a small job (the defaults suit big data: 200 and 50)
        "--conf", "spark.sql.shuffle.partitions=4", "--conf", "spark.databricks.delta.snapshotPartitions=2",
        // what this test checks is distribution (the jar's contents, closures, executors, credentials), not code
        // generation: compiling every plan costs more than running it on a few thousand rows in cold executor JVMs
        // (the tests' SparkTestSession does the same; ReplayChainIT's demo runs the jobs with Spark's defaults)
        "--conf", "spark.sql.codegen.wholeStage=false", "--conf", "spark.sql.codegen.factoryMode=NO_CODEGEN",
        "--conf", "spark.executor.extraJavaOptions=" + executorFlags,
        // executors get the credentials the way a user gives them on a cluster
        "--conf", "spark.executorEnv.AWS_ACCESS_KEY_ID=" + stack.s3().accessKey(),
        "--conf", "spark.executorEnv.AWS_SECRET_ACCESS_KEY=" + stack.s3().secretKey(),
        "--class", main));
    conf.forEach((k, v) -> cmd.addAll(List.of("--conf", k + "=" + v)));
    cmd.add(Path.of(System.getProperty("app.jar")).toString());
    cmd.addAll(lake);
    cmd.addAll(List.of(args));
    Path log = dir.resolve(name + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    pb.environment().put("AWS_ACCESS_KEY_ID", stack.s3().accessKey());
    pb.environment().put("AWS_SECRET_ACCESS_KEY", stack.s3().secretKey());
    long t0 = System.nanoTime();
    Process p = pb.start();
    if (!p.waitFor(8, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError(name + " did not finish within 8 minutes:\n" + tail(log));
    }
    assertThat(p.exitValue()).as(name + " exit status; log:\n" + tail(log)).isZero();
    System.out.printf("cluster: %s took %.0f s%n", name, (System.nanoTime() - t0) / 1e9);
  }

  private SparkSession reader(LocalStack stack) {
    SparkSession.Builder b = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog");
    stack.s3().hadoopConf().forEach((k, v) -> b.config("spark.hadoop." + k, v));
    reader = b.getOrCreate();
    return reader;
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }
}
