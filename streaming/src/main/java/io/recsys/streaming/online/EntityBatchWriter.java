package io.recsys.streaming.online;

import io.recsys.features.Entity;
import io.recsys.features.FeatureView;
import io.recsys.spark.features.StatefulViewAggregation;
import java.util.List;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;

/**
 * The sink of one entity's query: a micro-batch holds the rows of every view the query computes
 * ({@link StatefulViewAggregation#computeAll}); each view's rows go to that view's {@link OnlineBatchWriter}
 * (Redis, offline log, metrics), in the order of the views. With several views the batch is cached first, so
 * the stateful operator runs once for all of them.
 */
final class EntityBatchWriter implements VoidFunction2<Dataset<Row>, Long>, AutoCloseable {

  private static final long serialVersionUID = 1L;
  private final Entity entity;
  private final List<FeatureView> views;
  private final List<OnlineBatchWriter> writers;

  EntityBatchWriter(Entity entity, List<FeatureView> views, List<OnlineBatchWriter> writers) {
    this.entity = entity;
    this.views = List.copyOf(views);
    this.writers = List.copyOf(writers);
  }

  @Override
  public void call(Dataset<Row> batch, Long batchId) throws Exception {
    if (writers.size() == 1) {
      writers.get(0).call(StatefulViewAggregation.rowsOf(batch, views, entity, 0), batchId);
      return;
    }
    Dataset<Row> all = batch.persist(StorageLevel.MEMORY_AND_DISK());
    try {
      for (int i = 0; i < writers.size(); i++) {
        writers.get(i).call(StatefulViewAggregation.rowsOf(all, views, entity, i), batchId);
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
