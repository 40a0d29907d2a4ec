package io.recsys.streaming.bronze;

import static io.recsys.streaming.bronze.IngestFixtures.assertExactlyOnce;
import static io.recsys.streaming.bronze.IngestFixtures.config;
import static io.recsys.streaming.bronze.IngestFixtures.ingestAll;
import static io.recsys.streaming.bronze.IngestFixtures.names;
import static io.recsys.streaming.bronze.IngestFixtures.newTopic;
import static io.recsys.streaming.bronze.IngestFixtures.produceSynthetic;
import static io.recsys.streaming.bronze.IngestFixtures.quarantineByReason;
import static org.assertj.core.api.Assertions.assertThat;

import io.delta.tables.DeltaTable;
import io.recsys.contract.ReasonCode;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.SparkTestSession;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.streaming.metrics.StreamMetrics;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;
import io.recsys.streaming.common.SupervisedQuery;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exactly once under crashes: during a 200k-record replay with injected bad records, the ingest query is stopped
 * at random moments in this JVM and its own JVM is SIGKILLed mid-batch, then restarted from its checkpoint each
 * time. Afterwards bronze.events ∪ bronze.quarantine must hold every Kafka offset exactly once.
 */
@ExtendWith(LocalStackExtension.class)
class ExactlyOnceCrashIT {

  private static final Logger LOG = LoggerFactory.getLogger(ExactlyOnceCrashIT.class);
  private static final long RECORDS = 200_000;
  private static final long PER_BATCH = 12_000;

  final SparkSession spark = SparkTestSession.get();
  final Random random = new Random(2026);

  @Test
  void stopsAndKillsLoseNothingAndDuplicateNothing(LocalStack stack, @TempDir Path dir) throws Exception {
    String topic = newTopic(stack, 2);
    Map<ReasonCode, Long> injected = produceSynthetic(stack, topic, RECORDS, 0.02, 99);
    LakeLayout lake = new LakeLayout(dir.resolve("lake").toUri().toString());
    BronzeIngestConfig cfg = config(stack, lake.root(), topic)
        .withTrigger(TriggerSpec.parse("200ms")).withMaxOffsetsPerTrigger(PER_BATCH);

    // 1. stop the query in this JVM at random moments (often in the middle of a micro-batch)
    for (int i = 0; i < 3; i++) {
      SupervisedQuery q = BronzeIngestJob.run(spark, cfg, new StreamMetrics(cfg.queryName()), p -> { });
      awaitCommits(lake, 1 + i, 120);
      Thread.sleep(random.nextInt(1500));
      q.stop();
      LOG.info("stop {}: events table at version {}", i, version(lake));
    }

    // 2. SIGKILL the job's own JVM mid-batch, twice
    for (int i = 0; i < 2; i++) {
      long before = version(lake);
      Process job = launchJobJvm(stack, lake, topic, dir.resolve("job-" + i + ".log"));
      awaitCommits(lake, before + 2, 180);
      Thread.sleep(random.nextInt(1500));
      job.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      LOG.info("kill {}: events table went from version {} to {}", i, before, version(lake));
      assertThat(version(lake)).as("the killed job made progress").isGreaterThan(before);
    }

    long landedBeforeFinish = IngestFixtures.landedCoordinates(spark, lake).count();
    assertThat(landedBeforeFinish).as("the crashes happened before the replay was fully ingested").isLessThan(RECORDS);

    // 3. restart once more and let it catch up
    ingestAll(spark, cfg);

    assertExactlyOnce(spark, lake, stack, topic);
    assertThat(quarantineByReason(spark, lake)).isEqualTo(names(injected));
  }

  /** Waits until bronze.events has at least {@code version} + 1 commits. */
  private void awaitCommits(LakeLayout lake, long version, int seconds) throws InterruptedException {
    long deadline = System.currentTimeMillis() + seconds * 1000L;
    while (version(lake) < version) {
      assertThat(System.currentTimeMillis()).as("waiting for commit " + version).isLessThan(deadline);
      Thread.sleep(100);
    }
  }

  private long version(LakeLayout lake) {
    Path log = Path.of(java.net.URI.create(lake.bronzeEvents() + "/_delta_log"));
    if (!Files.isDirectory(log)) {
      return -1;
    }
    try (var files = Files.list(log)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d{20}\\.json"))
          .mapToLong(n -> Long.parseLong(n.substring(0, 20))).max().orElse(-1);
    } catch (java.io.IOException e) {
      return -1;
    }
  }

  /** The job as users run it: its main, in a JVM of its own, with this JVM's flags and classpath. */
  private static Process launchJobJvm(LocalStack stack, LakeLayout lake, String topic, Path logFile) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (arg.startsWith("--add-") || arg.startsWith("-D") || arg.startsWith("-XX:") || arg.startsWith("-Xmx")) {
        cmd.add(arg);
      }
    }
    Path argFile = Files.createTempFile("classpath", ".args");
    Files.writeString(argFile, "-cp \"" + System.getProperty("java.class.path").replace("\\", "\\\\") + "\"");
    cmd.add("@" + argFile);
    cmd.add(BronzeIngestJob.class.getName());
    cmd.addAll(List.of("--lake", lake.root(), "--bootstrap", stack.kafkaBootstrap(), "--topic", topic,
        "--trigger", "200ms", "--max-offsets-per-trigger", String.valueOf(PER_BATCH), "--metrics-port", "-1"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    pb.environment().put("SPARK_MASTER", "local[2]");
    return pb.start();
  }
}
