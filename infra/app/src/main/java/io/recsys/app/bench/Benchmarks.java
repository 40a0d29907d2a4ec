package io.recsys.app.bench;

import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStacks;
import io.recsys.streaming.common.JobRunner;
import io.recsys.streaming.common.SparkSessions;
import io.recsys.streaming.common.UserError;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
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

/** {@code ./run bench [ingest]}: runs a benchmark and writes its section of BENCHMARKS.md. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Run benchmarks; results go to BENCHMARKS.md.")
public final class Benchmarks implements Callable<Integer> {

  @Parameters(index = "0", defaultValue = "ingest", description = "Which benchmark: ingest.")
  String which;
  @Option(names = "--events", defaultValue = "1000000", description = "Records to ingest (default: ${DEFAULT-VALUE}).")
  long events;
  @Option(names = "--per-batch", defaultValue = "500000", description = "maxOffsetsPerTrigger (default: ${DEFAULT-VALUE}).")
  long perBatch;
  @Option(names = "--out", defaultValue = "BENCHMARKS.md", description = "Results file (default: ${DEFAULT-VALUE}).")
  Path out;

  public static void main(String[] args) {
    JobRunner.main(new Benchmarks(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (!which.equals("ingest")) {
      throw UserError.badArgument("bench", which, "ingest");
    }
    Configurator.setLevel("org.apache.spark", Level.ERROR);
    Configurator.setLevel("io.recsys", Level.WARN);
    Path work = Path.of("bench-data").toAbsolutePath();
    deleteTree(work);
    Files.createDirectories(work);
    try (LocalStack stack = LocalStacks.start(work.resolve("stack"))) {
      SparkSession spark = SparkSessions.create("recsys bench", Map.of());
      IngestBenchmark b = new IngestBenchmark(spark, stack, work, perBatch);
      System.out.println("warming up Spark and Delta on 100,000 records...");
      b.produce("warmup", 100_000);
      b.plainQuery("warmup", 100_000, b.lake("warm-plain"));
      b.bronze("warmup", 100_000, b.lake("warm-bronze"));

      System.out.printf("producing %,d records...%n", events);
      List<IngestBenchmark.Result> results = new ArrayList<>();
      results.add(b.produce("bench", events));
      results.add(b.rawConsumer("bench", events));
      results.add(b.plainQuery("bench", events, b.lake("plain")));
      results.add(b.bronze("bench", events, b.lake("bronze")));
      results.add(b.plainQuery("bench", events, b.lake("plain-2")));
      results.add(b.bronze("bench", events, b.lake("bronze-2")));
      for (IngestBenchmark.Result r : results) {
        System.out.printf("%-45s %,10d records %8.2f s %,12.0f records/s%n", r.name(), r.records(), r.seconds(), r.rate());
      }
      writeReport(results);
    } finally {
      deleteTree(work);
    }
    return 0;
  }

  private void writeReport(List<IngestBenchmark.Result> r) throws IOException {
    double plain = Math.max(r.get(2).rate(), r.get(4).rate());
    double bronze = Math.max(r.get(3).rate(), r.get(5).rate());
    StringBuilder s = new StringBuilder();
    s.append("## Ingest: Kafka -> validated bronze\n\n");
    s.append("Measured ").append(LocalDate.now()).append(" with `./run bench ingest --events ").append(events)
        .append(" --per-batch ").append(perBatch).append("` on ").append(machine()).append(".\n");
    s.append("Synthetic clickstream, 1% bad records, 2 Kafka partitions, embedded stack (Kafka KRaft in a child JVM), ")
        .append("Spark local[*], Delta on local disk, trigger available-now, maxOffsetsPerTrigger ").append(perBatch)
        .append(". Each Spark query ran once on a 100k-record warm-up topic first; the plain query and the bronze ")
        .append("job then ran twice each, alternating, over the same records; the better run of each is compared.\n\n");
    s.append("| what | records | seconds | records/s |\n|---|---:|---:|---:|\n");
    for (IngestBenchmark.Result x : r) {
      s.append(String.format("| %s | %,d | %.2f | %,.0f |%n", x.name(), x.records(), x.seconds(), x.rate()));
    }
    s.append(String.format("%nValidated bronze: **%,.0f events/s**, %.2f x the plain query (targets: >= 100,000 "
        + "events/s and >= 0.9 x).%n", bronze, bronze / plain));
    Section.replace(out, "## Ingest:", s.toString());
    System.out.printf("%nvalidated bronze %,.0f events/s = %.2f x plain query; written to %s%n", bronze, bronze / plain, out);
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
