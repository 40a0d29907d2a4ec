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
 *
 * <p>The offline log is written every micro-batch, so Delta's checkpoint of its log (every 10 commits by
 * default) lands in the stream's path: in a one-view benchmark run it took the append from about 0.6 s to
 * 1.5-1.9 s every tenth batch, which every probe of those batches waited for. The writer sets
 * {@code delta.checkpointInterval} to {@value #CHECKPOINT_INTERVAL} on the table after its first append (a reader
 * then replays up to that many small commit files; the maintenance job's OPTIMIZE commits count too).
 */
final class OnlineBatchWriter implements VoidFunction2<Dataset<Row>, Long> {

  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(OnlineBatchWriter.class);
  private static final String QUERY_ID_PROPERTY = "sql.streaming.queryId";
  static final int CHECKPOINT_INTERVAL = 100;

  private final LakeLayout lake;
  private final OnlineWrite write;
  private final transient StreamMetrics metrics;
  private transient boolean intervalChecked;

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
      if (!intervalChecked) {
        setCheckpointInterval(spark, lake.features(view));
        intervalChecked = true;
      }
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

  /**
   * Sets the table's checkpoint interval unless it already has one of its own (a user's choice stays). Only a
   * latency matter: if it fails (another writer changed the table at the same moment), the batch goes on and the
   * next start of the query tries again.
   */
  static void setCheckpointInterval(SparkSession spark, String path) {
    String table = "delta.`" + path.replace("`", "``") + "`";
    try {
      boolean set = spark.sql("SHOW TBLPROPERTIES " + table).collectAsList().stream()
          .anyMatch(r -> r.getString(0).equals("delta.checkpointInterval"));
      if (!set) {
        spark.sql("ALTER TABLE " + table + " SET TBLPROPERTIES ('delta.checkpointInterval' = '"
            + CHECKPOINT_INTERVAL + "')");
        LOG.info("{}: delta.checkpointInterval set to {}", path, CHECKPOINT_INTERVAL);
      }
    } catch (Exception e) { // also Spark's AnalysisException, which is checked in Java but not declared
      LOG.warn("{}: could not set delta.checkpointInterval ({}); the offline log keeps Delta's default", path,
          e.getMessage());
    }
  }
}
