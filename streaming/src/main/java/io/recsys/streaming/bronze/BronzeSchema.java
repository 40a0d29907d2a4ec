package io.recsys.streaming.bronze;

import static org.apache.spark.sql.types.DataTypes.BinaryType;
import static org.apache.spark.sql.types.DataTypes.BooleanType;
import static org.apache.spark.sql.types.DataTypes.DoubleType;
import static org.apache.spark.sql.types.DataTypes.IntegerType;
import static org.apache.spark.sql.types.DataTypes.LongType;
import static org.apache.spark.sql.types.DataTypes.StringType;
import static org.apache.spark.sql.types.DataTypes.TimestampType;

import java.util.List;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/** Column names and types of bronze.events and bronze.quarantine, and of the parsed frame they come from. */
public final class BronzeSchema {

  private BronzeSchema() {}

  public static final String VALID = "valid";
  public static final String REASON = "reason";
  public static final String EVENT_DAY = "event_unix_day";

  /** Columns that come from the event (contract v1). */
  public static final List<String> EVENT_COLUMNS = List.of("event_id", "schema_version", "event_type", "user_id",
      "session_id", "item_id", "category", "price", "quantity", "rating", "query", "context", "event_time");

  /** Where the record came from and when it landed; both tables carry them. */
  public static final List<String> LINEAGE_COLUMNS =
      List.of("kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp", "ingest_time");

  /** bronze.events: the event columns, event_date (partition) and the lineage columns. */
  public static final List<String> EVENTS_TABLE = concat(EVENT_COLUMNS, List.of("event_date"), LINEAGE_COLUMNS);

  /** bronze.quarantine: raw key and value, reason code and detail, lineage, and when it was replayed. */
  public static final List<String> QUARANTINE_TABLE =
      concat(List.of("raw_key", "raw_value", "reason", "reason_detail"), LINEAGE_COLUMNS, List.of());

  /** What {@link BronzeParse#parse} returns: one row per Kafka record, valid or not. */
  public static final StructType PARSED = new StructType(new StructField[] {
      field(VALID, BooleanType, false),
      field("event_id", StringType, true),
      field("schema_version", IntegerType, true),
      field("event_type", StringType, true),
      field("user_id", StringType, true),
      field("session_id", StringType, true),
      field("item_id", StringType, true),
      field("category", StringType, true),
      field("price", DoubleType, true),
      field("quantity", IntegerType, true),
      field("rating", DoubleType, true),
      field("query", StringType, true),
      field("context", DataTypes.createMapType(StringType, StringType, true), true),
      field("event_time", TimestampType, true),
      field(EVENT_DAY, IntegerType, true),
      field("raw_key", BinaryType, true),
      field("raw_value", BinaryType, true),
      field(REASON, StringType, true),
      field("reason_detail", StringType, true),
      field("kafka_topic", StringType, false),
      field("kafka_partition", IntegerType, false),
      field("kafka_offset", LongType, false),
      field("kafka_timestamp", TimestampType, true),
      field("ingest_time", TimestampType, false),
  });

  /** The schema of bronze.quarantine's rows. */
  public static final StructType QUARANTINE = new StructType(
      QUARANTINE_TABLE.stream().map(n -> PARSED.apply(n)).toArray(StructField[]::new));

  private static StructField field(String name, org.apache.spark.sql.types.DataType type, boolean nullable) {
    return DataTypes.createStructField(name, type, nullable);
  }

  @SafeVarargs
  private static List<String> concat(List<String>... parts) {
    return java.util.Arrays.stream(parts).flatMap(List::stream).toList();
  }
}
