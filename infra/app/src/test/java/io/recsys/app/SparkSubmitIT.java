package io.recsys.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.producer.EventProducer;
import io.recsys.streaming.producer.SyntheticClickstream;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded application jar under spark-submit, as on a cluster: SparkSubmit runs in a JVM of its own whose
 * classpath holds only what a Spark 4.1.0 distribution ships (Spark, Scala, Hadoop client, Jackson, log4j, ...).
 * The Kafka source, Delta, S3A and our code must all come from the jar.
 */
@ExtendWith(LocalStackExtension.class)
class SparkSubmitIT {

  /** Jars a Spark distribution does not have: they must be inside recsys-app.jar. */
  private static final Pattern NOT_IN_SPARK = Pattern.compile(
      ".*/(recsys-[^/]*|delta-[^/]*|spark-sql-kafka[^/]*|spark-token-provider[^/]*|kafka-clients[^/]*|hadoop-aws[^/]*"
          + "|software/amazon/awssdk/.*|commons-csv[^/]*|picocli[^/]*|prometheus-metrics[^/]*|failsafe[^/]*"
          + "|testcontainers/.*|org/testcontainers/.*|junit[^/]*|assertj[^/]*|opentest4j[^/]*|apiguardian[^/]*"
          + "|docker-java[^/]*|duct-tape[^/]*|jna[^/]*|unitycatalog[^/]*)\\.jar|.*/(test-)?classes/?");

  private static SparkSession reader;

  @AfterAll
  static void stop() {
    if (reader != null) {
      reader.stop();
    }
  }

  @Test
  void theShadedJarIngestsUnderSparkSubmit(LocalStack stack, @TempDir Path dir) throws Exception {
    String topic = "submit-" + System.nanoTime();
    stack.createTopic(topic, 2);
    SyntheticClickstream gen = new SyntheticClickstream(SyntheticClickstream.Config.defaults(3_000)
        .withBadRatio(0.03).withTime(Instant.now().minusSeconds(1), Duration.ofHours(2)));
    try (EventProducer p = new EventProducer(stack.kafkaBootstrap(), topic, Map.of())) {
      gen.forEachRemaining(p::send);
      p.flush();
    }
    long bad = gen.injectedBadRecords().values().stream().mapToLong(Long::longValue).sum();
    LakeLayout lake = new LakeLayout(dir.resolve("lake").toUri().toString());

    Path appJar = Path.of(System.getProperty("app.jar"));
    assertThat(appJar).exists();
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-") || a.startsWith("-Djdk") || a.startsWith("-Dio.netty")
            || a.startsWith("-Dcom.google") || a.startsWith("-Dlog4j2"))
        .forEach(cmd::add);
    String sparkOnly = sparkDistributionClasspath();
    assertThat(sparkOnly).contains("spark-core_2.13-4.1.0.jar").contains("spark-sql_2.13-4.1.0.jar")
        .doesNotContain("delta-spark").doesNotContain("spark-sql-kafka").doesNotContain("kafka-clients")
        .doesNotContain("hadoop-aws").doesNotContain("recsys-");
    Path argFile = dir.resolve("cp.args");
    Files.writeString(argFile, "-cp \"" + sparkOnly + "\"");
    cmd.add("@" + argFile);
    cmd.addAll(List.of("org.apache.spark.deploy.SparkSubmit", "--master", "local[2]",
        "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
        "--class", "io.recsys.streaming.bronze.BronzeIngestJob", appJar.toString(),
        "--lake", lake.root(), "--bootstrap", stack.kafkaBootstrap(), "--topic", topic,
        "--trigger", "available-now", "--metrics-port", "-1"));
    Path log = dir.resolve("spark-submit.log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    Process p = pb.start();
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("spark-submit finished").isTrue();
    assertThat(p.exitValue()).as("spark-submit exit status; log:\n" + tail(log)).isZero();

    reader = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog").getOrCreate();
    long events = reader.read().format("delta").load(lake.bronzeEvents()).count();
    long quarantined = reader.read().format("delta").load(lake.bronzeQuarantine()).count();
    assertThat(quarantined).isEqualTo(bad);
    assertThat(events + quarantined).isEqualTo(3_000);
  }

  private static String sparkDistributionClasspath() {
    String cp = System.getProperty("java.class.path");
    if (cp.split(File.pathSeparator).length == 1 && cp.endsWith(".jar")) {
      cp = System.getProperty("surefire.test.class.path", cp);
    }
    return Arrays.stream(cp.split(File.pathSeparator))
        .filter(e -> !NOT_IN_SPARK.matcher(e.replace('\\', '/')).matches())
        .collect(Collectors.joining(File.pathSeparator));
  }

  private static String tail(Path log) throws Exception {
    List<String> lines = Files.readAllLines(log);
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }
}
