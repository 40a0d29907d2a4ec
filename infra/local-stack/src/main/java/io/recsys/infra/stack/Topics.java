package io.recsys.infra.stack;

import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeException;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.RetryPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;

/** Topic creation shared by both stack implementations. */
final class Topics {
  private Topics() {}

  private static final long TIMEOUT_MS = 30_000;

  /**
   * Creates the topic (an existing one is kept) and returns once every partition's leader answers, so that the
   * topic takes writes. Kafka's CreateTopics answers when the controller has committed the topic, a moment before
   * the broker opens the partitions. An idempotent producer whose first request lands in that moment (retriable,
   * retried) and whose second request lands just after loses the first request's records: the broker accepts any
   * first sequence number from a producer it has no state for, then rejects the retried first request as out of
   * order until it expires (KAFKA-15591; the broker-side fix, apache/kafka#23234, came in 2026, after the Kafka 3.9
   * this stack runs).
   */
  static void create(String bootstrap, String name, int partitions) {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT_MS))) {
      int count = partitions;
      try {
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all()
            .get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          throw new LocalStackException("Cannot create topic " + name + " on " + bootstrap + ": " + e.getCause(), e);
        }
        count = admin.describeTopics(List.of(name)).allTopicNames().get(TIMEOUT_MS, TimeUnit.MILLISECONDS)
            .get(name).partitions().size();
      }
      awaitLeaders(admin, name, count);
    } catch (ExecutionException e) {
      throw new LocalStackException("Cannot read topic " + name + " on " + bootstrap + ": " + e.getCause(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LocalStackException("Interrupted while creating topic " + name, e);
    } catch (TimeoutException e) {
      throw new LocalStackException("Kafka at " + bootstrap + " did not create topic " + name + " and open its partitions within 30 s", e);
    }
  }

  /**
   * Waits until the broker's metadata lists the topic, then until every partition's leader answers a request for
   * its end offset: then the partitions take writes. A call that ends in a retriable error (unknown topic, not the
   * leader yet) is made again. (Asking for offsets before the metadata lists the topic makes the admin client log
   * an ERROR, so the metadata comes first.)
   */
  private static void awaitLeaders(Admin admin, String name, int partitions)
      throws InterruptedException, TimeoutException, ExecutionException {
    FailsafeExecutor<Object> untilOpen = Failsafe.with(RetryPolicy.builder()
        .handleIf(e -> e instanceof ExecutionException && e.getCause() instanceof RetriableException)
        .withDelay(Duration.ofMillis(20)).withMaxRetries(-1).withMaxDuration(Duration.ofMillis(TIMEOUT_MS)).build());
    Map<TopicPartition, OffsetSpec> request = IntStream.range(0, partitions)
        .mapToObj(p -> new TopicPartition(name, p))
        .collect(Collectors.toMap(Function.identity(), tp -> OffsetSpec.latest()));
    try {
      untilOpen.get(() -> admin.describeTopics(List.of(name)).allTopicNames().get(TIMEOUT_MS, TimeUnit.MILLISECONDS));
      untilOpen.get(() -> admin.listOffsets(request).all().get(TIMEOUT_MS, TimeUnit.MILLISECONDS));
    } catch (FailsafeException e) { // Failsafe wraps checked exceptions: give the caller the admin client's own
      if (e.getCause() instanceof ExecutionException x) {
        throw x;
      }
      if (e.getCause() instanceof TimeoutException x) {
        throw x;
      }
      if (e.getCause() instanceof InterruptedException x) {
        throw x;
      }
      throw e;
    }
  }
}
