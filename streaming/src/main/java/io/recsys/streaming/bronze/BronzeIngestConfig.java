package io.recsys.streaming.bronze;

import io.recsys.contract.ParserConfig;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.common.TriggerSpec;
import java.util.Map;

/**
 * Everything {@link BronzeIngestJob} needs, resolved and validated.
 *
 * @param maxOffsetsPerTrigger 0 for no limit
 * @param metricsPort -1 for no metrics endpoint, 0 for any free port
 * @param kafkaOptions extra Kafka consumer settings (security, timeouts), without the {@code kafka.} prefix
 */
public record BronzeIngestConfig(
    LakeLayout lake,
    String bootstrap,
    String topic,
    String checkpoint,
    TriggerSpec trigger,
    long maxOffsetsPerTrigger,
    String startingOffsets,
    boolean failOnDataLoss,
    ParserConfig parser,
    int metricsPort,
    String s3Endpoint,
    Map<String, String> kafkaOptions,
    String queryName) {

  public BronzeIngestConfig {
    kafkaOptions = Map.copyOf(kafkaOptions);
  }

  /** The defaults of the command line for this lake and broker. */
  public static BronzeIngestConfig defaults(String lake, String bootstrap) {
    LakeLayout layout = new LakeLayout(lake);
    return new BronzeIngestConfig(layout, bootstrap, "events", layout.checkpoint("bronze-ingest"),
        TriggerSpec.parse("10s"), 0, "earliest", true, ParserConfig.DEFAULT, -1, null, Map.of(), "bronze-ingest");
  }

  public BronzeIngestConfig withTrigger(TriggerSpec t) {
    return new BronzeIngestConfig(lake, bootstrap, topic, checkpoint, t, maxOffsetsPerTrigger, startingOffsets,
        failOnDataLoss, parser, metricsPort, s3Endpoint, kafkaOptions, queryName);
  }

  public BronzeIngestConfig withTopic(String t) {
    return new BronzeIngestConfig(lake, bootstrap, t, checkpoint, trigger, maxOffsetsPerTrigger, startingOffsets,
        failOnDataLoss, parser, metricsPort, s3Endpoint, kafkaOptions, queryName);
  }

  public BronzeIngestConfig withMaxOffsetsPerTrigger(long n) {
    return new BronzeIngestConfig(lake, bootstrap, topic, checkpoint, trigger, n, startingOffsets,
        failOnDataLoss, parser, metricsPort, s3Endpoint, kafkaOptions, queryName);
  }
}
