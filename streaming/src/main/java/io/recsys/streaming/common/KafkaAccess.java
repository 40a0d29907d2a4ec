package io.recsys.streaming.common;

import io.recsys.spark.LakeAccess;
import io.recsys.spark.UserError;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.DataStreamReader;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * The Kafka side of the streaming jobs: the source they read ({@link #readStream}), and a check that fails fast,
 * with a fix, when Kafka cannot be reached or the topic does not exist.
 */
public final class KafkaAccess {

  private KafkaAccess() {}

  /**
   * Spark's Kafka source on {@code topic}: starting offsets (for a new checkpoint), a per-batch cap (0: none) and
   * extra consumer settings (given without the {@code kafka.} prefix). Headers are not read.
   */
  public static DataStreamReader readStream(SparkSession spark, String bootstrap, String topic,
      String startingOffsets, long maxOffsetsPerTrigger, Map<String, String> kafkaOptions) {
    DataStreamReader reader = spark.readStream().format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", startingOffsets)
        .option("includeHeaders", "false");
    if (maxOffsetsPerTrigger > 0) {
      reader = reader.option("maxOffsetsPerTrigger", String.valueOf(maxOffsetsPerTrigger));
    }
    for (Map.Entry<String, String> e : kafkaOptions.entrySet()) {
      reader = reader.option("kafka." + e.getKey(), e.getValue());
    }
    return reader;
  }

  /** Returns the topic's partition count. */
  public static int checkTopic(String bootstrap, String topic, Map<String, String> kafkaOptions) {
    Map<String, Object> conf = new HashMap<>(kafkaOptions);
    conf.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    conf.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000);
    conf.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
    conf.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1_000);
    try (Admin admin = Admin.create(conf)) {
      TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(20, TimeUnit.SECONDS).get(topic);
      return d.partitions().size();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof UnknownTopicOrPartitionException) {
        throw UserError.of("Kafka at " + bootstrap + " has no topic '" + topic + "'",
            "Create it (./run stack up creates 'events') or pass --topic");
      }
      throw UserError.of("Cannot reach Kafka at " + bootstrap + ": " + LakeAccess.rootMessage(e),
          "Check --bootstrap and that the broker is up (./run stack status)", e);
    } catch (TimeoutException e) {
      throw UserError.of("Kafka at " + bootstrap + " did not answer within 20 s",
          "Check --bootstrap and that the broker is up (./run stack status)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw UserError.of("Interrupted while contacting Kafka", "Run the job again", e);
    } catch (org.apache.kafka.common.KafkaException e) {
      throw UserError.badArgument("--bootstrap", bootstrap, "host:port[,host:port...] (" + e.getMessage() + ")");
    }
  }
}
