package io.recsys.streaming.bronze;

import io.recsys.lake.LakeLayout;
import io.recsys.spark.JobRunner;
import io.recsys.streaming.common.KafkaAccess;
import io.recsys.spark.LakeOptions;
import io.recsys.spark.LakeAccess;
import io.recsys.spark.Settings;
import io.recsys.streaming.common.SupervisedQuery;
import io.recsys.spark.SparkSessions;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.spark.UserError;
import io.recsys.streaming.metrics.ProgressListener;
import io.recsys.streaming.metrics.StreamProgressLog;
import io.recsys.streaming.metrics.StreamMetrics;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryException;
import org.apache.spark.sql.streaming.StreamingQueryProgress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Kafka → {@link io.recsys.contract.EventParser} → Delta bronze.events (valid, partitioned by event_date) and
 * bronze.quarantine (rejected, with raw bytes and reason). Exactly once across crashes: see
 * {@link BronzeBatchWriter}.
 *
 * <pre>
 * spark-submit --class io.recsys.streaming.bronze.BronzeIngestJob recsys-app.jar \
 *     --lake s3a://bucket/lake --bootstrap broker:9092 --topic events --trigger 10s
 * </pre>
 *
 * Every option can also be set as Spark conf {@code spark.recsys.<key>} (the key is in each option's help);
 * the command line wins.
 */
@Command(name = "bronze-ingest", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Stream events from Kafka into Delta bronze.events and bronze.quarantine, exactly once.")
public final class BronzeIngestJob implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(BronzeIngestJob.class);

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin ParserOptions parserOptions = new ParserOptions();

  @Option(names = "--bootstrap", description = "Kafka bootstrap servers (spark.recsys.kafka.bootstrap).")
  String bootstrap;
  @Option(names = "--topic", description = "Topic to read (spark.recsys.kafka.topic; default events).")
  String topic;
  @Option(names = "--checkpoint", description = "Checkpoint location (spark.recsys.bronze.checkpoint; "
      + "default <lake>/_checkpoints/bronze-ingest).")
  String checkpoint;
  @Option(names = "--trigger", description = "available-now, or an interval such as 10s "
      + "(spark.recsys.bronze.trigger; default 10s).")
  String trigger;
  @Option(names = "--max-offsets-per-trigger", description = "Records per micro-batch at most, 0 for no limit "
      + "(spark.recsys.bronze.maxOffsetsPerTrigger; default 0).")
  Long maxOffsetsPerTrigger;
  @Option(names = "--starting-offsets", description = "earliest or latest, for a new checkpoint only "
      + "(spark.recsys.bronze.startingOffsets; default earliest).")
  String startingOffsets;
  @Option(names = "--fail-on-data-loss", description = "Stop if Kafka deleted records not yet ingested "
      + "(spark.recsys.bronze.failOnDataLoss; default true).")
  String failOnDataLoss;
  @Option(names = "--metrics-port", description = "Prometheus endpoint port, 0 any, -1 off "
      + "(spark.recsys.metrics.port; default 9464).")
  Integer metricsPort;
  @Option(names = "--kafka-option", description = "Extra Kafka consumer setting key=value, repeatable "
      + "(e.g. security.protocol=SASL_SSL).")
  Map<String, String> kafkaOptions = new LinkedHashMap<>();

  public static void main(String[] args) {
    JobRunner.main(new BronzeIngestJob(), args);
  }

  @Override
  public Integer call() throws Exception {
    BronzeIngestConfig config = resolve(Settings.fromEnvironment());
    KafkaAccess.checkTopic(config.bootstrap(), config.topic(), config.kafkaOptions());
    SparkSession spark = SparkSessions.create("recsys bronze-ingest", LakeAccess.s3aSettings(config.s3Endpoint()));
    LakeAccess.check(spark, config.lake().root());
    try (StreamMetrics metrics = new StreamMetrics(config.queryName())) {
      if (config.metricsPort() >= 0) {
        metrics.serve(config.metricsPort());
      }
      SupervisedQuery query = run(spark, config, metrics, p -> { });
      LOG.info("bronze-ingest running: {} topic {} -> {} (checkpoint {}, trigger {})", config.bootstrap(),
          config.topic(), config.lake().root(), config.checkpoint(), config.trigger());
      query.awaitTermination();
      return 0;
    } catch (StreamingQueryException e) {
      throw UserError.of("The ingest query stopped: " + e.message(),
          "Fix the cause and run the job again; it resumes from " + config.checkpoint(), e);
    }
  }

  /**
   * Starts the query and keeps it running across Spark's known restartable defect ({@link SupervisedQuery}).
   * Tests and the demo call this; {@link #main} adds the checks, the metrics endpoint and the wait.
   */
  public static SupervisedQuery run(SparkSession spark, BronzeIngestConfig config, StreamMetrics metrics,
      Consumer<StreamingQueryProgress> onProgress) throws TimeoutException {
    StreamProgressLog log = StreamProgressLog.open(spark, config.lake().opsStreamProgress());
    ProgressListener listener = new ProgressListener(metrics, onProgress).recordTo(log == null ? null : log.acquire());
    spark.streams().addListener(listener);
    SupervisedQuery q = SupervisedQuery.start(config.queryName(), () -> start(spark, config, metrics, log),
        () -> listener.detach(spark));
    listener.follow(q.query().id());
    return q;
  }

  /**
   * Starts the query on an existing session, once (the listener that feeds the metrics is added by
   * {@link #run}).
   */
  static StreamingQuery start(SparkSession spark, BronzeIngestConfig config, StreamMetrics metrics,
      StreamProgressLog log) throws TimeoutException {
    var reader = KafkaAccess.readStream(spark, config.bootstrap(), config.topic(), config.startingOffsets(),
            config.maxOffsetsPerTrigger(), config.kafkaOptions())
        .option("failOnDataLoss", String.valueOf(config.failOnDataLoss()));
    Dataset<Row> kafka = reader.load();
    return kafka.writeStream()
        .queryName(config.queryName())
        .option("checkpointLocation", config.checkpoint())
        .trigger(config.trigger().toTrigger())
        .foreachBatch(new BronzeBatchWriter(config.lake(), config.parser(), config.checkpoint(), metrics,
            config.queryName(), log))
        .start();
  }

  BronzeIngestConfig resolve(Settings s) {
    LakeLayout layout = lakeOptions.layout(s);
    String servers = s.string(bootstrap, "spark.recsys.kafka.bootstrap", null);
    if (servers == null || servers.isBlank()) {
      throw UserError.of("No Kafka given", "Pass --bootstrap host:port (./run stack status prints the local one)");
    }
    String starting = s.string(startingOffsets, "spark.recsys.bronze.startingOffsets", "earliest");
    if (!starting.equals("earliest") && !starting.equals("latest")) {
      throw UserError.badArgument("--starting-offsets", starting, "earliest or latest");
    }
    String failOnLoss = s.string(failOnDataLoss, "spark.recsys.bronze.failOnDataLoss", "true");
    if (!failOnLoss.equals("true") && !failOnLoss.equals("false")) {
      throw UserError.badArgument("--fail-on-data-loss", failOnLoss, "true or false");
    }
    long maxOffsets = s.longValue(maxOffsetsPerTrigger, "spark.recsys.bronze.maxOffsetsPerTrigger", 0);
    if (maxOffsets < 0) {
      throw UserError.badArgument("--max-offsets-per-trigger", String.valueOf(maxOffsets), "0 or more");
    }
    int port = s.intValue(metricsPort, "spark.recsys.metrics.port", 9464);
    if (port < -1 || port > 65535) {
      throw UserError.badArgument("--metrics-port", String.valueOf(port), "-1, 0 or a port number");
    }
    return new BronzeIngestConfig(layout, servers, s.string(topic, "spark.recsys.kafka.topic", "events"),
        s.string(checkpoint, "spark.recsys.bronze.checkpoint", layout.checkpoint("bronze-ingest")),
        TriggerSpec.parse(s.string(trigger, "spark.recsys.bronze.trigger", "10s")), maxOffsets, starting,
        Boolean.parseBoolean(failOnLoss), parserOptions.resolve(s), port, lakeOptions.s3Endpoint(s),
        kafkaOptions, "bronze-ingest");
  }
}
