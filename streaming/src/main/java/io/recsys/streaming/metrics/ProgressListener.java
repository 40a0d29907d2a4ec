package io.recsys.streaming.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Iterator;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.SourceProgress;
import org.apache.spark.sql.streaming.StreamingQueryListener;
import org.apache.spark.sql.streaming.StreamingQueryProgress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records every micro-batch's progress of one query into {@link StreamMetrics} and the log: input rows,
 * processing rate, batch duration and how far the query is behind the end of its Kafka partitions.
 */
public final class ProgressListener extends StreamingQueryListener {

  private static final Logger LOG = LoggerFactory.getLogger(ProgressListener.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final StreamMetrics metrics;
  private final String name;
  private final Consumer<StreamingQueryProgress> onProgress;
  private volatile java.util.UUID queryId;
  private volatile StreamProgressLog log;
  private int started;
  private int terminated;

  public ProgressListener(StreamMetrics metrics, Consumer<StreamingQueryProgress> onProgress) {
    this(metrics, metrics.query(), onProgress);
  }

  /** A listener for one of several queries that share {@code metrics}; {@code name} labels its series. */
  public ProgressListener(StreamMetrics metrics, String name, Consumer<StreamingQueryProgress> onProgress) {
    this.metrics = metrics;
    this.name = name;
    this.onProgress = onProgress;
  }

  /** Listen to this query only (its id is stable across restarts from the same checkpoint). */
  public void follow(java.util.UUID id) {
    this.queryId = id;
  }

  /** Also buffer every micro-batch's progress into {@code ops.stream_progress} (null: do not). */
  public ProgressListener recordTo(StreamProgressLog log) {
    this.log = log;
    return this;
  }

  /**
   * Waits (up to {@code timeoutMillis}) until Spark's listener bus has delivered the termination of every run of
   * this query that it reported started, so the last batches' progress is recorded before the listener is removed.
   */
  public synchronized void awaitDelivered(long timeoutMillis) throws InterruptedException {
    long end = System.currentTimeMillis() + timeoutMillis;
    while (terminated < started && System.currentTimeMillis() < end) {
      wait(Math.max(1, end - System.currentTimeMillis()));
    }
  }

  /**
   * After the query's last run: waits for its last progress to be delivered, removes this listener and writes
   * what it buffered to {@code ops.stream_progress}.
   */
  public void detach(SparkSession spark) {
    try {
      awaitDelivered(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    spark.streams().removeListener(this);
    StreamProgressLog l = log;
    if (l != null) {
      l.release();
    }
  }

  @Override
  public void onQueryStarted(QueryStartedEvent event) {
    if (queryId != null ? !queryId.equals(event.id()) : !name.equals(event.name())) {
      return;
    }
    synchronized (this) {
      started++;
    }
    LOG.info("query {} started (id {}, run {})", event.name(), event.id(), event.runId());
  }

  @Override
  public void onQueryProgress(QueryProgressEvent event) {
    StreamingQueryProgress p = event.progress();
    if (queryId != null ? !queryId.equals(p.id()) : !name.equals(p.name())) {
      return;
    }
    String q = name;
    long behind = offsetsBehind(p);
    Long triggerMs = p.durationMs().get("triggerExecution");
    metrics.batches.labelValues(q).inc();
    metrics.inputRows.labelValues(q).inc(p.numInputRows());
    metrics.batchInputRows.labelValues(q).set(p.numInputRows());
    metrics.processedRowsPerSecond.labelValues(q).set(finite(p.processedRowsPerSecond()));
    metrics.inputRowsPerSecond.labelValues(q).set(finite(p.inputRowsPerSecond()));
    metrics.batchDurationSeconds.labelValues(q).set(triggerMs == null ? 0 : triggerMs / 1000.0);
    metrics.lastProgressSeconds.labelValues(q).set(System.currentTimeMillis() / 1000.0);
    if (behind >= 0) {
      metrics.offsetsBehindLatest.labelValues(q).set(behind);
    }
    if (p.numInputRows() > 0) {
      // durationMs: Spark's split of the trigger (latestOffset, queryPlanning, addBatch = the sink, walCommit,
      // commitOffsets, ...), where to look when batches take long
      LOG.info("{} batch {}: {} rows, {} rows/s, {} ms {}, {} offsets behind", q, p.batchId(), p.numInputRows(),
          Math.round(finite(p.processedRowsPerSecond())), triggerMs, p.durationMs(), behind);
    }
    StreamProgressLog l = log;
    if (l != null) {
      l.record(q, p, behind);
    }
    onProgress.accept(p);
  }

  @Override
  public void onQueryTerminated(QueryTerminatedEvent event) {
    if (queryId != null && !queryId.equals(event.id())) {
      return;
    }
    synchronized (this) {
      terminated++;
      notifyAll();
    }
    if (event.exception().isDefined()) {
      LOG.error("query {} failed: {}", event.id(), event.exception().get());
    } else {
      LOG.info("query {} stopped", event.id());
    }
  }

  /** Sum over every source and partition of (latest offset - end offset); -1 if Kafka did not report it. */
  public static long offsetsBehind(StreamingQueryProgress p) {
    long total = -1;
    for (SourceProgress s : p.sources()) {
      if (s.latestOffset() == null || s.endOffset() == null) {
        continue;
      }
      try {
        JsonNode latest = JSON.readTree(s.latestOffset());
        JsonNode end = JSON.readTree(s.endOffset());
        for (Iterator<Map.Entry<String, JsonNode>> topics = latest.fields(); topics.hasNext(); ) {
          Map.Entry<String, JsonNode> t = topics.next();
          for (Iterator<Map.Entry<String, JsonNode>> parts = t.getValue().fields(); parts.hasNext(); ) {
            Map.Entry<String, JsonNode> part = parts.next();
            long done = end.path(t.getKey()).path(part.getKey()).asLong(0);
            total = Math.max(total, 0) + Math.max(0, part.getValue().asLong() - done);
          }
        }
      } catch (Exception e) {
        LOG.debug("cannot read offsets of {}", s.description(), e);
      }
    }
    return total;
  }

  private static double finite(double d) {
    return Double.isFinite(d) ? d : 0;
  }
}
