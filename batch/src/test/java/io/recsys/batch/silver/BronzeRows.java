package io.recsys.batch.silver;

import java.sql.Date;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** Rows in bronze.events' schema (the ingest job's table), built by hand for the batch tests. */
public final class BronzeRows {

  static final StructType SCHEMA = new StructType()
      .add("event_id", DataTypes.StringType, false)
      .add("schema_version", DataTypes.IntegerType)
      .add("event_type", DataTypes.StringType)
      .add("user_id", DataTypes.StringType)
      .add("session_id", DataTypes.StringType)
      .add("item_id", DataTypes.StringType)
      .add("category", DataTypes.StringType)
      .add("price", DataTypes.DoubleType)
      .add("quantity", DataTypes.IntegerType)
      .add("rating", DataTypes.DoubleType)
      .add("query", DataTypes.StringType)
      .add("context", DataTypes.createMapType(DataTypes.StringType, DataTypes.StringType))
      .add("event_time", DataTypes.TimestampType)
      .add("event_date", DataTypes.DateType)
      .add("kafka_topic", DataTypes.StringType, false)
      .add("kafka_partition", DataTypes.IntegerType, false)
      .add("kafka_offset", DataTypes.LongType, false)
      .add("kafka_timestamp", DataTypes.TimestampType)
      .add("ingest_time", DataTypes.TimestampType, false);

  private BronzeRows() {}

  /** A page_view (or the given type) of user at time; offset and ingest time tell duplicates apart. */
  public static Row event(String id, String type, String user, String session, String item, String time, long offset,
      String ingest) {
    Instant t = Instant.parse(time);
    return RowFactory.create(id, 1, type, user, session, item, item == null ? null : "c1", null, null, null, null,
        scala.collection.immutable.Map$.MODULE$.empty(), Timestamp.from(t),
        Date.valueOf(t.atOffset(ZoneOffset.UTC).toLocalDate()), "events", 0, offset, Timestamp.from(t),
        Timestamp.from(Instant.parse(ingest)));
  }

  /** A purchase with a unit price and a quantity (null: one). */
  public static Row purchase(String id, String user, String item, String time, double price, Integer quantity,
      long offset) {
    Instant t = Instant.parse(time);
    return RowFactory.create(id, 1, "purchase", user, "s-" + id, item, "c1", price, quantity, null, null,
        scala.collection.immutable.Map$.MODULE$.empty(), Timestamp.from(t),
        Date.valueOf(t.atOffset(ZoneOffset.UTC).toLocalDate()), "events", 0, offset, Timestamp.from(t),
        Timestamp.from(t));
  }

  public static Dataset<Row> frame(SparkSession spark, List<Row> rows) {
    return spark.createDataFrame(rows, SCHEMA);
  }

  public static Map<String, Row> byId(List<Row> rows) {
    return rows.stream().collect(java.util.stream.Collectors.toMap(r -> r.getAs("event_id"), r -> r));
  }
}
