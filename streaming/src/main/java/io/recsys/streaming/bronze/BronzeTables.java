package io.recsys.streaming.bronze;

import io.delta.tables.DeltaTable;
import io.delta.tables.DeltaTableBuilder;
import io.recsys.lake.LakeLayout;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Creates bronze.events and bronze.quarantine with their layout before the first write: events partitioned by
 * event_date, and Delta file statistics only on the columns files can be skipped by ({@link #EVENT_STATS}).
 * Delta's default indexes the first 32 columns, computing min/max/null counts of each on every row written; on
 * bronze that was measured to cost about 5% of the write for columns (context, price, query, ...) nobody skips
 * files by. Tables created before a change of these properties keep theirs.
 */
final class BronzeTables {

  /**
   * Delta file statistics of bronze.events: the columns a file can be skipped by. Event time (files of a batch
   * cover a time range), user_id (the maintenance job Z-orders event tables by it; erasure deletes by it) and the
   * Kafka coordinates (offsets grow within a partition; lineage look-ups). Not event_type, item_id or session_id:
   * every file holds nearly all of their values, and Delta's statistics copy each string value of each row (in a
   * profile of the bronze job the statistics took 8% of the write tasks' samples; BENCHMARKS.md, ingest notes).
   */
  static final String EVENT_STATS = "event_time,user_id,kafka_partition,kafka_offset";
  /**
   * Columns written without Parquet dictionaries (a table property, which Delta hands to the Parquet writer):
   * ids that are unique or nearly so per file, where the dictionary is built per value and then mostly thrown
   * away or barely shrinks the file. Measured on 1M synthetic events, steady state: the bronze job about 6%
   * faster, the table about 5% larger (61 against 58 MB).
   */
  static final List<String> NO_DICTIONARY = List.of("event_id", "user_id", "session_id", "item_id");
  static final String QUARANTINE_STATS = "reason,kafka_partition,kafka_offset,kafka_timestamp";

  private BronzeTables() {}

  static void createIfMissing(SparkSession spark, LakeLayout lake) {
    if (DeltaTable.isDeltaTable(spark, lake.bronzeEvents()) && DeltaTable.isDeltaTable(spark, lake.bronzeQuarantine())) {
      return;
    }
    StructType events = new StructType();
    for (String c : BronzeSchema.EVENTS_TABLE) {
      events = events.add(c.equals("event_date")
          ? new StructField("event_date", org.apache.spark.sql.types.DataTypes.DateType, true,
              org.apache.spark.sql.types.Metadata.empty())
          : BronzeSchema.PARSED.apply(c));
    }
    DeltaTableBuilder eventsTable = DeltaTable.createIfNotExists(spark).location(lake.bronzeEvents()).addColumns(events)
        .partitionedBy("event_date")
        .property("delta.dataSkippingStatsColumns", EVENT_STATS);
    for (String c : NO_DICTIONARY) {
      eventsTable = eventsTable.property("parquet.enable.dictionary#" + c, "false");
    }
    eventsTable
        .comment("Valid events of contract v1 with their Kafka coordinates (recsys bronze ingestion)")
        .execute();
    DeltaTable.createIfNotExists(spark).location(lake.bronzeQuarantine()).addColumns(BronzeSchema.QUARANTINE)
        .property("delta.dataSkippingStatsColumns", QUARANTINE_STATS)
        .comment("Records bronze ingestion rejected: raw bytes, reason code, Kafka coordinates")
        .execute();
  }
}
