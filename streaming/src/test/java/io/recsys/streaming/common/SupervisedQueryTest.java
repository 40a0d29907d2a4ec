package io.recsys.streaming.common;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The supervisor restarts a query on Spark's known Kafka-metrics defect only, never on other failures. */
class SupervisedQueryTest {

  static Throwable thrownAt(Throwable t, String className, String method) {
    t.setStackTrace(new StackTraceElement[] {
        new StackTraceElement(className, method, "X.scala", 520),
        new StackTraceElement("org.apache.spark.sql.execution.streaming.runtime.ProgressContext", "finishTrigger",
            "ProgressReporter.scala", 312)});
    return t;
  }

  @Test
  void recognisesTheKafkaMetricsNullPointerWhereverItIsWrapped() {
    Throwable npe = thrownAt(new NullPointerException("Option.get() is null"),
        "org.apache.spark.sql.kafka010.KafkaMicroBatchStream$", "metrics");
    assertThat(SupervisedQuery.isKnownRestartable(npe)).isTrue();
    assertThat(SupervisedQuery.isKnownRestartable(new RuntimeException("stream failed", npe))).isTrue();
  }

  @Test
  void doesNotRestartOnAnythingElse() {
    assertThat(SupervisedQuery.isKnownRestartable(thrownAt(new NullPointerException(),
        "io.recsys.streaming.bronze.BronzeBatchWriter", "call"))).isFalse();
    assertThat(SupervisedQuery.isKnownRestartable(thrownAt(new IllegalStateException(),
        "org.apache.spark.sql.kafka010.KafkaMicroBatchStream$", "metrics"))).isFalse();
    assertThat(SupervisedQuery.isKnownRestartable(thrownAt(new NullPointerException(),
        "org.apache.spark.sql.kafka010.KafkaMicroBatchStream", "planInputPartitions"))).isFalse();
    assertThat(SupervisedQuery.isKnownRestartable(new RuntimeException("no cause"))).isFalse();
  }
}
