package io.recsys.streaming.online;

import io.recsys.contract.ParserConfig;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.common.TriggerSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Everything {@link OnlineFeaturesJob} needs, resolved and validated.
 *
 * @param views the views to compute (one streaming query per entity computes its views)
 * @param checkpointRoot each entity's query checkpoints in {@code <checkpointRoot>/<entity>-views}; each view
 *     spools its offline-log rows in {@code <checkpointRoot>/<view>/offline-log-spool}
 * @param allowedLateness how far behind the latest event time an event may arrive and still count
 * @param redisBatch rows per Redis pipeline
 */
public record OnlineFeaturesConfig(
    LakeLayout lake,
    String bootstrap,
    String topic,
    String redis,
    FeatureDefinitions definitions,
    List<FeatureView> views,
    String checkpointRoot,
    TriggerSpec trigger,
    long maxOffsetsPerTrigger,
    String startingOffsets,
    Duration allowedLateness,
    int redisBatch,
    ParserConfig parser,
    int metricsPort,
    String s3Endpoint,
    Map<String, String> kafkaOptions) {

  public OnlineFeaturesConfig {
    views = List.copyOf(views);
    kafkaOptions = Map.copyOf(kafkaOptions);
  }

  /** The defaults of the command line: every streaming view of the packaged definitions. */
  public static OnlineFeaturesConfig defaults(String lake, String bootstrap, String redis) {
    LakeLayout layout = new LakeLayout(lake);
    FeatureDefinitions defs = FeatureDefinitions.load();
    return new OnlineFeaturesConfig(layout, bootstrap, "events", redis, defs, defs.views().values().stream()
            .filter(v -> v.schedule() == FeatureView.Schedule.STREAMING).toList(),
        layout.checkpoint("online-features"), TriggerSpec.parse("10s"), 0, "earliest", Duration.ofMinutes(10),
        500, ParserConfig.DEFAULT, -1, null, Map.of());
  }

  /** The view's folder in the checkpoint root: its offline-log spool. */
  public String checkpoint(FeatureView view) {
    return checkpointRoot + "/" + view.name();
  }

  /** The checkpoint of the entity's query. */
  public String checkpoint(String entity) {
    return checkpointRoot + "/" + entity + "-views";
  }

  public static String queryName(String entity) {
    return "online-features-" + entity;
  }

  /** The views by entity, in the order of {@link #views}: one query each. */
  public java.util.Map<String, List<FeatureView>> viewsByEntity() {
    java.util.Map<String, List<FeatureView>> out = new java.util.LinkedHashMap<>();
    for (FeatureView v : views) {
      out.computeIfAbsent(v.entity(), e -> new java.util.ArrayList<>()).add(v);
    }
    return out;
  }

  public OnlineFeaturesConfig withTrigger(TriggerSpec t) {
    return new OnlineFeaturesConfig(lake, bootstrap, topic, redis, definitions, views, checkpointRoot, t,
        maxOffsetsPerTrigger, startingOffsets, allowedLateness, redisBatch, parser, metricsPort, s3Endpoint,
        kafkaOptions);
  }

  public OnlineFeaturesConfig withMaxOffsetsPerTrigger(long n) {
    return new OnlineFeaturesConfig(lake, bootstrap, topic, redis, definitions, views, checkpointRoot, trigger, n,
        startingOffsets, allowedLateness, redisBatch, parser, metricsPort, s3Endpoint, kafkaOptions);
  }

  public OnlineFeaturesConfig withViews(List<FeatureView> v) {
    return new OnlineFeaturesConfig(lake, bootstrap, topic, redis, definitions, v, checkpointRoot, trigger,
        maxOffsetsPerTrigger, startingOffsets, allowedLateness, redisBatch, parser, metricsPort, s3Endpoint,
        kafkaOptions);
  }

  public OnlineFeaturesConfig withAllowedLateness(Duration d) {
    return new OnlineFeaturesConfig(lake, bootstrap, topic, redis, definitions, views, checkpointRoot, trigger,
        maxOffsetsPerTrigger, startingOffsets, d, redisBatch, parser, metricsPort, s3Endpoint, kafkaOptions);
  }
}
