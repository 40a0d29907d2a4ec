package io.recsys.streaming.metrics;

import dev.failsafe.Failsafe;
import dev.failsafe.RetryPolicy;
import io.recsys.spark.SchedulerPools;
import io.recsys.spark.Settings;
import io.recsys.streaming.common.DeltaConflicts;
import java.sql.Date;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StateOperatorProgress;
import org.apache.spark.sql.streaming.StreamingQueryProgress;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code ops.stream_progress}: one Delta row per micro-batch of every streaming query, so the history of a
 * job (rates, batch durations, lag, quarantined and late rows) can be queried with SQL long after the Prometheus
 * gauges moved on.
 *
 * <p>The listener only buffers; a daemon thread appends the buffer every {@code flushInterval} and once more
 * when the last query that uses this log ends, so a micro-batch never waits for this table. A crash of the driver
 * loses at most one interval of rows: the table is an operational record, not data. Blind appends, so jobs that
 * share a lake (bronze ingestion, the feature views) write to it at the same time without conflicts, except while
 * the table does not exist yet: then all but one of the first appends fail on Delta's protocol check
 * ({@code ProtocolChangedException}) and are tried again, against the table the first one created. An append that
 * still fails leaves its rows in the buffer for the next flush.
 *
 * <p>Settings: {@code spark.recsys.progress.table} (true or false, default true) and
 * {@code spark.recsys.progress.flushInterval} (seconds, default 60).
 */
public final class StreamProgressLog {

  private static final Logger LOG = LoggerFactory.getLogger(StreamProgressLog.class);
  private static final int MAX_BUFFERED = 100_000;
  private static final int MAX_ANNOTATED = 10_000;
  /** Two first appends to a new table conflict; the second succeeds once the first has created it. */
  private static final RetryPolicy<Object> ON_CONFLICT =
      DeltaConflicts.retry(Duration.ofMillis(100), Duration.ofSeconds(2), 5);

  public static final StructType SCHEMA = new StructType()
      .add("query", DataTypes.StringType, false)
      .add("query_id", DataTypes.StringType, false)
      .add("run_id", DataTypes.StringType, false)
      .add("batch_id", DataTypes.LongType, false)
      .add("batch_time", DataTypes.TimestampType, false)
      .add("input_rows", DataTypes.LongType, false)
      .add("input_rows_per_second", DataTypes.DoubleType, true)
      .add("processed_rows_per_second", DataTypes.DoubleType, true)
      .add("duration_ms", DataTypes.LongType, true)
      .add("offsets_behind_latest", DataTypes.LongType, true)
      .add("quarantined_rows", DataTypes.LongType, true)
      .add("late_rows_dropped", DataTypes.LongType, true)
      .add("state_rows", DataTypes.LongType, true)
      .add("progress_json", DataTypes.StringType, false)
      .add("date", DataTypes.DateType, false);

  private final SparkSession spark;
  private final String path;
  private final List<Row> buffer = new ArrayList<>();
  private final Map<String, Long> quarantined = new ConcurrentHashMap<>();
  private final AtomicInteger users = new AtomicInteger();
  private final ScheduledExecutorService flusher;
  private boolean warned;
  private boolean overflowWarned;

