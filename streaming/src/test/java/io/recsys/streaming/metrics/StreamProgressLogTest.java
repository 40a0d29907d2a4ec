package io.recsys.streaming.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.recsys.spark.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.SinkProgress;
import org.apache.spark.sql.streaming.SourceProgress;
import org.apache.spark.sql.streaming.StateOperatorProgress;
import org.apache.spark.sql.streaming.StreamingQueryProgress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ops.stream_progress is shared by the jobs of a lake (the demo runs bronze ingestion and the feature views in one
 * driver; a cluster runs them in several). Their first appends to a new table race to create it; no job's rows
 * may be lost to that race, and rows whose append failed wait for the next one.
 */
class StreamProgressLogTest {

  final SparkSession spark = SparkTestSession.get();

  static StreamingQueryProgress progress(long batchId) {
    return new StreamingQueryProgress(UUID.randomUUID(), UUID.randomUUID(), "q", "2026-12-04T10:00:00.000Z",
        batchId, 100L, Map.of("triggerExecution", 100L), Map.of(), new StateOperatorProgress[0],
        new SourceProgress[] {new SourceProgress("kafka", "{}", "{}", "{}", 10L, 1.0, 1.0, Map.of())},
        new SinkProgress("delta"), Map.of());
  }

  @Test
  void jobsThatCreateTheTableAtTheSameTimeKeepAllTheirRows(@TempDir Path dir) throws Exception {
    String path = dir.resolve("ops/stream_progress").toUri().toString();
    int jobs = 4;
    List<StreamProgressLog> logs = new ArrayList<>();
    for (int j = 0; j < jobs; j++) {
      StreamProgressLog log = StreamProgressLog.open(spark, path).acquire();
      for (long b = 0; b < 3; b++) {
        log.record("job-" + j, progress(b), 0);
      }
      logs.add(log);
    }
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(jobs);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (StreamProgressLog log : logs) {
        done.add(pool.submit(() -> {
          go.await();
          log.flush();
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
      logs.forEach(StreamProgressLog::release);
    }
    List<Row> perJob = spark.read().format("delta").load(path).groupBy("query").count().orderBy("query")
        .collectAsList();
    assertThat(perJob).hasSize(jobs);
    assertThat(perJob).allSatisfy(r -> assertThat(r.getLong(1)).isEqualTo(3));
  }

  @Test
  void rowsOfAFailedAppendAreAppendedByTheNextFlush(@TempDir Path dir) throws Exception {
    Path blocker = dir.resolve("ops");
    Files.writeString(blocker, "a file where the table's parent folder should be");
    String path = blocker.resolve("stream_progress").toUri().toString();
    StreamProgressLog log = StreamProgressLog.open(spark, path).acquire();
    try {
      log.record("bronze-ingest", progress(0), 0);
      log.record("bronze-ingest", progress(1), 0);
      assertThatThrownBy(log::flush).isInstanceOf(RuntimeException.class);
      assertThat(log.buffered()).isEqualTo(2);

      log.record("bronze-ingest", progress(2), 0);
      Files.delete(blocker);
      log.flush();
      assertThat(log.buffered()).isZero();
      assertThat(spark.read().format("delta").load(path).orderBy("batch_id").select("batch_id").collectAsList())
          .extracting(r -> r.getLong(0)).containsExactly(0L, 1L, 2L);
    } finally {
      log.release();
    }
  }
}
