package io.recsys.streaming.bronze;

import static io.recsys.streaming.bronze.IngestFixtures.assertExactlyOnce;
import static io.recsys.streaming.bronze.IngestFixtures.config;
import static io.recsys.streaming.bronze.IngestFixtures.ingestAll;
import static io.recsys.streaming.bronze.IngestFixtures.names;
import static io.recsys.streaming.bronze.IngestFixtures.newTopic;
import static io.recsys.streaming.bronze.IngestFixtures.produceSynthetic;
import static io.recsys.streaming.bronze.IngestFixtures.quarantineByReason;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.recsys.contract.ParserConfig;
import io.recsys.contract.ReasonCode;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.SparkTestSession;
import io.recsys.spark.JobRunner;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.streaming.metrics.StreamMetrics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import io.recsys.streaming.common.SupervisedQuery;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Bronze ingestion against the real local stack: Kafka KRaft, Delta on local disk and on S3 (S3Proxy). */
@ExtendWith(LocalStackExtension.class)
class BronzeIngestIT {

  final SparkSession spark = SparkTestSession.get();

  @Test
  void everyRecordLandsOnceInEventsOrQuarantineAndARestartAddsNothing(LocalStack stack, @TempDir Path dir)
      throws Exception {
    String topic = newTopic(stack, 2);
    Map<ReasonCode, Long> injected = produceSynthetic(stack, topic, 20_000, 0.03, 7);
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    BronzeIngestConfig cfg = config(stack, lake.root(), topic).withMaxOffsetsPerTrigger(6_000);

    ingestAll(spark, cfg);

    assertExactlyOnce(spark, lake, stack, topic);
    assertThat(quarantineByReason(spark, lake)).isEqualTo(names(injected));
    long events = spark.read().format("delta").load(lake.bronzeEvents()).count();
    assertThat(events + injected.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(20_000);
    // partitioned by the event's UTC date
    assertThat(Files.list(dir.resolve("bronze/events")).map(p -> p.getFileName().toString()))
        .anyMatch(n -> n.startsWith("event_date="));
    assertThat(spark.read().format("delta").load(lake.bronzeEvents()).filter("event_date <> to_date(event_time)").count())
        .isZero();
    assertFilesSkippableAndTimestampsInt64(dir.resolve("bronze/events"));

    // the same job again from its checkpoint: nothing new in Kafka, nothing new in the lake
    ingestAll(spark, cfg);
    assertExactlyOnce(spark, lake, stack, topic);
    assertThat(spark.read().format("delta").load(lake.bronzeEvents()).count()).isEqualTo(events);
  }

  @Test
  void landsOnAnS3aLakeThroughTheS3Endpoint(LocalStack stack) throws Exception {
    stack.s3().hadoopConf().forEach((k, v) -> spark.sparkContext().hadoopConfiguration().set(k, v));
    String topic = newTopic(stack, 2);
    Map<ReasonCode, Long> injected = produceSynthetic(stack, topic, 5_000, 0.02, 11);
    LakeLayout lake = new LakeLayout(stack.s3().lakeUri() + "/it-" + System.nanoTime());

    ingestAll(spark, config(stack, lake.root(), topic));

    assertExactlyOnce(spark, lake, stack, topic);
    assertThat(quarantineByReason(spark, lake)).isEqualTo(names(injected));
    org.apache.hadoop.fs.Path log = new org.apache.hadoop.fs.Path(lake.bronzeEvents() + "/_delta_log");
    FileSystem fs = log.getFileSystem(spark.sparkContext().hadoopConfiguration());
    assertThat(fs.getUri().getScheme()).isEqualTo("s3a");
    assertThat(fs.listStatus(log)).isNotEmpty();
  }

  @Test
  void quarantineReplayMovesRecordsThatNowParseAndIsIdempotent(LocalStack stack, @TempDir Path dir) throws Exception {
    String topic = newTopic(stack, 2);
    Map<ReasonCode, Long> injected = produceSynthetic(stack, topic, 10_000, 0.05, 3);
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    ingestAll(spark, config(stack, lake.root(), topic));
    long oversize = injected.get(ReasonCode.OVERSIZE_PAYLOAD);
    long eventsBefore = spark.read().format("delta").load(lake.bronzeEvents()).count();
    assertThat(oversize).isPositive();

    // the "fix": a larger payload limit releases the oversize records, nothing else
    ParserConfig relaxed = new ParserConfig(256 * 1024, ParserConfig.DEFAULT.minEventTimeMillis(),
        ParserConfig.DEFAULT.maxFutureSkewMillis());
    QuarantineReplayJob.Result plan = QuarantineReplayJob.plan(spark, lake, relaxed, null);
    assertThat(plan.moved()).isEqualTo(oversize);
    assertThat(spark.read().format("delta").load(lake.bronzeEvents()).count()).as("dry run").isEqualTo(eventsBefore);

    QuarantineReplayJob.Result moved = QuarantineReplayJob.replay(spark, lake, relaxed, null);
    assertThat(moved.moved()).isEqualTo(oversize);
    assertThat(moved.stillRejected()).doesNotContainKey("OVERSIZE_PAYLOAD");
    assertThat(spark.read().format("delta").load(lake.bronzeEvents()).count()).isEqualTo(eventsBefore + oversize);
    assertThat(quarantineByReason(spark, lake)).doesNotContainKey("OVERSIZE_PAYLOAD");
    assertExactlyOnce(spark, lake, stack, topic);

    QuarantineReplayJob.Result again = QuarantineReplayJob.replay(spark, lake, relaxed, null);
    assertThat(again.moved()).isZero();
    assertThat(spark.read().format("delta").load(lake.bronzeEvents()).count()).isEqualTo(eventsBefore + oversize);
    assertExactlyOnce(spark, lake, stack, topic);
  }

  @Test
  void servesPerBatchMetricsInPrometheusFormat(LocalStack stack, @TempDir Path dir) throws Exception {
    String topic = newTopic(stack, 2);
    Map<ReasonCode, Long> injected = produceSynthetic(stack, topic, 4_000, 0.05, 5);
    BronzeIngestConfig cfg = config(stack, dir.toUri().toString(), topic)
        .withTrigger(TriggerSpec.parse("available-now")).withMaxOffsetsPerTrigger(1_000);
    try (StreamMetrics metrics = new StreamMetrics(cfg.queryName())) {
      int port = metrics.serve(0);
      SupervisedQuery q = BronzeIngestJob.run(spark, cfg, metrics, p -> { });
      q.awaitTermination();
      String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
      assertThat(body).contains("recsys_stream_input_rows_total{query=\"bronze-ingest\"} 4000.0");
      double batches = Double.parseDouble(body.lines()
          .filter(l -> l.startsWith("recsys_stream_batches_total{")).findFirst().orElseThrow().split(" ")[1]);
      assertThat(batches).as("at most 1,000 records per batch").isGreaterThanOrEqualTo(4);
      assertThat(body).contains("recsys_stream_offsets_behind_latest{query=\"bronze-ingest\"} 0.0");
      assertThat(body).contains("recsys_stream_batch_duration_seconds{query=\"bronze-ingest\"}");
      assertThat(body).contains("recsys_stream_processed_rows_per_second{query=\"bronze-ingest\"}");
      assertThat(body).contains("recsys_bronze_quarantined_total{reason=\"MALFORMED_JSON\"} "
          + injected.get(ReasonCode.MALFORMED_JSON) + ".0");
      long bad = injected.values().stream().mapToLong(Long::longValue).sum();
      assertThat(body).contains("recsys_bronze_events_total " + (4_000 - bad) + ".0");

      // the same per-batch figures, kept as history in ops.stream_progress
      LakeLayout lake = new LakeLayout(dir.toUri().toString());
      Row totals = spark.read().format("delta").load(lake.opsStreamProgress()).filter("query = 'bronze-ingest'")
          .selectExpr("count(*)", "count(distinct run_id, batch_id)", "sum(input_rows)", "sum(quarantined_rows)",
              "min(duration_ms)", "count(distinct query_id)", "max_by(offsets_behind_latest, batch_id)",
              "count_if(date <> to_date(batch_time))")
          .first();
      assertThat(totals.getLong(0)).as("one row per micro-batch").isEqualTo((long) batches);
      assertThat(totals.getLong(1)).as("no batch twice").isEqualTo(totals.getLong(0));
      assertThat(totals.getLong(2)).isEqualTo(4_000);
      assertThat(totals.getLong(3)).as("quarantined rows").isEqualTo(bad);
      assertThat(totals.getLong(4)).isPositive();
      assertThat(totals.getLong(5)).isEqualTo(1);
      assertThat(totals.getLong(6)).as("caught up at the end").isZero();
      assertThat(totals.getLong(7)).isZero();
    }
  }

  @Test
  void badInputGetsAOneLineMessageAndExitStatusTwo(LocalStack stack, @TempDir Path dir) {
    String topic = newTopic(stack, 1);
    assertRejected(new String[] {"--bootstrap", stack.kafkaBootstrap()}, "No lake given");
    assertRejected(new String[] {"--lake", dir.toString()}, "No Kafka given");
    assertRejected(new String[] {"--lake", dir.toString(), "--bootstrap", "127.0.0.1:1", "--topic", topic},
        "Cannot reach Kafka at 127.0.0.1:1");
    assertRejected(new String[] {"--lake", dir.toString(), "--bootstrap", stack.kafkaBootstrap(), "--topic", "nope"},
        "has no topic 'nope'");
    assertRejected(new String[] {"--lake", dir.toString(), "--bootstrap", stack.kafkaBootstrap(), "--trigger", "often"},
        "Invalid value 'often' for --trigger");
    assertRejected(new String[] {"--lake", dir.toString(), "--bootstrap", stack.kafkaBootstrap(), "--metrics-port",
        "x"}, "--metrics-port");
    assertRejected(new String[] {"--lake", "s3a://no-such-bucket-here/lake", "--bootstrap", stack.kafkaBootstrap(),
        "--topic", topic, "--s3-endpoint", stack.s3().endpoint()}, "Cannot reach the lake at s3a://no-such-bucket-here/lake");
  }

  /**
   * Every data file of bronze.events has Delta statistics on the columns queries skip files by (event time,
   * user_id, the Kafka coordinates) and stores its timestamps as Parquet INT64 microseconds, which pyarrow, DuckDB
   * and Trino read as timestamps (not the deprecated INT96).
   */
  private void assertFilesSkippableAndTimestampsInt64(Path table) throws Exception {
    List<String> stats = spark.read().json(table.resolve("_delta_log") + "/*.json").where("add is not null")
        .select("add.stats").as(Encoders.STRING()).collectAsList();
    assertThat(stats).isNotEmpty();
    ObjectMapper json = new ObjectMapper();
    for (String s : stats) {
      List<String> columns = new ArrayList<>();
      json.readTree(s).get("minValues").fieldNames().forEachRemaining(columns::add);
      assertThat(columns).containsExactlyInAnyOrder("event_time", "user_id", "kafka_partition", "kafka_offset");
    }
    List<Path> files;
    try (var walk = Files.walk(table)) {
      files = walk.filter(p -> p.toString().endsWith(".parquet")).toList();
    }
    assertThat(files).hasSize(stats.size());
    for (Path f : files) {
      try (ParquetFileReader r = ParquetFileReader.open(
          HadoopInputFile.fromPath(new org.apache.hadoop.fs.Path(f.toUri()), new Configuration()))) {
        MessageType schema = r.getFileMetaData().getSchema();
        for (String c : List.of("event_time", "kafka_timestamp", "ingest_time")) {
          PrimitiveType t = schema.getType(c).asPrimitiveType();
          assertThat(t.getPrimitiveTypeName()).as(c).isEqualTo(PrimitiveType.PrimitiveTypeName.INT64);
          assertThat(t.getLogicalTypeAnnotation()).as(c)
              .isEqualTo(LogicalTypeAnnotation.timestampType(true, LogicalTypeAnnotation.TimeUnit.MICROS));
        }
      }
    }
  }

  private static void assertRejected(String[] args, String message) {
    StringWriter err = new StringWriter();
    int rc = JobRunner.run(new BronzeIngestJob(), args, new PrintWriter(err, true));
    assertThat(rc).as(String.join(" ", args)).isEqualTo(2);
    assertThat(err.toString()).contains(message);
    assertThat(err.toString().strip().lines().count()).as("one line: " + err).isEqualTo(1);
    assertThat(err.toString()).doesNotContain("\tat ");
  }
}
