package io.recsys.streaming.bronze;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.contract.ReasonCode;
import io.recsys.infra.stack.LocalStack;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.streaming.metrics.StreamMetrics;
import io.recsys.streaming.producer.EventProducer;
import io.recsys.streaming.producer.ProducedRecord;
import io.recsys.streaming.producer.SyntheticClickstream;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import io.recsys.streaming.common.SupervisedQuery;

/** Shared steps of the ingestion integration tests. */
public final class IngestFixtures {

  private static final AtomicInteger TOPICS = new AtomicInteger();

  private IngestFixtures() {}

  public static String newTopic(LocalStack stack, int partitions) {
    String topic = "events-" + TOPICS.incrementAndGet() + "-" + System.nanoTime() % 100_000;
    stack.createTopic(topic, partitions);
    return topic;
  }

  /** Sends a synthetic clickstream; returns the bad records injected, by reason. */
  static Map<ReasonCode, Long> produceSynthetic(LocalStack stack, String topic, long records, double badRatio,
      long seed) {
    SyntheticClickstream gen = new SyntheticClickstream(SyntheticClickstream.Config.defaults(records)
        .withSeed(seed).withBadRatio(badRatio).withDisorder(0.01, 0.02)
        .withTime(Instant.now().minusSeconds(1), Duration.ofHours(6)));
    produce(stack, topic, gen);
    return gen.injectedBadRecords();
  }

  public static void produce(LocalStack stack, String topic, Iterator<ProducedRecord> records) {
    try (EventProducer p = new EventProducer(stack.kafkaBootstrap(), topic, Map.of())) {
      records.forEachRemaining(p::send);
      p.flush();
    }
  }

  static BronzeIngestConfig config(LocalStack stack, String lakeRoot, String topic) {
    return BronzeIngestConfig.defaults(lakeRoot, stack.kafkaBootstrap()).withTopic(topic);
  }

  /** Runs the job with trigger available-now until it has consumed everything. */
  static void ingestAll(SparkSession spark, BronzeIngestConfig config) throws Exception {
    SupervisedQuery q = BronzeIngestJob.run(spark, config.withTrigger(TriggerSpec.parse("available-now")),
        new StreamMetrics(config.queryName()), p -> { });
    q.awaitTermination();
  }

  /** The end offset of every partition of a topic. */
  static Map<Integer, Long> endOffsets(LocalStack stack, String topic) {
    Map<String, Object> conf = new HashMap<>();
    conf.put("bootstrap.servers", stack.kafkaBootstrap());
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(conf, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> parts = c.partitionsFor(topic).stream()
          .map(p -> new TopicPartition(topic, p.partition())).toList();
      Map<Integer, Long> out = new HashMap<>();
      c.endOffsets(parts).forEach((tp, off) -> out.put(tp.partition(), off));
      return out;
    }
  }

  /** Kafka coordinates of every row of both tables. */
  static Dataset<Row> landedCoordinates(SparkSession spark, LakeLayout lake) {
    Dataset<Row> events = spark.read().format("delta").load(lake.bronzeEvents())
        .select("kafka_topic", "kafka_partition", "kafka_offset");
    if (!io.delta.tables.DeltaTable.isDeltaTable(spark, lake.bronzeQuarantine())) {
      return events;
    }
    return events.unionAll(spark.read().format("delta").load(lake.bronzeQuarantine())
        .select("kafka_topic", "kafka_partition", "kafka_offset"));
  }

  /**
   * The exactly-once check: the union of bronze.events and bronze.quarantine holds every offset of every
   * partition of the topic once: none twice, none missing.
   */
  static void assertExactlyOnce(SparkSession spark, LakeLayout lake, LocalStack stack, String topic) {
    Map<Integer, Long> end = endOffsets(stack, topic);
    long expected = end.values().stream().mapToLong(Long::longValue).sum();
    Dataset<Row> landed = landedCoordinates(spark, lake).filter("kafka_topic = '" + topic + "'").cache();
    try {
      long total = landed.count();
      long distinct = landed.distinct().count();
      assertThat(distinct).as("distinct (partition, offset) landed").isEqualTo(expected);
      assertThat(total).as("rows landed (a duplicate would make this larger than the distinct count)")
          .isEqualTo(distinct);
      for (Row r : landed.groupBy("kafka_partition")
          .agg(org.apache.spark.sql.functions.min("kafka_offset"), org.apache.spark.sql.functions.max("kafka_offset"),
              org.apache.spark.sql.functions.count("*"))
          .collectAsList()) {
        long endOffset = end.get(r.getInt(0));
        assertThat(r.getLong(1)).as("first offset of partition " + r.getInt(0)).isZero();
        assertThat(r.getLong(2)).as("last offset of partition " + r.getInt(0)).isEqualTo(endOffset - 1);
        assertThat(r.getLong(3)).as("offsets of partition " + r.getInt(0)).isEqualTo(endOffset);
      }
    } finally {
      landed.unpersist();
    }
  }

  static Map<String, Long> quarantineByReason(SparkSession spark, LakeLayout lake) {
    Map<String, Long> out = new HashMap<>();
    for (Row r : spark.read().format("delta").load(lake.bronzeQuarantine()).groupBy("reason").count().collectAsList()) {
      out.put(r.getString(0), r.getLong(1));
    }
    return out;
  }

  static Map<String, Long> names(Map<ReasonCode, Long> byCode) {
    Map<String, Long> out = new HashMap<>();
    byCode.forEach((k, v) -> out.put(k.name(), v));
    return out;
  }
}
