package io.recsys.app.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.recsys.infra.stack.LocalStack;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.bronze.BronzeIngestConfig;
import io.recsys.streaming.bronze.BronzeIngestJob;
import io.recsys.streaming.bronze.BronzeSchema;
import io.recsys.streaming.common.SupervisedQuery;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.streaming.metrics.StreamMetrics;
import io.recsys.streaming.producer.EventProducer;
import io.recsys.streaming.producer.SyntheticClickstream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.Trigger;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Kafka → bronze throughput, beside four baselines measured in the same run on the same records: the raw Kafka
 * consumer rate (one KafkaConsumer, no Spark), a plain Kafka → Delta query (key, value and Kafka columns appended
 * as they are), a plain from_json query ({@link #plainParsedQuery}, no validation) and the plain query with the
 * bronze job's quarantine appends ({@link #plainWithQuarantine}). Each Spark query first runs on a warm-up topic so
 * JIT and Delta start-up are not counted; then each reads the measured topic from the start with trigger
 * available-now into a new lake.
 */
final class IngestBenchmark {

  record Result(String name, long records, double seconds) {
    double rate() {
      return records / seconds;
    }
  }

  private final SparkSession spark;
  private final LocalStack stack;
  private final Path workDir;
  private final long perBatch;
  /** The last bronze run's micro-batches, in order: batch id -> the Kafka end offset of each partition. */
  private final Map<Long, Map<Integer, Long>> bronzeBatchEnds =
      Collections.synchronizedSortedMap(new TreeMap<>());
  private static final ObjectMapper JSON = new ObjectMapper();

  IngestBenchmark(SparkSession spark, LocalStack stack, Path workDir, long perBatch) {
    this.spark = spark;
    this.stack = stack;
    this.workDir = workDir;
    this.perBatch = perBatch;
  }

  /** Produces {@code n} synthetic records (1% bad) into a new 2-partition topic; returns the production time. */
  Result produce(String topic, long n) {
    stack.createTopic(topic, 2);
    long t0 = System.nanoTime();
    try (EventProducer p = new EventProducer(stack.kafkaBootstrap(), topic, Map.of())) {
      new SyntheticClickstream(SyntheticClickstream.Config.defaults(n).withBadRatio(0.01).withDisorder(0.01, 0.01)
          .withTime(Instant.now().minusSeconds(1), Duration.ofHours(24))).forEachRemaining(p::send);
      p.flush();
    }
    return new Result("produce (idempotent producer, lz4)", n, (System.nanoTime() - t0) / 1e9);
  }

  Result rawConsumer(String topic, long n) {
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of("bootstrap.servers", stack.kafkaBootstrap(),
        "max.poll.records", 10_000, "fetch.max.bytes", 64 * 1024 * 1024, "max.partition.fetch.bytes", 16 * 1024 * 1024),
        new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> parts = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1));
      c.assign(parts);
      c.seekToBeginning(parts);
      long t0 = System.nanoTime();
      long seen = 0;
      long bytes = 0;
      while (seen < n) {
        ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(500));
        for (var r : recs) {
          seen++;
          bytes += r.value() == null ? 0 : r.value().length;
        }
      }
      return new Result("raw Kafka consumer (1 thread, no Spark)", seen, (System.nanoTime() - t0) / 1e9);
    }
  }

  /** The plain queries' source: the topic from the start, at most {@code perBatch} records per micro-batch. */
  private Dataset<Row> kafka(String topic) {
    return spark.readStream().format("kafka").option("kafka.bootstrap.servers", stack.kafkaBootstrap())
        .option("subscribe", topic).option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", String.valueOf(perBatch)).load();
  }

  /** What the plain query stores: the Kafka record as it is, and when it was read. */
  private static final String[] RAW_COLUMNS =
      {"key", "value", "topic", "partition", "offset", "timestamp", "current_timestamp() AS ingest_time"};

  Result plainQuery(String topic, long n, String lake) throws Exception {
    long t0 = System.nanoTime();
    StreamingQuery q = kafka(topic)
        .selectExpr(RAW_COLUMNS)
        .writeStream().format("delta").option("checkpointLocation", lake + "/_checkpoints/plain")
        .trigger(Trigger.AvailableNow()).start(lake + "/plain");
    q.awaitTermination();
    return new Result(PLAIN_RAW, n, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * The query a data engineer would write without validation: the JSON parsed with Spark's from_json into the
   * contract's fields, event_date derived, Kafka coordinates kept, appended to a Delta table partitioned by
   * event_date, with Delta's defaults. Malformed or wrong-typed records become nulls and nothing is quarantined;
   * what the bronze job costs beyond this is the cost of validation.
   */
  Result plainParsedQuery(String topic, long n, String lake) throws Exception {
    long t0 = System.nanoTime();
    StreamingQuery q = kafka(topic)
        .selectExpr("from_json(CAST(value AS STRING), '" + CONTRACT_FIELDS + "') AS e", "topic AS kafka_topic",
            "partition AS kafka_partition", "offset AS kafka_offset", "timestamp AS kafka_timestamp",
            "current_timestamp() AS ingest_time")
        .selectExpr("e.*", "to_date(e.event_time) AS event_date", "kafka_topic", "kafka_partition", "kafka_offset",
            "kafka_timestamp", "ingest_time")
        .writeStream().format("delta").partitionBy("event_date")
        .option("checkpointLocation", lake + "/_checkpoints/plain-parsed")
        .trigger(Trigger.AvailableNow()).start(lake + "/plain-parsed");
    q.awaitTermination();
    return new Result(PLAIN_PARSED, n, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * The plain query, plus what a job that keeps bronze.quarantine as a Delta table of its own does beyond it, done
   * the bronze job's way: in each micro-batch, after the batch's records are appended (raw, unparsed, as the plain
   * query stores them), the rejected records of the same Kafka offsets are appended to a second table. It parses nothing: the rows are
   * the ones the bronze job of the same round quarantined ({@code bronzeLake}), brought to the driver before the
   * clock starts, and appended per micro-batch as the bronze job appends them (a data frame of the collected rows,
   * Delta's txnAppId/txnVersion). The micro-batches cover the same offsets as the bronze run's
   * ({@code maxOffsetsPerTrigger} over the same records), whose ends its progress gave.
   */
  Result plainWithQuarantine(String topic, long n, String lake, String bronzeLake) throws Exception {
    Dataset<Row> table = spark.read().format("delta").load(new LakeLayout(bronzeLake).bronzeQuarantine());
    List<Row> rejected = table.collectAsList();
    Map<Long, List<Row>> byBatch = new HashMap<>();
    Map<Integer, Long> start = new HashMap<>();
    for (Map.Entry<Long, Map<Integer, Long>> batch : new TreeMap<>(bronzeBatchEnds).entrySet()) {
      List<Row> rows = new ArrayList<>();
      for (Row r : rejected) {
        int partition = r.getInt(r.fieldIndex("kafka_partition"));
        long offset = r.getLong(r.fieldIndex("kafka_offset"));
        if (offset >= start.getOrDefault(partition, 0L)
            && offset < batch.getValue().getOrDefault(partition, Long.MIN_VALUE)) {
          rows.add(r);
        }
      }
      byBatch.put(batch.getKey(), rows);
      start.putAll(batch.getValue());
    }
    int matched = byBatch.values().stream().mapToInt(List::size).sum();
    if (matched != rejected.size()) {
      throw new IllegalStateException("the bronze run's micro-batches hold " + matched + " of the "
          + rejected.size() + " quarantined records");
    }
    String appId = "bench-" + UUID.randomUUID();
    VoidFunction2<Dataset<Row>, Long> write = (batch, id) -> {
      batch.write().format("delta").mode(SaveMode.Append).option("txnAppId", appId).option("txnVersion", id)
          .save(lake + "/plain");
      List<Row> rows = byBatch.getOrDefault(id, List.of());
      if (!rows.isEmpty()) {
        spark.createDataFrame(rows, table.schema()).write().format("delta").mode(SaveMode.Append)
            .option("txnAppId", appId).option("txnVersion", id).save(lake + "/quarantine");
      }
    };
    long t0 = System.nanoTime();
    StreamingQuery q = kafka(topic)
        .selectExpr(RAW_COLUMNS)
        .writeStream().foreachBatch(write).option("checkpointLocation", lake + "/_checkpoints/plain-quarantine")
        .trigger(Trigger.AvailableNow()).start();
    q.awaitTermination();
    return new Result(PLAIN_QUARANTINE, n, (System.nanoTime() - t0) / 1e9);
  }

  static final String PLAIN_RAW = "plain Kafka -> Delta query (no parsing)";
  static final String PLAIN_QUARANTINE = "plain query + the bronze job's quarantine appends (no parsing)";
  static final String PLAIN_PARSED = "plain from_json Kafka -> Delta query (no validation)";
  static final String BRONZE = "validated bronze (BronzeIngestJob)";

  /** Contract v1's fields, typed as bronze.events types them, as a DDL schema for from_json. */
  private static final String CONTRACT_FIELDS = new StructType(BronzeSchema.EVENT_COLUMNS.stream()
      .map(BronzeSchema.PARSED::apply).toArray(StructField[]::new)).toDDL();

  Result bronze(String topic, long n, String lake) throws Exception {
    BronzeIngestConfig cfg = BronzeIngestConfig.defaults(lake, stack.kafkaBootstrap()).withTopic(topic)
        .withTrigger(TriggerSpec.parse("available-now")).withMaxOffsetsPerTrigger(perBatch);
    long t0 = System.nanoTime();
    // until the last micro-batch's progress: after it, the job only appends its progress rows to
    // ops.stream_progress, once (every minute in a long-running job), which is not ingestion
    java.util.concurrent.atomic.AtomicLong lastBatch = new java.util.concurrent.atomic.AtomicLong(t0);
    bronzeBatchEnds.clear();
    SupervisedQuery q = BronzeIngestJob.run(spark, cfg, new StreamMetrics("bronze-bench"), p -> {
      lastBatch.set(System.nanoTime());
      bronzeBatchEnds.put(p.batchId(), endOffsets(p.sources()[0].endOffset(), topic));
    });
    q.awaitTermination();
    return new Result(BRONZE, n, (lastBatch.get() - t0) / 1e9);
  }

  /** Spark's Kafka offsets JSON ({"topic":{"0":123,"1":456}}) as partition -> offset. */
  private static Map<Integer, Long> endOffsets(String json, String topic) {
    try {
      Map<Integer, Long> out = new HashMap<>();
      JsonNode parts = JSON.readTree(json).path(topic);
      parts.fields().forEachRemaining(e -> out.put(Integer.parseInt(e.getKey()), e.getValue().asLong()));
      return out;
    } catch (java.io.IOException e) {
      throw new IllegalStateException("Kafka offsets in the bronze run's progress: " + json, e);
    }
  }

  String lake(String name) {
    return new LakeLayout(workDir.resolve(name).toUri().toString()).root();
  }
}
