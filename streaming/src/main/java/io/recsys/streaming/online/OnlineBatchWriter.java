package io.recsys.streaming.online;

import io.recsys.spark.features.OnlineWrite;

import io.recsys.lake.LakeLayout;
import io.recsys.spark.Settings;
import io.recsys.streaming.metrics.StreamMetrics;
import io.delta.tables.DeltaTable;
import java.sql.Timestamp;
import java.util.List;
import java.util.function.Supplier;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF0;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink of one feature view's query, per micro-batch: (1) write the rows to Redis from the executors
 * ({@link OnlineWrite}) as absolute values with stale-write protection, so a batch that Spark runs again after a
 * crash changes nothing; (2) append them to the Delta offline log {@code features.<view>} with
 * {@code created_timestamp}, exactly once; (3) record the freshness (write time minus event time) and the counts
 * in the metrics. Redis goes first because serving reads it; both writes are idempotent, so their order does not
 * matter for a batch run again. Runs on the driver; the batch is cached because both writes read it. With several
 * views of one entity, {@link EntityBatchWriter} writes Redis for all of them in one pass and hands each view's
 * rows and figures to its writer's {@link #logAndRecord}, which does (2) and (3).
 *
 * <p>With an append interval (the job's default, 10 s), a micro-batch after the first of a run spools its rows
 * ({@link OfflineLogSpool}) and a thread beside the stream appends the spooled batches every interval: a small
 * file per micro-batch instead of a Delta commit, and one commit per interval. The spooled rows come back to the
 * driver from the Redis write's own Spark job, as binary records ({@link SpoolFile}). The first batch of a run, a
 * batch with more than its share of {@value #SPOOL_MAX_BATCH_ROWS} rows in one partition (not collected through
 * the driver), and every batch without an interval are appended by the micro-batch itself, after whatever is
 * spooled.
 *
 * <p>Exactly once for the offline log, without paying Delta's idempotent-write check on every batch: Spark runs a
 * committed batch again only as the first batch after a (re)start, so only that one can already be in the log.
 * Every append carries a marker in the commit's {@code userMetadata} ({@value #MARKER} with the query's id and
 * the id of the newest batch it holds); the first batch of a run looks up this query's newest marker in the
 * table's history, lets the spool recover what the last run spooled, and skips the batch if the log has it; its
 * append also carries Delta's {@code txnAppId}/{@code txnVersion}, which covers logs written before the markers.
 * Later appends carry the marker alone. Why: with {@code txnAppId} Delta 4.3.1
 * reconstructs the table's state on every append to read its set transactions (the .crc file has them, but
 * {@code OptimisticTransaction.txnVersion} does not use it); in a 5,000-row append harness (local[2]) that took
 * the append from about 0.35 s to 0.9 s. Empty batches append nothing: there is nothing to log or duplicate.
 *
 * <p>Delta's checkpoints of the offline log's own log are written beside the stream, every
 * {@value #CHECKPOINT_EVERY} commits and at least {@link #CHECKPOINT_MIN_GAP} apart, not inside the commit that
 * reaches the interval: see {@link OfflineLogCheckpoints}.
 */
final class OnlineBatchWriter implements VoidFunction2<Dataset<Row>, Long> {

  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(OnlineBatchWriter.class);
  private static final String QUERY_ID_PROPERTY = "sql.streaming.queryId";
  static final int CHECKPOINT_EVERY = 100;
  static final java.time.Duration CHECKPOINT_MIN_GAP = java.time.Duration.ofMinutes(10);
  /** The start of the {@code userMetadata} of an offline-log append: {@code MARKER + appId + " batch " + id}. */
  static final String MARKER = "recsys-online-log ";
  /** Commits of the log's history read first when looking for this query's newest marker; then all of it. */
  static final int HISTORY_FIRST_LOOK = 100;

  /**
   * A micro-batch with more rows (more than this over the shuffle partitions, in one of them; with several views
   * written in one pass, their rows together) is appended to the
   * log directly, not spooled through the driver's heap.
   */
  static final long SPOOL_MAX_BATCH_ROWS = 100_000;
  /** Spooled rows that make the micro-batch append them itself (see {@link OfflineLogSpool}). */
  static final long SPOOL_MAX_PENDING_ROWS = 1_000_000;

  private final LakeLayout lake;
  private final OnlineWrite write;
  private final transient StreamMetrics metrics;
  /** Where micro-batches wait for the next append, or null: every micro-batch appends. */
  private final String spoolDir;
  private final java.time.Duration appendInterval;
  /** The log's checkpoints, once the first commit of this run made sure the table exists. */
  private transient OfflineLogCheckpoints checkpoints;
  private transient OfflineLogSpool spool;
  /** Whether this run (this instance: a restart builds a new one) has checked the log for a batch run again. */
  private transient boolean runChecked;

  /**
   * A writer that spools micro-batches in {@code spoolDir} and appends them every {@code appendInterval}; with a
   * null directory or a zero interval, every micro-batch appends.
   */
  OnlineBatchWriter(LakeLayout lake, OnlineWrite write, StreamMetrics metrics, String spoolDir,
      java.time.Duration appendInterval) {
    this.lake = lake;
    this.write = write;
    this.metrics = metrics;
    this.spoolDir = appendInterval.isZero() ? null : spoolDir;
    this.appendInterval = appendInterval;
  }

  @Override
  public void call(Dataset<Row> batch, Long batchId) {
    SparkSession spark = batch.sparkSession();
    spark.sparkContext().setJobDescription("online-features " + write.view().name() + " batch " + batchId);
    Dataset<Row> rows = batch.persist();
    try {
      long t0 = System.nanoTime();
      Dataset<Row> logRows = rows.withColumn("created_timestamp", created(new Timestamp(System.currentTimeMillis())));
      // after a run's first batch, the Redis write's own job brings back the rows for the spool: one pass
      OnlineWrite.Result res = wantsRecords()
          ? write.run(logRows, OfflineLogSpool.record(logRows), spoolRecordsPerPartition(spark))
          : new OnlineWrite.Result(write.run(rows), null);
      logAndRecord(spark, logRows.schema(), () -> logRows, batchId, res, System.nanoTime() - t0);
    } finally {
      rows.unpersist();
    }
  }

  /**
   * A micro-batch's {@code created_timestamp} as a column. Not a literal: Spark writes a literal's value into the
   * code it generates, so a new value every micro-batch made Spark compile the batch's write code again, on the
   * driver and in the tasks (20-35 ms per query in a measurement; BENCHMARKS.md, freshness notes). A function
   * that returns the value leaves the code the same from one micro-batch to the next.
   */
  static Column created(Timestamp at) {
    return functions.udf((UDF0<Timestamp>) () -> at, DataTypes.TimestampType).apply();
  }

  /**
   * Whether the next micro-batch's Redis write should bring back its rows' offline-log records: after the first
   * batch of a run, when micro-batches are spooled.
   */
  boolean wantsRecords() {
    return runChecked && spool != null;
  }

  /**
   * What follows the Redis write of a micro-batch: {@code logRows} (the view's rows with {@code created_timestamp},
   * of {@code logSchema}, cached or cheap to read again; made only when they are appended) go to the offline log,
   * through the spool when {@code res} has their records, and the write's figures to the metrics and the log.
   * {@code writeNanos}: how long the Redis write took.
   */
  void logAndRecord(SparkSession spark, StructType logSchema, Supplier<Dataset<Row>> logRows, long batchId,
      OnlineWrite.Result res, long writeNanos) {
    String view = write.view().name();
    String queryId = spark.sparkContext().getLocalProperty(QUERY_ID_PROPERTY);
    String appId = "recsys-online-" + view + "-" + queryId;
    String path = lake.features(view);
    OnlineWrite.Stats s = res.stats();
    long t1 = System.nanoTime();
    if (!runChecked) {
      // the first batch of a run: the log may have it already (Spark runs a committed batch again only now)
      long last = lastLoggedBatch(spark, path, appId, HISTORY_FIRST_LOOK);
      if (spoolDir != null) {
        spool = new OfflineLogSpool(spark, path, appId, spoolDir, appendInterval, SPOOL_MAX_PENDING_ROWS,
            () -> committedToLog(spark));
        spool.recover(logSchema, last, batchId);
      }
      runChecked = true;
      if (s.rows() > 0 && last >= batchId) {
        LOG.info("{}: batch {} is already in the offline log (this query's newest there is batch {}); not appended "
            + "again", path, batchId, last);
      } else if (s.rows() > 0) {
        // Delta skips the append if an older version of this writer logged the batch with these options
        append(logRows.get(), appId, batchId, true);
      }
    } else if (s.rows() > 0) {
      if (res.records() != null && spool != null) {
        spool.add(res.records(), logSchema, batchId);
      } else {
        if (spool != null) {
          spool.append(); // the log's batches stay in order: every marker covers all batches before it
        }
        append(logRows.get(), appId, batchId, false);
      }
    }
    long t2 = System.nanoTime();
    if (metrics != null) {
      metrics.recordOnlineBatch(view, s.written(), s.stale(), s.lagSumSeconds(), s.lagMaxSeconds());
    }
    if (s.rows() > 0) {
      LOG.info("{} batch {}: {} rows -> Redis {} written, {} stale-skipped in {} ms; offline log {} ms; "
          + "lag max {} s", view, batchId, s.rows(), s.written(), s.stale(), writeNanos / 1_000_000,
          (t2 - t1) / 1_000_000, Math.round(s.lagMaxSeconds()));
    }
  }

  /**
   * The rows a partition may bring back for the spool: {@value #SPOOL_MAX_BATCH_ROWS} (or
   * {@code spark.recsys.online.spoolMaxBatchRows}, which tests set low) over the partitions.
   */
  static int spoolRecordsPerPartition(SparkSession spark) {
    int partitions = Math.max(1, Integer.parseInt(spark.conf().get("spark.sql.shuffle.partitions", "200")));
    long max = Settings.positiveLong(spark.conf(), "spark.recsys.online.spoolMaxBatchRows", SPOOL_MAX_BATCH_ROWS,
        "a number of rows, 1 or more (default " + SPOOL_MAX_BATCH_ROWS + ")");
    return (int) Math.min(Integer.MAX_VALUE, Math.max(1, max / partitions));
  }

  /** Appends one micro-batch's rows to the offline log, marked with its id; {@code txn} adds Delta's own check. */
  private void append(Dataset<Row> logRows, String appId, long batchId, boolean txn) {
    SparkSession spark = logRows.sparkSession();
    var writer = logRows.write().format("delta").mode(SaveMode.Append)
        .option("userMetadata", MARKER + appId + " batch " + batchId)
        .option("mergeSchema", "true");
    if (txn) {
      writer = writer.option("txnAppId", appId).option("txnVersion", batchId);
    }
    writer.save(lake.features(write.view().name()));
    committedToLog(spark);
  }

  /** Counts a commit to the log for its checkpoints (from the stream's thread or the spool's). */
  private synchronized void committedToLog(SparkSession spark) {
    if (checkpoints == null) {
      checkpoints = new OfflineLogCheckpoints(lake.features(write.view().name()), CHECKPOINT_EVERY,
          CHECKPOINT_MIN_GAP);
      checkpoints.takeOver(spark);
    }
    checkpoints.committed(spark);
  }

  /**
   * Ends this run of the writer: appends what is spooled (what cannot be appended stays spooled for the next run)
   * and stops the spool's thread.
   */
  void close() {
    OfflineLogSpool s = spool;
    if (s != null) {
      s.close();
    }
  }

  /**
   * The newest batch id that query {@code appId} marked in the log's history, -1 for none (or no table yet). Reads
   * the last {@code firstLook} commits first (the query commits every batch that has rows, so its newest marker is
   * nearly always among them), then the whole history.
   */
  static long lastLoggedBatch(SparkSession spark, String path, String appId, int firstLook) {
    if (!DeltaTable.isDeltaTable(spark, path)) {
      return -1;
    }
    DeltaTable table = DeltaTable.forPath(spark, path);
    String prefix = MARKER + appId + " batch ";
    for (boolean all : new boolean[] {false, true}) {
      // one read of the commits' versions and userMetadata; the newest marked commit wins
      List<Row> commits = (all ? table.history() : table.history(firstLook)).select("version", "userMetadata")
          .collectAsList();
      long newest = -1;
      long batch = -1;
      for (Row r : commits) {
        if (!r.isNullAt(1) && r.getString(1).startsWith(prefix) && r.getLong(0) > newest) {
          newest = r.getLong(0);
          batch = Long.parseLong(r.getString(1).substring(prefix.length()).trim());
        }
      }
      if (newest >= 0) {
        return batch;
      }
      if (commits.size() < firstLook) {
        break; // the first look saw the whole history
      }
    }
    return -1;
  }
}
