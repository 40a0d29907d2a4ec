package io.recsys.streaming.online;

import io.recsys.spark.SchedulerPools;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.delta.DeltaLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delta log checkpoints of one offline log {@code features.<view>}, written beside the stream instead of in it.
 *
 * <p>Delta writes a checkpoint of a table's log inside the commit that reaches a multiple of
 * {@code delta.checkpointInterval}, on the committing thread. The online job committed to its offline log every
 * micro-batch (now, by default, every 10 s: {@link OfflineLogSpool}), so that commit's batch waited for the
 * checkpoint: in a one-view benchmark run, 3.6 s once every 100
 * batches (with Delta's default interval of 10, 1.5-1.9 s every tenth batch), and every probe event of that batch
 * and the next waited with it. So the job takes the table's checkpoints over: it sets
 * {@code delta.checkpointInterval} to {@value #ON_COMMIT} (no commit reaches it) and marks the table with
 * {@value #OWNER_PROPERTY}; then every {@code every} commits of the stream, a daemon thread checkpoints the newest
 * version and cleans up expired log files, as Delta's own checkpoint does. A table whose interval was set by
 * someone else (no mark) keeps it, and Delta's checkpoints on commit.
 *
 * <p>The checkpoint still costs CPU: on 2 cores, in the one-view benchmark, each took 4.7-7.2 s beside the stream
 * and slowed the 2-4 micro-batches beside it to 1.6-2.5 s (about 0.9 s otherwise), so every checkpoint in the
 * benchmark's measured window set its p95 and p99. Hence also a minimum gap between two checkpoints (the job uses
 * 10 minutes): with back-to-back micro-batches of about a second, one checkpoint in some 600 commits instead of
 * 100; with the job's default trigger of 10 s, 100 commits are over 16 minutes anyway. A reader replays the JSON
 * commits since the last checkpoint, so up to about 600 of them. Commits of other writers (the maintenance job's
 * OPTIMIZE) no longer checkpoint the table; the stream's next background checkpoint covers them.
 */
final class OfflineLogCheckpoints {

  private static final Logger LOG = LoggerFactory.getLogger(OfflineLogCheckpoints.class);
  static final String OWNER_PROPERTY = "recsys.checkpoints";
  static final String OWNER = "online-features background";
  static final int ON_COMMIT = 1_000_000;

  private final String path;
  private final int every;
  private final long minGapNanos;
  private long lastStart;
  private ExecutorService thread;
  private Future<?> running;
  private int commits;

  /** A checkpoint every {@code every} commits of the stream, and at least {@code minGap} after the last one. */
  OfflineLogCheckpoints(String path, int every, java.time.Duration minGap) {
    this.path = path;
    this.every = every;
    this.minGapNanos = minGap.toNanos();
    this.lastStart = System.nanoTime();
  }

  /**
   * Takes the table's checkpoints over unless its interval is someone else's; returns whether it did. Only a latency
   * matter: if the ALTER fails (another writer changed the table at the same moment), Delta keeps checkpointing on
   * commit and the next start of the query tries again.
   */
  boolean takeOver(SparkSession spark) {
    String table = "delta.`" + path.replace("`", "``") + "`";
    try {
      var props = new java.util.HashMap<String, String>();
      spark.sql("SHOW TBLPROPERTIES " + table).collectAsList().forEach(r -> props.put(r.getString(0), r.getString(1)));
      if (props.containsKey("delta.checkpointInterval") && !OWNER.equals(props.get(OWNER_PROPERTY))) {
        LOG.info("{}: keeps its own delta.checkpointInterval ({}); Delta checkpoints it on commit", path,
            props.get("delta.checkpointInterval"));
        return false;
      }
      if (!String.valueOf(ON_COMMIT).equals(props.get("delta.checkpointInterval"))) {
        spark.sql("ALTER TABLE " + table + " SET TBLPROPERTIES ('delta.checkpointInterval' = '" + ON_COMMIT + "', '"
            + OWNER_PROPERTY + "' = '" + OWNER + "')");
        LOG.info("{}: log checkpoints now written by the online-features job beside the stream, every {} commits "
            + "and at least {} s apart", path, every, minGapNanos / 1_000_000_000L);
      }
      // one thread at most, gone after a minute idle: a query restarted in the same JVM leaves none behind
      thread = new ThreadPoolExecutor(0, 1, 1, TimeUnit.MINUTES, new LinkedBlockingQueue<>(), r -> {
        Thread t = new Thread(r, "offline-log-checkpoint");
        t.setDaemon(true);
        return t;
      });
      return true;
    } catch (Exception e) { // also Spark's AnalysisException, which is checked in Java but not declared
      LOG.warn("{}: could not take the log's checkpoints over ({}); Delta checkpoints it on commit", path,
          e.getMessage());
      return false;
    }
  }

  /**
   * Counts a commit of the stream; once {@code every} commits and the minimum gap have passed, starts a checkpoint
   * unless one still runs.
   */
  synchronized void committed(SparkSession spark) {
    commits++;
    long now = System.nanoTime();
    if (thread == null || commits < every || now - lastStart < minGapNanos
        || (running != null && !running.isDone())) {
      return;
    }
    commits = 0;
    lastStart = now;
    running = thread.submit(() -> checkpoint(spark));
  }

  private void checkpoint(SparkSession spark) {
    SparkContext sc = spark.sparkContext();
    besideTheStream(sc);
    sc.setJobDescription("offline log checkpoint " + path);
    long t0 = System.nanoTime();
    try {
      DeltaLog log = DeltaLog.forTable(spark, path);
      log.checkpoint(log.update(false, scala.Option.empty(), scala.Option.empty()), scala.Option.empty());
      LOG.info("{}: log checkpoint in {} ms (beside the stream)", path, (System.nanoTime() - t0) / 1_000_000);
    } catch (RuntimeException e) {
      LOG.warn("{}: log checkpoint failed ({}); the next one is in {} commits", path, e.getMessage(), every);
    }
  }

  /**
   * Makes this thread's Spark jobs work beside the stream: clears the local properties that a thread started by the
   * stream's thread inherited from it (its SQL execution, job group and query id), so that its jobs are not taken
   * for the stream's, and puts them in the scheduler pool {@link SchedulerPools#BACKGROUND}.
   */
  static void besideTheStream(SparkContext sc) {
    SchedulerPools.use(sc, SchedulerPools.BACKGROUND);
    for (String key : new String[] {"spark.sql.execution.id", "spark.sql.execution.root.id", "spark.jobGroup.id",
        "spark.job.interruptOnCancel", "spark.job.tags", "sql.streaming.queryId", "streaming.sql.batchId"}) {
      sc.setLocalProperty(key, null);
    }
  }

  /** Waits for a running checkpoint (tests). */
  void awaitIdle() throws Exception {
    if (running != null) {
      running.get(2, TimeUnit.MINUTES);
    }
  }
}
