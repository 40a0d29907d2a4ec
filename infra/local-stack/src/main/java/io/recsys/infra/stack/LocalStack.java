package io.recsys.infra.stack;

import java.util.Map;

/**
 * The services a lakehouse run needs on one machine: a Kafka broker, a Redis server and an S3-compatible
 * endpoint. Two implementations: {@link EmbeddedStack} (no Docker: Kafka KRaft and S3Proxy in a child JVM,
 * redis-server as a child process) and {@link ContainersStack} (Testcontainers, only when a Docker engine
 * answers). Obtain one from {@link LocalStacks#start}.
 */
public interface LocalStack extends AutoCloseable {

  /** "embedded" or "containers". */
  String kind();

  /** Kafka bootstrap servers, e.g. {@code 127.0.0.1:39092}. */
  String kafkaBootstrap();

  /** Redis URI, e.g. {@code redis://127.0.0.1:36379}. */
  String redisUri();

  /** The S3 endpoint with its credentials and the bucket created for the lake. */
  S3Endpoint s3();

  /** Creates a topic (no-op if it exists with that many partitions). */
  void createTopic(String name, int partitions);

  /** The addresses as printable key/value pairs, for {@code ./run stack status} and logs. */
  default Map<String, String> addresses() {
    return Map.of(
        "kind", kind(),
        "kafka", kafkaBootstrap(),
        "redis", redisUri(),
        "s3.endpoint", s3().endpoint(),
        "s3.bucket", s3().bucket(),
        "lake (s3a)", s3().lakeUri());
  }

  /** Stops every service and frees its ports. */
  @Override
  void close();
}
