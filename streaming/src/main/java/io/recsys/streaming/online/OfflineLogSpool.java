package io.recsys.streaming.online;

import io.recsys.spark.SchedulerPools;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The offline log's micro-batches between two Delta appends: each batch's rows go to a file beside the query's
 * checkpoint before the batch ends, and a daemon thread (one for every spool of the JVM, in the scheduler pool
 * {@link SchedulerPools#BACKGROUND}) appends the files to {@code features.<view>} in one
 * commit every interval. A micro-batch so pays for a small file write instead of a Delta commit, and the table
 * gets one commit (and one data file) per interval instead of one per micro-batch.
 *
 * <p>Exactly once, across crashes: a batch's file is written (to a temporary name, then renamed) before the batch
 * returns to Spark, so a committed batch is always in a file or in the log. An append carries the marker of its
 * newest batch ({@link OnlineBatchWriter#MARKER}); the files of the batches it appended are deleted after the
 * commit. After a restart, {@link #recover} deletes the files of batches the log has (the append committed, the
 * delete did not happen) and of batches Spark is about to run again, and appends the rest before the first batch.
 * Appends are in batch order and each covers every earlier pending batch, so "the newest marked batch" is "every
 * batch up to it".
 *
 * <p>A failed append (the lake unreachable) keeps the files and is tried again at the next interval; once
 * {@code maxPendingRows} rows wait, the micro-batch itself appends, so a failure that lasts stops the query with
 * the lake's error instead of filling the disk.
 *
 * <p>A file ({@link SpoolFile}) holds the batch's rows in Spark's own binary row format ({@code UnsafeRow}, the
 * format of Spark's state stores and shuffles), after a header with their schema, and a CRC-32 of them: the
 * append's task reads them into the Delta writer as they are, without parsing. A damaged file fails the append
 * loudly; it never becomes rows of nulls. Why not JSON lines, as before: writing and reading them back took about
 * a sixth of a six-view job's CPU, which the micro-batches share (BENCHMARKS.md, freshness notes). JSON files that
 * a run of an earlier version left ({@value #JSON_SUFFIX}) are still read, once, at recovery.
 */
final class OfflineLogSpool implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(OfflineLogSpool.class);
  private static final String PREFIX = "batch-";
  private static final String SUFFIX = ".rows";
  /** The files of versions before {@link SpoolFile}: JSON lines, ISO 8601 timestamps to the microsecond. */
  static final String JSON_SUFFIX = ".json";
  /**
   * The thread of every spool's appends in this JVM: one append at a time, so that the appends of a job's views
   * (each one task) take one task slot at most, and the streams keep the others. With a thread per view, the
   * six-view job's appends, all due at the same moment, took both slots of a 2-core machine for seconds while its
   * micro-batch waited (BENCHMARKS.md, freshness notes).
   */
  private static final ScheduledExecutorService APPENDS = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "offline-log-append");
    t.setDaemon(true);
    return t;
  });

  private final String table;
  private final String appId;
  private final Path dir;
  private final long maxPendingRows;
  private final Runnable onCommit;
  private final SparkSession spark;
  private final ScheduledFuture<?> task;
  private final Object appendLock = new Object();
  /** Spooled batch id -> rows, in batch order; guarded by itself. */
  private final TreeMap<Long, Long> pending = new TreeMap<>();
  /** The spooled batches whose file is an earlier version's JSON lines; guarded by {@link #pending}. */
  private final java.util.Set<Long> json = new java.util.HashSet<>();
  private volatile StructType schema;
  private boolean warned;

  /**
   * A spool in {@code dir} for query {@code appId}'s appends to {@code table}, appended every {@code interval};
   * {@code onCommit} runs after each append.
   */
  OfflineLogSpool(SparkSession spark, String table, String appId, String dir, Duration interval,
      long maxPendingRows, Runnable onCommit) {
    this.spark = spark;
    this.table = table;
    this.appId = appId;
    this.dir = new Path(dir);
    this.maxPendingRows = maxPendingRows;
    this.onCommit = onCommit;
    long ms = Math.max(1, interval.toMillis());
    this.task = APPENDS.scheduleWithFixedDelay(this::appendQuietly, ms, ms, TimeUnit.MILLISECONDS);
  }

  /**
   * Before the first batch of a run ({@code firstBatch}): deletes the files of batches the log has (up to
   * {@code lastLogged}) or that Spark runs again ({@code firstBatch} and later), and appends the others now.
   */
  void recover(StructType rowSchema, long lastLogged, long firstBatch) {
    schema = rowSchema;
    try {
      FileSystem fs = fs();
      if (!fs.exists(dir)) {
        return;
      }
      for (FileStatus f : fs.listStatus(dir)) {
        String name = f.getPath().getName();
        Long id = batchOf(name);
        if (id == null || id <= lastLogged || id >= firstBatch) {
          fs.delete(f.getPath(), false); // logged already, to be run again, or a file half written
        } else {
          synchronized (pending) {
            pending.put(id, -1L); // rows unknown until read; counted as none
            if (name.endsWith(JSON_SUFFIX)) {
              json.add(id);
            }
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the offline-log spool " + dir + ": " + e.getMessage(), e);
    }
    int left = pendingIds().size();
    if (left > 0) {
      LOG.info("{}: appending {} micro-batches spooled by the previous run", table, left);
      append();
    }
  }

  /**
   * Spools one micro-batch's rows (the caller checked that the log does not have it). Appends right away, on
   * the calling thread, when {@code maxPendingRows} would be exceeded.
   */
  void add(Dataset<Row> rows, long batchId) {
    add(rows.select(record(rows)).as(org.apache.spark.sql.Encoders.BINARY()).collectAsList(), rows.schema(),
        batchId);
  }

  /**
   * Spools one micro-batch given as its rows' {@link #record}s ({@code schema}: the rows'). Appends right away, on
   * the calling thread, when {@code maxPendingRows} would be exceeded.
   */
  void add(List<byte[]> records, StructType rowSchema, long batchId) {
    schema = rowSchema;
    write(batchId, rowSchema, records);
    boolean full;
    synchronized (pending) {
      pending.put(batchId, (long) records.size());
      full = pendingRows() > maxPendingRows;
    }
    if (full) {
      LOG.info("{}: {} rows spooled, over {}: appending them in micro-batch {}", table, pendingRows(),
          maxPendingRows, batchId);
      append();
    }
  }

  /** A row of {@code rows} as the spool's file holds it: Spark's binary row ({@link SpoolFile#record}). */
  static Column record(Dataset<Row> rows) {
    return record(java.util.Arrays.stream(rows.columns()).map(functions::col).toArray(Column[]::new));
  }

  /** The record of a row made of {@code columns}, which must be the columns of the rows' schema, in order. */
  static Column record(Column... columns) {
    return functions.udf(new SpoolFile.Record(), DataTypes.BinaryType).apply(functions.struct(columns));
  }

  /** Appends every spooled batch now (the caller's thread); throws if the append fails. */
  void append() {
    synchronized (appendLock) {
      List<Long> ids = pendingIds();
      if (ids.isEmpty()) {
        return;
      }
      long newest = ids.get(ids.size() - 1);
      List<String> paths = new ArrayList<>();
      List<String> jsonPaths = new ArrayList<>();
      synchronized (pending) {
        for (long id : ids) {
          (json.contains(id) ? jsonPaths : paths).add(new Path(dir, name(id, json.contains(id))).toString());
        }
      }
      SparkContext sc = spark.sparkContext();
      String description = sc.getLocalProperty("spark.job.description");
      sc.setJobDescription("offline log " + table + ": append " + ids.size() + " micro-batches");
      long t0 = System.nanoTime();
      try {
        Dataset<Row> rows;
        try {
          rows = SpoolFile.read(spark, fs(), paths);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read the offline-log spool " + dir + ": " + e.getMessage(), e);
        }
        if (!jsonPaths.isEmpty()) {
          // ISO 8601 timestamps, offset and all, to the microsecond: Spark's own parser reads them without a pattern
          Dataset<Row> old = spark.read().schema(schema).option("mode", "FAILFAST")
              .json(jsonPaths.toArray(String[]::new));
          rows = rows == null ? old : rows.unionByName(old, true);
        }
        // one task, so the append leaves the other cores to the stream
        rows.coalesce(1).write().format("delta").mode(SaveMode.Append)
            .option("userMetadata", OnlineBatchWriter.MARKER + appId + " batch " + newest)
            .option("mergeSchema", "true").save(table);
      } finally {
        sc.setJobDescription(description);
      }
      synchronized (pending) {
        ids.forEach(pending::remove);
        ids.forEach(json::remove);
      }
      try {
        FileSystem fs = fs();
        for (String p : java.util.stream.Stream.concat(paths.stream(), jsonPaths.stream()).toList()) {
          fs.delete(new Path(p), false);
        }
      } catch (IOException e) {
        // harmless: the marker says the log has them, and the next recovery deletes them
        LOG.warn("{}: appended micro-batches up to {} but could not delete their spool files: {}", table, newest,
            e.getMessage());
      }
      LOG.info("{}: appended {} spooled micro-batches (up to {}) in {} ms", table, ids.size(), newest,
          (System.nanoTime() - t0) / 1_000_000);
      onCommit.run();
    }
  }

  /** The spooled batch ids, oldest first. */
  List<Long> pendingIds() {
    synchronized (pending) {
      return new ArrayList<>(pending.keySet());
    }
  }

  private long pendingRows() {
    synchronized (pending) {
      return pending.values().stream().mapToLong(n -> Math.max(0, n)).sum();
    }
  }

  /**
   * Stops this spool's appends on the shared thread (one that is running ends first: {@link #append} holds the
   * lock) and appends what is spooled; on failure the files stay for the next run.
   */
  @Override
  public void close() {
    task.cancel(false);
    try {
      append();
    } catch (Exception e) { // also Spark's SparkException, checked in Java but not declared
      LOG.warn("{}: could not append the spooled micro-batches {} ({}); they stay in {} and the next run of the "
          + "query appends them", table, pendingIds(), e.getMessage(), dir);
    }
  }

  private void appendQuietly() {
    OfflineLogCheckpoints.besideTheStream(spark.sparkContext());
    try {
      append();
      warned = false;
    } catch (Exception e) { // also Spark's SparkException, checked in Java but not declared
      if (!warned) {
        LOG.warn("{}: appending the spooled micro-batches failed ({}); they stay in {}, tried again every interval",
            table, e.getMessage(), dir);
        warned = true;
      }
    }
  }

  private void write(long batchId, StructType rowSchema, List<byte[]> records) {
    Path tmp = new Path(dir, "." + name(batchId) + ".tmp");
    Path target = new Path(dir, name(batchId));
    try {
      FileSystem fs = fs();
      try (OutputStream out = fs.create(tmp, true)) {
        SpoolFile.write(out, rowSchema, records);
      }
      fs.delete(target, false); // the same batch, run again
      if (!fs.rename(tmp, target)) {
        throw new IOException("rename of " + tmp + " to " + target + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot spool micro-batch " + batchId + " of the offline log to " + dir + ": "
          + e.getMessage(), e);
    }
  }

  private FileSystem fs() throws IOException {
    return dir.getFileSystem(spark.sparkContext().hadoopConfiguration());
  }

  static String name(long batchId) {
    return name(batchId, false);
  }

  /** The name of a batch's file; {@code json}: as an earlier version named it. */
  static String name(long batchId, boolean json) {
    return PREFIX + String.format("%020d", batchId) + (json ? JSON_SUFFIX : SUFFIX);
  }

  /** The batch id of a spool file's name (this version's or an earlier one's), or null for anything else. */
  static Long batchOf(String name) {
    String suffix = name.endsWith(SUFFIX) ? SUFFIX : name.endsWith(JSON_SUFFIX) ? JSON_SUFFIX : null;
    if (!name.startsWith(PREFIX) || suffix == null) {
      return null;
    }
    try {
      return Long.parseLong(name.substring(PREFIX.length(), name.length() - suffix.length()));
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
