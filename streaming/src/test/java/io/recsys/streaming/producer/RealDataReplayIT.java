package io.recsys.streaming.producer;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.contract.Event;
import io.recsys.contract.EventType;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.SparkTestSession;
import io.recsys.streaming.bronze.BronzeIngestConfig;
import io.recsys.streaming.bronze.BronzeIngestJob;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.streaming.metrics.StreamMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real data sets through Kafka into bronze: the full sets in ../shared/data when present, else the samples in
 * data/samples. What must be quarantined is computed from the source rows, independently of the parser.
 */
@ExtendWith(LocalStackExtension.class)
class RealDataReplayIT {

  static final Path DATA = Files.exists(Path.of("..", "..", "shared", "data", "ml-latest-small", "ratings.csv"))
      ? Path.of("..", "..", "shared", "data") : Path.of("..", "data", "samples");
  final SparkSession spark = SparkTestSession.get();

  @Test
  void onlineRetailLinesLandAsPurchasesAndRemovalsAndOnlyContractBreakersAreQuarantined(LocalStack stack, @TempDir Path dir) throws Exception {
    long n = 20_000;
    List<Event> source = DatasetReplay.onlineRetail(DATA.resolve("online-retail")).events();
    source = source.subList(0, (int) Math.min(n, source.size()));
    // lines the contract would reject: a purchase of fewer than one item, a negative price (in the full set every
    // such line lacks a CustomerID and is not sent, so this is 0 there: nothing valid may be quarantined)
    long invalid = source.stream().filter(e -> (e.quantity() != null && e.quantity() < 1)
        || (e.price() != null && e.price() < 0)).count();

    Map<String, Long> landed = replayAndIngest(stack, dir, ReplayCommand.Dataset.ONLINE_RETAIL, n, "retail");

    assertThat(landed.get("events") + landed.get("quarantine")).isEqualTo(source.size());
    assertThat(landed.get("quarantine")).isEqualTo(invalid);
    if (invalid > 0) {
      assertThat(landed.get("INVALID_VALUE")).isEqualTo(invalid);
    }
    assertThat(landed.get("purchase") + landed.get("remove_from_cart")).isEqualTo(landed.get("events"));
    assertThat(landed.get("remove_from_cart")).isEqualTo(source.stream()
        .filter(e -> e.eventType() == EventType.REMOVE_FROM_CART).count());
  }

  @Test
  void movieLensRatingsAllLand(LocalStack stack, @TempDir Path dir) throws Exception {
    long n = 15_000;
    List<Event> source = DatasetReplay.movieLens(DATA.resolve("ml-latest-small")).events();
    long expected = Math.min(n, source.size());

    Map<String, Long> landed = replayAndIngest(stack, dir, ReplayCommand.Dataset.MOVIELENS, n, "movies");

    assertThat(landed.get("events")).isEqualTo(expected);
    assertThat(landed.get("quarantine")).isZero();
    assertThat(landed.get("rating")).isEqualTo(expected);
  }

  private Map<String, Long> replayAndIngest(LocalStack stack, Path dir, ReplayCommand.Dataset ds, long n,
      String name) throws Exception {
    String topic = name + "-" + System.nanoTime();
    stack.createTopic(topic, 2);
    ReplayCommand.Summary sent = ReplayCommand.of(n, 0, 0, 0, DATA, null).run(ds, stack.kafkaBootstrap(), topic, x -> { });
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    BronzeIngestConfig cfg = BronzeIngestConfig.defaults(lake.root(), stack.kafkaBootstrap()).withTopic(topic)
        .withTrigger(TriggerSpec.parse("available-now"));
    BronzeIngestJob.run(spark, cfg, new StreamMetrics(name), p -> { }).awaitTermination();

    Map<String, Long> out = new java.util.HashMap<>();
    var events = spark.read().format("delta").load(lake.bronzeEvents());
    out.put("events", events.count());
    for (Row r : events.groupBy("event_type").count().collectAsList()) {
      out.put(r.getString(0), r.getLong(1));
    }
    out.putIfAbsent("remove_from_cart", 0L);
    out.putIfAbsent("purchase", 0L);
    long q = 0;
    if (io.delta.tables.DeltaTable.isDeltaTable(spark, lake.bronzeQuarantine())) {
      var quarantine = spark.read().format("delta").load(lake.bronzeQuarantine());
      q = quarantine.count();
      for (Row r : quarantine.groupBy("reason").count().collectAsList()) {
        out.put(r.getString(0), r.getLong(1));
      }
    }
    out.put("quarantine", q);
    assertThat(out.get("events") + q).as("every record sent landed").isEqualTo(sent.sent());
    return out;
  }
}