  private StreamProgressLog(SparkSession spark, String path, long flushSeconds) {
    this.spark = spark;
    this.path = path;
    this.flusher = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "stream-progress-log");
      t.setDaemon(true);
      return t;
    });
    flusher.scheduleWithFixedDelay(() -> {
      // its appends take the task slots the streams leave
      SchedulerPools.use(spark.sparkContext(), SchedulerPools.BACKGROUND);
      flushQuietly();
    }, flushSeconds, flushSeconds, TimeUnit.SECONDS);
  }

  /** A log appending to {@code path}, or null when {@code spark.recsys.progress.table} is false. */
  public static StreamProgressLog open(SparkSession spark, String path) {
    if (!Boolean.parseBoolean(spark.conf().get("spark.recsys.progress.table", "true"))) {
      return null;
    }
    long seconds = Settings.positiveLong(spark.conf(), "spark.recsys.progress.flushInterval", 60,
        "a number of seconds above 0");
    return new StreamProgressLog(spark, path, seconds);
  }

  /** One more query records into this log; each must {@link #release} it when it ends. */
  public StreamProgressLog acquire() {
    users.incrementAndGet();
    return this;
  }

  /** A query that used this log ended: its rows are written now, and the flusher stops after the last one. */
  public void release() {
    flushQuietly();
    if (users.decrementAndGet() <= 0) {
      flusher.shutdown();
      int left = buffered();
      if (left > 0) {
        LOG.warn("ops.stream_progress: {} rows could not be appended to {} and are dropped as the last query "
            + "using it ended", left, path);
      }
    }
  }

  /** Rows a micro-batch quarantined, recorded by the sink before the batch's progress is reported. */
  public void quarantined(String query, long batchId, long rows) {
    if (quarantined.size() < MAX_ANNOTATED) {
      quarantined.put(query + "#" + batchId, rows);
    }
  }

  /** Buffers one micro-batch's progress (called by {@link ProgressListener}). */
  void record(String query, StreamingQueryProgress p, long offsetsBehind) {
    Long late = null;
    Long stateRows = null;
    for (StateOperatorProgress op : p.stateOperators()) {
      late = (late == null ? 0 : late) + op.numRowsDroppedByWatermark();
      stateRows = (stateRows == null ? 0 : stateRows) + op.numRowsTotal();
    }
    Instant at = Instant.parse(p.timestamp());
    Long trigger = p.durationMs().get("triggerExecution");
    Row row = RowFactory.create(query, p.id().toString(), p.runId().toString(), p.batchId(), Timestamp.from(at),
        p.numInputRows(), finiteOrNull(p.inputRowsPerSecond()), finiteOrNull(p.processedRowsPerSecond()),
        trigger, offsetsBehind < 0 ? null : offsetsBehind, quarantined.remove(query + "#" + p.batchId()), late,
        stateRows, p.json(), Date.valueOf(at.atZone(ZoneOffset.UTC).toLocalDate()));
    synchronized (buffer) {
      if (buffer.size() < MAX_BUFFERED) {
        buffer.add(row);
      } else if (!overflowWarned) {
        overflowWarned = true;
        LOG.warn("ops.stream_progress: {} rows wait for an append to {}; later batches are not recorded until one "
            + "succeeds", MAX_BUFFERED, path);
      }
    }
  }

  /**
   * Appends the buffered rows now. When the append fails (after the retries of a conflict), its rows go back to
   * the front of the buffer, for the next flush, and the failure is thrown.
   */
  public synchronized void flush() {
    List<Row> rows;
    synchronized (buffer) {
      if (buffer.isEmpty()) {
        return;
      }
      rows = new ArrayList<>(buffer);
      buffer.clear();
    }
    String before = spark.sparkContext().getLocalProperty("spark.job.description");
    spark.sparkContext().setJobDescription("append " + rows.size() + " rows to ops.stream_progress");
    try {
      Failsafe.with(ON_CONFLICT).run(() -> spark.createDataFrame(rows, SCHEMA).write().format("delta")
          .mode(SaveMode.Append).partitionBy("date").save(path));
    } catch (RuntimeException e) {
      synchronized (buffer) {
        List<Row> newer = new ArrayList<>(buffer);
        buffer.clear();
        buffer.addAll(rows);
        buffer.addAll(newer.subList(0, Math.max(0, Math.min(newer.size(), MAX_BUFFERED - rows.size()))));
      }
      throw e;
    } finally {
      spark.sparkContext().setJobDescription(before);
    }
  }

  /** Rows waiting for the next flush. */
  int buffered() {
    synchronized (buffer) {
      return buffer.size();
    }
  }

  private synchronized void flushQuietly() {
    try {
      flush();
    } catch (Exception e) {
      // the streaming query matters more than its progress record: warn once, keep the query running
      if (!warned) {
        LOG.warn("cannot append to ops.stream_progress at {} (its rows wait for the next try, up to {}): {}", path,
            MAX_BUFFERED, e.toString());
        warned = true;
      }
    }
  }

  private static Double finiteOrNull(double d) {
    return Double.isFinite(d) ? d : null;
  }
}
