package io.recsys.streaming.producer;

import io.recsys.contract.Event;
import io.recsys.contract.ReasonCode;
import io.recsys.spark.JobRunner;
import io.recsys.streaming.common.KafkaAccess;
import io.recsys.spark.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.LongConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./run replay}: sends a data set to Kafka as events (the synthetic clickstream, MovieLens or Online
 * Retail), optionally paced to a rate. Prints what it sent and which bad records it injected on purpose.
 */
@Command(name = "replay", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Send events to Kafka: a synthetic clickstream or a real data set replayed in time order.")
public final class ReplayCommand implements Callable<Integer> {

  /** Which data set. */
  public enum Dataset { SYNTHETIC, MOVIELENS, ONLINE_RETAIL }

  /** What a replay sent. */
  public record Summary(long sent, Map<ReasonCode, Long> injectedBad, Map<String, Long> skipped, long millis) {}

  @Option(names = "--bootstrap", required = true, description = "Kafka bootstrap servers.")
  String bootstrap;
  @Option(names = "--topic", defaultValue = "events", description = "Topic (default: ${DEFAULT-VALUE}).")
  String topic;
  @Option(names = "--dataset", defaultValue = "synthetic",
      description = "synthetic, movielens or online-retail (default: ${DEFAULT-VALUE}).")
  String dataset;
  @Option(names = "--events", description = "How many records: for synthetic the total (default 100000); "
      + "for a data set at most this many, from the start (default: all).")
  Long events;
  @Option(names = "--since", description = "Data sets only: skip events before this ISO-8601 instant.")
  String since;
  @Option(names = "--data-dir", description = "Folder holding ml-latest-small/ and online-retail/ "
      + "(default: ../shared/data, else the small samples in data/samples).")
  Path dataDir;
  @Option(names = "--bad-ratio", defaultValue = "0.0", description = "Share of bad records, 0..1: the synthetic generator emits them in place of events; "
      + "a replay of a real data set adds them beside its events (one bad copy of an event each).")
  double badRatio;
  @Option(names = "--late-ratio", defaultValue = "0.0", description = "Synthetic: share of late events, 0..1.")
  double lateRatio;
  @Option(names = "--out-of-order-ratio", defaultValue = "0.0", description = "Synthetic: share sent out of order.")
  double outOfOrderRatio;
  @Option(names = "--seed", defaultValue = "42", description = "Synthetic: random seed (default: ${DEFAULT-VALUE}).")
  long seed;
  @Option(names = "--rate", defaultValue = "0", description = "Records per second at most, 0 for as fast as possible.")
  double rate;

  public static void main(String[] args) {
    JobRunner.main(new ReplayCommand(), args);
  }

  @Override
  public Integer call() throws IOException {
    Dataset ds = parseDataset(dataset);
    KafkaAccess.checkTopic(bootstrap, topic, Map.of());
    Summary s = run(ds, bootstrap, topic, p -> { });
    System.out.printf("Sent %,d records to %s/%s in %.1f s (%,.0f records/s).%n", s.sent(), bootstrap, topic,
        s.millis() / 1000.0, s.sent() * 1000.0 / Math.max(1, s.millis()));
    if (!s.injectedBad().isEmpty()) {
      System.out.println("Bad records injected on purpose: " + new TreeMap<>(s.injectedBad()));
    }
    if (!s.skipped().isEmpty()) {
      System.out.println("Source rows not sent: " + s.skipped());
    }
    return 0;
  }

  public static Dataset parseDataset(String name) {
    try {
      return Dataset.valueOf(name.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
    } catch (IllegalArgumentException e) {
      throw UserError.badArgument("--dataset", name, "synthetic, movielens or online-retail");
    }
  }

  /** Sends the data set; {@code progress} gets the running count every 10,000 records. */
  public Summary run(Dataset ds, String servers, String topicName, LongConsumer progress) throws IOException {
    long t0 = System.currentTimeMillis();
    Iterator<ProducedRecord> records;
    SyntheticClickstream synthetic = null;
    BadRecords mixedIn = null;
    Map<String, Long> skipped = Map.of();
    if (ds == Dataset.SYNTHETIC) {
      synthetic = new SyntheticClickstream(SyntheticClickstream.Config.defaults(events == null ? 100_000 : events)
          .withSeed(seed).withBadRatio(badRatio).withDisorder(lateRatio, outOfOrderRatio));
      records = synthetic;
    } else {
      Path dir = dataFolder(ds);
      DatasetReplay.Replay replay = ds == Dataset.MOVIELENS ? DatasetReplay.movieLens(dir) : DatasetReplay.onlineRetail(dir);
      List<Event> list = replay.events();
      if (since != null) {
        long from = parseInstant(since);
        list = list.stream().filter(e -> e.eventTimeMillis() >= from).toList();
      }
      if (events != null && events < list.size()) {
        list = list.subList(0, (int) (long) events);
      }
      skipped = replay.skipped();
      mixedIn = badRatio > 0 ? new BadRecords() : null;
      records = mixedIn == null ? DatasetReplay.records(list) : mixedIn.mixedInto(list, badRatio, seed);
    }
    long sent = 0;
    try (EventProducer producer = new EventProducer(servers, topicName, Map.of())) {
      while (records.hasNext()) {
        producer.send(records.next());
        sent++;
        if (rate > 0) {
          pace(t0, sent);
        }
        if (sent % 10_000 == 0) {
          progress.accept(sent);
        }
      }
      producer.flush();
    }
    if (sent % 10_000 != 0) {
      progress.accept(sent);
    }
    return new Summary(sent, synthetic != null ? synthetic.injectedBadRecords()
        : mixedIn != null ? mixedIn.injected() : Map.of(), skipped,
        System.currentTimeMillis() - t0);
  }

  private void pace(long t0, long sent) {
    long due = t0 + (long) (sent * 1000.0 / rate);
    long wait = due - System.currentTimeMillis();
    if (wait > 0) {
      try {
        Thread.sleep(wait);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw UserError.of("Interrupted while replaying", "Run the replay again");
      }
    }
  }

  private Path dataFolder(Dataset ds) {
    String sub = ds == Dataset.MOVIELENS ? "ml-latest-small" : "online-retail";
    List<Path> candidates = dataDir != null ? List.of(dataDir.resolve(sub), dataDir)
        : List.of(Path.of("..", "shared", "data", sub), Path.of("data", "samples", sub));
    for (Path p : candidates) {
      if (Files.exists(p.resolve(ds == Dataset.MOVIELENS ? "ratings.csv" : "online_retail.csv.gz"))
          || Files.exists(p.resolve("online_retail.csv"))) {
        return p;
      }
    }
    throw UserError.of("The " + sub + " data set was not found in " + candidates,
        "Pass --data-dir pointing at the folder that holds " + sub + "/, or use --dataset synthetic");
  }

  private static long parseInstant(String text) {
    try {
      return Instant.parse(text).toEpochMilli();
    } catch (DateTimeParseException e) {
      throw UserError.badArgument("--since", text, "an ISO-8601 instant like 2018-01-01T00:00:00Z");
    }
  }

  /** For the demo and tests: a command with these settings. */
  public static ReplayCommand of(Long events, double badRatio, double lateRatio, double outOfOrderRatio,
      Path dataDir, String since) {
    ReplayCommand c = new ReplayCommand();
    c.events = events;
    c.badRatio = badRatio;
    c.lateRatio = lateRatio;
    c.outOfOrderRatio = outOfOrderRatio;
    c.dataDir = dataDir;
    c.since = since;
    c.topic = "events";
    return c;
  }
}
