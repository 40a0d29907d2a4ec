package io.recsys.streaming.bronze;

import static org.apache.spark.sql.functions.col;

import io.recsys.contract.ParserConfig;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.metrics.StreamMetrics;
import io.recsys.streaming.metrics.StreamProgressLog;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The foreachBatch sink of {@link BronzeIngestJob}: appends a micro-batch's valid rows to bronze.events and its
 * rejected rows to bronze.quarantine.
 *
 * <p>Exactly once: each append carries Delta's idempotent-write options {@code txnAppId} (derived from the
 * streaming query id, which lives in the checkpoint) and {@code txnVersion} (the batch id). When a crash forces
 * Spark to run a batch again with the same offsets, Delta skips the append that had already committed and the
 * other one runs, so every record ends in exactly one table, once. Parsing is deterministic (see
 * {@link io.recsys.contract.EventParser}), so a rerun splits the records the same way.
 *
 * <p>Cost: one pass. The events append parses the batch and diverts rejected rows into a bounded
 * {@link RejectCollector}; the quarantine is written from it. Only when that pass did not run (Delta skipped an
 * append committed before a crash) or the collector overflowed (a flood of bad records) is the batch parsed a
 * second time for the quarantine.
 */
final class BronzeBatchWriter implements VoidFunction2<Dataset<Row>, Long> {

  private static final Logger LOG = LoggerFactory.getLogger(BronzeBatchWriter.class);
  private static final String QUERY_ID_PROPERTY = "sql.streaming.queryId";
  static final int MAX_COLLECTED_REJECTS = 200_000;
  /** Rejected records kept on the driver per batch: 256 MB, or an eighth of the driver's heap if less. */
  static final long MAX_COLLECTED_BYTES = Math.min(256L << 20, Runtime.getRuntime().maxMemory() / 8);
  private static final int TOPIC = BronzeSchema.QUARANTINE.fieldIndex("kafka_topic");
  private static final int PARTITION = BronzeSchema.QUARANTINE.fieldIndex("kafka_partition");
  private static final int OFFSET = BronzeSchema.QUARANTINE.fieldIndex("kafka_offset");
  private static final int REASON = BronzeSchema.QUARANTINE.fieldIndex("reason");

  private final LakeLayout lake;
  private final ParserConfig parserConfig;
  private final String fallbackAppId;
  private final StreamMetrics metrics;
  private final String queryName;
  private final StreamProgressLog progressLog;
  private boolean tablesChecked;

  /** {@code progressLog} (null for none) gets each batch's quarantined count under {@code queryName}. */
  BronzeBatchWriter(LakeLayout lake, ParserConfig parserConfig, String fallbackAppId, StreamMetrics metrics,
      String queryName, StreamProgressLog progressLog) {
    this.lake = lake;
    this.parserConfig = parserConfig;
    this.fallbackAppId = fallbackAppId;
    this.metrics = metrics;
    this.queryName = queryName;
    this.progressLog = progressLog;
  }

  @Override
  public void call(Dataset<Row> batch, Long batchId) {
    SparkSession spark = batch.sparkSession();
    String queryId = spark.sparkContext().getLocalProperty(QUERY_ID_PROPERTY);
    String appId = "recsys-bronze-" + (queryId != null ? queryId : fallbackAppId);
    long t0 = System.nanoTime();
    long ingest = System.currentTimeMillis();
    RejectCollector rejects = new RejectCollector(MAX_COLLECTED_REJECTS, MAX_COLLECTED_BYTES);
    spark.sparkContext().register(rejects, "bronze rejects " + batchId);
    LongAccumulator seen = spark.sparkContext().longAccumulator("bronze rows " + batchId);
    if (!tablesChecked) {
      BronzeTables.createIfMissing(spark, lake);
      tablesChecked = true;
    }
    long tTables = System.nanoTime();
    try {
      spark.sparkContext().setJobDescription("bronze batch " + batchId + ": parse, append valid rows to bronze.events");
      append(BronzeParse.validEvents(batch, parserConfig, ingest, rejects, seen), lake.bronzeEvents(), appId, batchId,
          List.of("event_date"));
      long tEvents = System.nanoTime();

      Map<String, Long> rejected = new TreeMap<>();
      long valid;
      if (seen.value() > 0 && !rejects.overflowed()) {
        Map<String, Row> unique = new LinkedHashMap<>();
        for (Row r : rejects.value()) {
          unique.putIfAbsent(r.get(TOPIC) + "/" + r.get(PARTITION) + "/" + r.get(OFFSET), r);
        }
        unique.values().forEach(r -> rejected.merge(r.getString(REASON), 1L, Long::sum));
        valid = seen.value() - unique.size();
        if (!unique.isEmpty()) {
          spark.sparkContext().setJobDescription("bronze batch " + batchId + ": append " + unique.size()
              + " to bronze.quarantine");
          append(spark.createDataFrame(List.copyOf(unique.values()), BronzeSchema.QUARANTINE), lake.bronzeQuarantine(),
              appId, batchId, List.of());
        }
      } else {
        // The parse did not run (this batch's events were committed before a restart) or too many rows were
        // rejected to collect: parse again for the quarantine alone.
        LOG.info("batch {}: {}; parsing again for the quarantine", batchId,
            rejects.overflowed() ? "more rejects than the collector keeps" : "bronze.events already has this batch");
        Dataset<Row> quarantine = BronzeParse.quarantine(BronzeParse.parse(batch, parserConfig, ingest))
            .persist(StorageLevel.MEMORY_AND_DISK());
        try {
          for (Row r : quarantine.groupBy(col("reason")).count().collectAsList()) {
            rejected.put(r.getString(0), r.getLong(1));
          }
          if (!rejected.isEmpty()) {
            spark.sparkContext().setJobDescription("bronze batch " + batchId + ": append to bronze.quarantine");
            append(quarantine, lake.bronzeQuarantine(), appId, batchId, List.of());
          }
        } finally {
          quarantine.unpersist(false);
        }
        // when Delta skipped the events append, this run appended no events
        valid = seen.value() == 0 ? 0 : seen.value() - rejected.values().stream().mapToLong(Long::longValue).sum();
      }
      long quarantined = rejected.values().stream().mapToLong(Long::longValue).sum();
      metrics.recordBronzeBatch(valid, rejected);
      if (progressLog != null) {
        progressLog.quarantined(queryName, batchId, quarantined);
      }
      long tEnd = System.nanoTime();
      LOG.info("batch {}: {} events, {} quarantined {} in {} ms (tables {} ms, parse + events append {} ms, "
          + "quarantine {} ms)", batchId, valid, quarantined, rejected.isEmpty() ? "" : rejected,
          (tEnd - t0) / 1_000_000, (tTables - t0) / 1_000_000, (tEvents - tTables) / 1_000_000,
          (tEnd - tEvents) / 1_000_000);
    } finally {
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
