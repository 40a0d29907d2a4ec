package io.recsys.streaming.online;

import io.recsys.features.Entity;
import io.recsys.features.FeatureView;
import io.recsys.spark.features.OnlineViewsWrite;
import io.recsys.spark.features.OnlineWrite;
import io.recsys.spark.features.StatefulViewAggregation;
import java.sql.Timestamp;
import java.util.List;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * The sink of one entity's query: a micro-batch holds the rows of every view the query computes
 * ({@link StatefulViewAggregation#computeAll}). One view: its {@link OnlineBatchWriter} does everything. Several
 * views: the batch is cached (so the stateful operator runs once, whatever reads it), all the views' rows go to
 * Redis in one Spark job, one script call per entity for all of its views ({@link OnlineViewsWrite}), bringing
 * back the offline log's records of every view; then each view's {@link OnlineBatchWriter} takes its rows on to
 * the offline log and the metrics, in the order of the views.
 *
 * <p>Why one write: a six-view micro-batch of the benchmark (about 30,000 rows) spent about 2 s in the five
 * Redis writes after the first, each its own Spark job over the cache with one script call per row; one script
 * call per entity took half the time of one per row in a measurement (see {@code OnlineStore#write}).
 */
final class EntityBatchWriter implements VoidFunction2<Dataset<Row>, Long>, AutoCloseable {

  private static final long serialVersionUID = 1L;
  private final Entity entity;
  private final List<FeatureView> views;
  private final List<OnlineBatchWriter> writers;
  private final OnlineViewsWrite write;

  EntityBatchWriter(Entity entity, List<FeatureView> views, List<OnlineBatchWriter> writers, OnlineViewsWrite write) {
    this.entity = entity;
    this.views = List.copyOf(views);
    this.writers = List.copyOf(writers);
    this.write = write;
  }

  @Override
  public void call(Dataset<Row> batch, Long batchId) throws Exception {
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
        writers.get(i).logAndRecord(logRows, batchId, results.get(i), writeNanos);
      }
    } finally {
      all.unpersist(false);
    }
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
