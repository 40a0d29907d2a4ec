package io.recsys.streaming.bronze;

import static org.apache.spark.sql.functions.col;

import io.recsys.contract.ParserConfig;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.metrics.StreamMetrics;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The foreachBatch sink of {@link BronzeIngestJob}: parses one micro-batch once (cached), then appends its valid
 * rows to bronze.events and its rejected rows to bronze.quarantine.
 *
 * <p>Exactly once: each append carries Delta's idempotent-write options {@code txnAppId} (derived from the
 * streaming query id, which lives in the checkpoint) and {@code txnVersion} (the batch id). When a crash forces
 * Spark to run a batch again with the same offsets, Delta skips the append that had already committed and the
 * other one runs, so every record ends in exactly one table, once. Parsing is deterministic (see
 * {@link io.recsys.contract.EventParser}), so the rerun splits the records the same way.
 *
 * <p>Cost per batch: one Kafka read, one parse, a small aggregation for the counts and two Delta commits.
 */
final class BronzeBatchWriter implements VoidFunction2<Dataset<Row>, Long> {

  private static final Logger LOG = LoggerFactory.getLogger(BronzeBatchWriter.class);
  private static final String QUERY_ID_PROPERTY = "sql.streaming.queryId";

  private final LakeLayout lake;
  private final ParserConfig parserConfig;
  private final String fallbackAppId;
  private final StreamMetrics metrics;

  BronzeBatchWriter(LakeLayout lake, ParserConfig parserConfig, String fallbackAppId, StreamMetrics metrics) {
    this.lake = lake;
    this.parserConfig = parserConfig;
    this.fallbackAppId = fallbackAppId;
    this.metrics = metrics;
  }

  @Override
  public void call(Dataset<Row> batch, Long batchId) {
    SparkSession spark = batch.sparkSession();
    String queryId = spark.sparkContext().getLocalProperty(QUERY_ID_PROPERTY);
    String appId = "recsys-bronze-" + (queryId != null ? queryId : fallbackAppId);
    long t0 = System.nanoTime();
    Dataset<Row> parsed = BronzeParse.parse(batch, parserConfig, System.currentTimeMillis())
        .persist(StorageLevel.MEMORY_AND_DISK());
    try {
      spark.sparkContext().setJobDescription("bronze batch " + batchId + ": parse and count");
      Map<String, Long> rejected = new TreeMap<>();
      long valid = 0;
      for (Row r : parsed.groupBy(col(BronzeSchema.VALID), col(BronzeSchema.REASON)).count().collectAsList()) {
        if (r.getBoolean(0)) {
          valid += r.getLong(2);
        } else {
          rejected.merge(r.getString(1), r.getLong(2), Long::sum);
        }
      }
      long quarantined = rejected.values().stream().mapToLong(Long::longValue).sum();
      if (valid > 0) {
        spark.sparkContext().setJobDescription("bronze batch " + batchId + ": append " + valid + " to bronze.events");
        append(BronzeParse.events(parsed), lake.bronzeEvents(), appId, batchId, List.of("event_date"));
      }
      if (quarantined > 0) {
        spark.sparkContext().setJobDescription(
            "bronze batch " + batchId + ": append " + quarantined + " to bronze.quarantine");
        append(BronzeParse.quarantine(parsed), lake.bronzeQuarantine(), appId, batchId, List.of());
      }
      metrics.recordBronzeBatch(valid, rejected);
      LOG.info("batch {}: {} events, {} quarantined {} in {} ms", batchId, valid, quarantined,
          rejected.isEmpty() ? "" : rejected, (System.nanoTime() - t0) / 1_000_000);
    } finally {
      parsed.unpersist(false);
      spark.sparkContext().setJobDescription(null);
    }
  }

  static void append(Dataset<Row> rows, String path, String appId, long batchId, List<String> partitionBy) {
    var w = rows.write().format("delta").mode(SaveMode.Append)
        .option("txnAppId", appId)
        .option("txnVersion", batchId);
    if (!partitionBy.isEmpty()) {
      w = w.partitionBy(partitionBy.toArray(String[]::new));
    }
    w.save(path);
  }
}
