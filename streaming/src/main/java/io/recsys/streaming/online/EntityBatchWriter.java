package io.recsys.streaming.online;

import io.recsys.features.Entity;
import io.recsys.features.FeatureView;
import io.recsys.spark.features.OnlineViewsWrite;
import io.recsys.spark.features.OnlineWrite;
import io.recsys.spark.features.StatefulViewAggregation;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.DateTimeUtils;
import org.apache.spark.sql.execution.LogicalRDD;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink of one entity's query: a micro-batch holds the rows of every view the query computes
 * ({@link StatefulViewAggregation#computeAll}). All the views' rows go to Redis in one Spark job, one script call
 * per entity for all of its views ({@link OnlineViewsWrite}), bringing back the offline log's records of every
 * view; then each view's {@link OnlineBatchWriter} takes its rows on to the offline log and the metrics, in the
 * order of the views. Once every view spools (after a run's first micro-batch), the job streams the sink's own
 * rows ({@link #spoolFromRows}). Before that (the first micro-batch, whose rows are appended to the log directly,
 * or every micro-batch without an append interval), the batch is cached so that the stateful operator runs once
 * whatever reads it, and one view's {@link OnlineBatchWriter} does everything itself.
 *
 * <p>Why one write: a six-view micro-batch of the benchmark (about 30,000 rows) spent about 2 s in the five
 * Redis writes after the first, each its own Spark job over the cache with one script call per row; one script
 * call per entity took half the time of one per row in a measurement (see {@code OnlineStore#write}).
 */
final class EntityBatchWriter implements VoidFunction2<Dataset<Row>, Long>, AutoCloseable {

  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(EntityBatchWriter.class);
  private final Entity entity;
  private final List<FeatureView> views;
  private final List<OnlineBatchWriter> writers;
  private final OnlineViewsWrite write;
  /** Per view, the schema of its offline-log rows, once a micro-batch has shown the batch's schema. */
  private transient List<StructType> logSchemas;

  EntityBatchWriter(Entity entity, List<FeatureView> views, List<OnlineBatchWriter> writers, OnlineViewsWrite write) {
    this.entity = entity;
    this.views = List.copyOf(views);
    this.writers = List.copyOf(writers);
    this.write = write;
  }

  @Override
  public void call(Dataset<Row> batch, Long batchId) throws Exception {
    if (!writers.isEmpty() && writers.stream().allMatch(OnlineBatchWriter::wantsRecords)) {
      spoolFromRows(batch, batchId);
      return;
    }
    if (writers.size() == 1) {
      writers.get(0).call(StatefulViewAggregation.rowsOf(batch, views, entity, 0), batchId);
      return;
    }
    SparkSession spark = batch.sparkSession();
    spark.sparkContext().setJobDescription("online-features " + entity.name() + " (" + views.size() + " views) batch "
        + batchId);
    Dataset<Row> all = batch.persist(StorageLevel.MEMORY_AND_DISK());
    try {
      Column created = OnlineBatchWriter.created(new Timestamp(System.currentTimeMillis()));
      Column record = writers.stream().anyMatch(OnlineBatchWriter::wantsRecords)
          ? write.records(OfflineLogSpool::record, created.as("created_timestamp")) : null;
      long t0 = System.nanoTime();
      List<OnlineWrite.Result> results = write.run(all, record, OnlineBatchWriter.spoolRecordsPerPartition(spark));
      long writeNanos = System.nanoTime() - t0;
      for (int i = 0; i < writers.size(); i++) {
        Dataset<Row> logRows = StatefulViewAggregation.rowsOf(all, views, entity, i)
            .withColumn("created_timestamp", created);
        writers.get(i).logAndRecord(spark, logRows.schema(), () -> logRows, batchId, results.get(i), writeNanos);
      }
    } finally {
      all.unpersist(false);
    }
  }

  /**
   * A micro-batch once every view spools (after the first batch of a run): the batch's own rows, as the stream's
   * sink holds them ({@link #rowsOf}), go to Redis and bring back their offline-log records in one RDD job
   * ({@link OnlineViewsWrite#runRows}), as the stateful operator makes them.
   *
   * <p>Why: the frame's path (cache the batch, then a query over the cache) made a row wait for its whole
   * partition before its Redis write (a cache block is complete before it is read), and planned a query of its own
   * on the driver every micro-batch; here a row is written while the operator is still making the rows after it.
   * In the six-view benchmark that took p99 from about 1.35 s to about 1.05 s (BENCHMARKS.md, freshness notes).
   *
   * <p>Nothing is kept for later: when a partition held too many rows for the spool (their records do not come
   * back), the batch's rows are computed once more for the offline log, which reads the operator's state of the
   * batch before again (Spark re-runs a batch's tasks the same way after a failure). That costs time in a rare
   * batch instead of a cache in every batch; {@code maxOffsetsPerTrigger} keeps micro-batches below it.
   */
  private void spoolFromRows(Dataset<Row> batch, long batchId) {
    SparkSession spark = batch.sparkSession();
    spark.sparkContext().setJobDescription("online-features " + entity.name() + " (" + views.size() + " views) batch "
        + batchId);
    StructType schema = batch.schema();
    if (logSchemas == null) {
      Column created = OnlineBatchWriter.created(new Timestamp(0));
      logSchemas = new ArrayList<>();
      for (int i = 0; i < views.size(); i++) {
        logSchemas.add(StatefulViewAggregation.rowsOf(batch, views, entity, i)
            .withColumn("created_timestamp", created).schema());
      }
    }
    Timestamp createdAt = new Timestamp(System.currentTimeMillis());
    RDD<InternalRow> rows = rowsOf(batch);
    long t0 = System.nanoTime();
    int limit = OnlineBatchWriter.spoolRecordsPerPartition(spark);
    List<OnlineWrite.Result> results = write.runRows(rows, schema, DateTimeUtils.fromJavaTimestamp(createdAt), limit);
    long writeNanos = System.nanoTime() - t0;
    AtomicReference<Dataset<Row>> again = new AtomicReference<>();
    try {
      for (int i = 0; i < writers.size(); i++) {
        int view = i;
        Supplier<Dataset<Row>> logRows = () -> {
          if (again.get() == null) {
            LOG.warn("online-features {} batch {}: a partition held more than {} rows, too many to bring to the "
                + "driver for the offline log's spool; computing the batch's rows again for the log (set "
                + "--max-offsets-per-trigger to keep micro-batches smaller)", entity.name(), batchId, limit);
            again.set(((org.apache.spark.sql.classic.SparkSession) spark).internalCreateDataFrame(rows, schema, false)
                .persist(StorageLevel.MEMORY_AND_DISK()));
          }
          return StatefulViewAggregation.rowsOf(again.get(), views, entity, view)
              .withColumn("created_timestamp", OnlineBatchWriter.created(createdAt));
        };
        writers.get(i).logAndRecord(spark, logSchemas.get(i), logRows, batchId, results.get(i), writeNanos);
      }
    } finally {
      if (again.get() != null) {
        again.get().unpersist(false);
      }
    }
  }

  /**
   * The rows of the micro-batch's frame: the RDD of the stream's own plan, which Spark's foreachBatch sink wraps
   * in the frame it hands over (so nothing runs twice); else the frame's plan as an RDD.
   */
  static RDD<InternalRow> rowsOf(Dataset<Row> batch) {
    if (batch.queryExecution().analyzed() instanceof LogicalRDD plan) {
      return plan.rdd();
    }
    return batch.queryExecution().toRdd();
  }

  /** Ends every view's writer (their spooled offline-log rows are appended); the first failure is thrown. */
  @Override
  public void close() throws Exception {
    Exception first = null;
    for (OnlineBatchWriter w : writers) {
      try {
        w.close();
      } catch (Exception e) { // also Spark's SparkException, checked in Java but not declared
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
