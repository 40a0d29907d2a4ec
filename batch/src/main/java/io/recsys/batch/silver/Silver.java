package io.recsys.batch.silver;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.first;
import static org.apache.spark.sql.functions.lag;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.unix_millis;
import static org.apache.spark.sql.functions.when;

import java.time.Duration;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;

/**
 * bronze.events -> silver.events, as pure functions on frames (the job reads and writes around them).
 *
 * <ul>
 *   <li>{@link #deduplicate}: one row per event_id, the first to land (lowest ingest time, then Kafka offset):
 *       a producer retry or a replayed source gives the same event_id twice.</li>
 *   <li>{@link #sessionize}: events without a session_id get one. A user's events form an inactivity session
 *       while consecutive events are at most {@code gap} apart (30 minutes by default); a missing session_id
 *       takes the first tracker session_id seen in that inactivity session, or, when it has none, a generated
 *       id {@code auto-<user>-<epoch millis of the session's first event>}, stable across runs.
 *       {@code session_inferred} says which rows got theirs here.</li>
 * </ul>
 *
 * Cost: one shuffle by event_id, one by user_id (window functions sorted by event_time).
 */
public final class Silver {

  private Silver() {}

  /** The columns of silver.events, in order: bronze's event columns, lineage, then session_inferred. */
  public static final List<String> COLUMNS = List.of("event_id", "schema_version", "event_type", "user_id",
      "session_id", "item_id", "category", "price", "quantity", "rating", "query", "context", "event_time",
      "event_date", "kafka_topic", "kafka_partition", "kafka_offset", "ingest_time", "session_inferred");

  public static Dataset<Row> deduplicate(Dataset<Row> bronze) {
    WindowSpec byId = Window.partitionBy("event_id").orderBy(col("ingest_time"), col("kafka_topic"),
        col("kafka_partition"), col("kafka_offset"));
    return bronze.withColumn("_n", row_number().over(byId)).filter(col("_n").equalTo(1)).drop("_n");
  }

  public static Dataset<Row> sessionize(Dataset<Row> events, Duration gap) {
    WindowSpec byUser = Window.partitionBy("user_id").orderBy(col("event_time"), col("event_id"));
    Column gapMs = lit(gap.toMillis());
    Column ms = unix_millis(col("event_time"));
    Dataset<Row> numbered = events
        .withColumn("_prev", lag(ms, 1).over(byUser))
        .withColumn("_new", when(col("_prev").isNull().or(ms.minus(col("_prev")).gt(gapMs)), 1).otherwise(0))
        .withColumn("_visit", sum(col("_new")).over(byUser.rowsBetween(Window.unboundedPreceding(), 0)));
    WindowSpec visit = Window.partitionBy("user_id", "_visit");
    WindowSpec visitOrdered = visit.orderBy(col("event_time"), col("event_id"))
        .rowsBetween(Window.unboundedPreceding(), Window.unboundedFollowing());
    Column tracker = first(col("session_id"), true).over(visitOrdered);
    Column generated = concat(lit("auto-"), col("user_id"), lit("-"), min(ms).over(visit).cast("string"));
    return numbered
        .withColumn("session_inferred", col("session_id").isNull())
        .withColumn("session_id", coalesce(col("session_id"), tracker, generated))
        .drop("_prev", "_new", "_visit");
  }

  /** Both steps, and silver's columns in order. */
  public static Dataset<Row> build(Dataset<Row> bronze, Duration gap) {
    return sessionize(deduplicate(bronze), gap).select(COLUMNS.stream().map(c -> col(c)).toArray(Column[]::new));
  }
}
