package io.recsys.streaming.online;

import io.recsys.spark.features.OnlineWrite;

import io.recsys.lake.LakeLayout;
import io.recsys.streaming.metrics.StreamMetrics;
import java.sql.Timestamp;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink of one feature view's query, per micro-batch: (1) write the rows to Redis from the executors
 * ({@link OnlineWrite}) as absolute values with stale-write protection, so a batch that Spark runs again after a
 * crash changes nothing; (2) append them to the Delta offline log {@code features.<view>} with
 * {@code created_timestamp}, exactly once (txnAppId = the query id, txnVersion = the batch id); (3) record the
 * freshness (write time minus event time) and the counts in the metrics. Redis goes first because serving reads
 * it: a Delta commit costs a second or more, and both writes are idempotent, so their order does not matter for
 * a batch run again. Runs on the driver; the batch is cached because both writes read it.
 */
final class OnlineBatchWriter implements VoidFunction2<Dataset<Row>, Long> {

  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(OnlineBatchWriter.class);
  private static final String QUERY_ID_PROPERTY = "sql.streaming.queryId";

  private final LakeLayout lake;
  private final OnlineWrite write;
  private final transient StreamMetrics metrics;

  OnlineBatchWriter(LakeLayout lake, OnlineWrite write, StreamMetrics metrics) {
    this.lake = lake;
    this.write = write;
    this.metrics = metrics;
  }

  @Override
  public void call(Dataset<Row> batch, Long batchId) {
    SparkSession spark = batch.sparkSession();
    String view = write.view().name();
    String queryId = spark.sparkContext().getLocalProperty(QUERY_ID_PROPERTY);
    spark.sparkContext().setJobDescription("online-features " + view + " batch " + batchId);
    Dataset<Row> rows = batch.persist();
    try {
      long t0 = System.nanoTime();
      OnlineWrite.Stats s = write.run(rows);
      long t1 = System.nanoTime();
      rows.withColumn("created_timestamp", functions.lit(new Timestamp(System.currentTimeMillis())))
          .write().format("delta").mode(SaveMode.Append)
          .option("txnAppId", "recsys-online-" + view + "-" + queryId)
          .option("txnVersion", batchId)
          .option("mergeSchema", "true")
          .save(lake.features(view));
      long t2 = System.nanoTime();
      if (metrics != null) {
        metrics.recordOnlineBatch(view, s.written(), s.stale(), s.lagSumSeconds(), s.lagMaxSeconds());
      }
      if (s.rows() > 0) {
        LOG.info("{} batch {}: {} rows -> Redis {} written, {} stale-skipped in {} ms; offline log {} ms; "
            + "lag max {} s", view, batchId, s.rows(), s.written(), s.stale(), (t1 - t0) / 1_000_000,
            (t2 - t1) / 1_000_000, Math.round(s.lagMaxSeconds()));
      }
    } finally {
      rows.unpersist();
    }
  }
}
