package io.recsys.infra.stack;

import io.recsys.infra.stack.internal.RedisServerProcess;
import java.util.ArrayList;
import java.util.List;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The same services as Docker containers (Kafka KRaft, MinIO, Redis) through Testcontainers. Opt-in with
 * {@code RECSYS_STACK=containers} (or {@code -Drecsys.stack=containers}); {@link LocalStacks} uses it only when
 * a Docker engine answers and falls back to {@link EmbeddedStack} otherwise.
 */
public final class ContainersStack implements LocalStack {

  static final String KAFKA_IMAGE = "apache/kafka:3.9.1";
  static final String MINIO_IMAGE = "minio/minio:RELEASE.2025-04-22T22-12-26Z";
  static final String REDIS_IMAGE = "redis:7.2-alpine";
  private static final String BUCKET = "lake";

  private final KafkaContainer kafka;
  private final MinIOContainer minio;
  private final GenericContainer<?> redis;

  private ContainersStack(KafkaContainer kafka, MinIOContainer minio, GenericContainer<?> redis) {
    this.kafka = kafka;
    this.minio = minio;
    this.redis = redis;
  }

  static ContainersStack start() {
    KafkaContainer kafka = new KafkaContainer(DockerImageName.parse(KAFKA_IMAGE));
    MinIOContainer minio = new MinIOContainer(DockerImageName.parse(MINIO_IMAGE));
    List<String> redisCommand = new ArrayList<>(List.of("redis-server"));
    redisCommand.addAll(RedisServerProcess.ONLINE_STORE_SETTINGS);
    GenericContainer<?> redis = new GenericContainer<>(DockerImageName.parse(REDIS_IMAGE)).withExposedPorts(6379)
        .withCommand(redisCommand.toArray(String[]::new));
    kafka.start();
    minio.start();
    redis.start();
    try {
      var mb = minio.execInContainer("sh", "-c", "mc alias set local http://127.0.0.1:9000 "
          + minio.getUserName() + " " + minio.getPassword() + " >/dev/null && mc mb --ignore-existing local/" + BUCKET);
      if (mb.getExitCode() != 0) {
        throw new LocalStackException("Cannot create bucket " + BUCKET + " in MinIO: " + mb.getStderr());
      }
    } catch (java.io.IOException e) {
      throw new LocalStackException("Cannot create bucket " + BUCKET + " in MinIO: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LocalStackException("Interrupted while creating the MinIO bucket", e);
    }
    return new ContainersStack(kafka, minio, redis);
  }

  @Override
  public String kind() {
    return "containers";
  }

  @Override
  public String kafkaBootstrap() {
    return kafka.getBootstrapServers().replace("PLAINTEXT://", "");
  }

  @Override
  public String redisUri() {
    return "redis://" + redis.getHost() + ":" + redis.getMappedPort(6379);
  }

  @Override
  public S3Endpoint s3() {
    return new S3Endpoint(minio.getS3URL(), minio.getUserName(), minio.getPassword(), BUCKET);
  }

  @Override
  public void createTopic(String name, int partitions) {
    Topics.create(kafkaBootstrap(), name, partitions);
  }

  @Override
  public void close() {
    redis.stop();
    minio.stop();
    kafka.stop();
  }
}
