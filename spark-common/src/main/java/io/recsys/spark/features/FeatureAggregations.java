package io.recsys.spark.features;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_list;
import static org.apache.spark.sql.functions.collect_set;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.unix_micros;
import static org.apache.spark.sql.functions.unix_seconds;
import static org.apache.spark.sql.functions.when;
import static org.apache.spark.sql.functions.window;

import io.recsys.contract.EventType;
import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureView;
import io.recsys.features.ValueType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * Compiles a {@link FeatureView} of the definitions file into one Spark aggregation (a windowed {@code groupBy}):
 * the batch jobs' recomputations and backfills from bronze/silver. It also runs on a streaming frame with a
 * watermark, but the online job uses {@link StatefulViewAggregation}, which gives the same rows with a slide's
 * buffer per entity instead of a window's (StatefulViewAggregationTest compares the two on every streaming view).
 *
 * <p>Input: events in bronze.events' shape (event_type, user_id, item_id, category, price, quantity, rating,
 * event_id, event_time). Output, one row per entity and window whose value is the entity's current one: the
 * join key, {@code window_start}, {@code window_end}, {@code event_timestamp} (the latest event of the window:
 * the Feast timestamp of the row) and one column per feature, typed as its dtype.
 *
 * <p>Windows: a sliding window of length W and slide S puts each event in W/S windows (that many aggregate
 * buffers per entity in the state store); the row of a window is emitted only while the window's last slide
 * holds the entity's latest event, i.e. {@code event_timestamp >= window_end - S}: that window covers the W
 * before the entity's latest event.
 *
 * <p>Session views group by the event's {@code session_id} (trackers set it; silver sessionizes events that
 * lack one with the view's gap), within a UTC day: Spark's {@code session_window} cannot emit updates, only
 * closed sessions, which would make "the current session" useless online. So a session crossing midnight UTC
 * restarts its counts there, and events without a session_id are not counted.
 * Cost: one shuffle by (window, entity); state until the watermark passes the window's end.
 */
public final class FeatureAggregations {

  public static final String WINDOW_START = "window_start";
  public static final String WINDOW_END = "window_end";
  public static final String EVENT_TIMESTAMP = "event_timestamp";

  private FeatureAggregations() {}

  public static Dataset<Row> compute(Dataset<Row> events, FeatureView view, Entity entity) {
    Column key = col(entity.joinKey());
    Dataset<Row> in = input(events, view, entity);
    Column w = view.isSession()
        ? window(col("event_time"), "1 day")
        : view.slide().equals(view.window())
            ? window(col("event_time"), interval(view.window()))
            : window(col("event_time"), interval(view.window()), interval(view.slide()));

    List<Column> aggs = new ArrayList<>();
    for (Feature f : view.features()) {
      if (f.aggregation() != io.recsys.features.Aggregation.RATIO) {
        aggs.add(buffer(f).as(f.name()));
      }
    }
    aggs.add(min(col("event_time")).as("first_event_time"));
    Column[] groups = view.isSession()
        ? new Column[] {w.as("w"), key, col("session_id")}
        : new Column[] {w.as("w"), key};
    Dataset<Row> grouped = in.groupBy(groups)
        .agg(max(col("event_time")).as(EVENT_TIMESTAMP), aggs.toArray(Column[]::new));

    List<Column> out = new ArrayList<>();
    out.add(col(entity.joinKey()));
    if (view.isSession()) {
      // a session runs from its first event until `gap` after its last one
      out.add(col("first_event_time").as(WINDOW_START));
      out.add(functions.timestamp_seconds(unix_seconds(col(EVENT_TIMESTAMP)).plus(view.sessionGap().toSeconds()))
          .as(WINDOW_END));
    } else {
      out.add(col("w.start").as(WINDOW_START));
      out.add(col("w.end").as(WINDOW_END));
    }
    out.add(col(EVENT_TIMESTAMP));
    for (Feature f : view.features()) {
      out.add(finish(view, f).cast(sparkType(f.valueType())).as(f.name()));
    }
    Dataset<Row> rows = grouped.select(out.toArray(Column[]::new));
    if (!view.isSession() && view.slide().compareTo(view.window()) < 0) {
      long slideMicros = view.slide().toNanos() / 1000;
      rows = rows.filter(unix_micros(col(EVENT_TIMESTAMP)).geq(unix_micros(col(WINDOW_END)).minus(slideMicros)));
    }
    return rows;
  }

  /** The events a view reads: its entity's, of its event types, with the derived columns its features use. */
  private static Dataset<Row> input(Dataset<Row> events, FeatureView view, Entity entity) {
    Dataset<Row> in = events.filter(col(entity.joinKey()).isNotNull());
    if (!view.filter().isEmpty()) {
      in = in.filter(col("event_type").isin(wireNames(view.filter())));
    }
    if (view.isSession()) {
      in = in.filter(col("session_id").isNotNull());
    }
    if (view.features().stream().anyMatch(f -> "amount".equals(f.column()))) {
      in = withAmount(in);
    }
    return in;
  }

  /** The derived column {@code amount} that features may aggregate: price x quantity (1 when absent). */
  static Dataset<Row> withAmount(Dataset<Row> events) {
    return events.withColumn("amount", col("price").multiply(functions.coalesce(col("quantity"), lit(1))));
  }

  /**
   * A nightly view as of {@code end} (a midnight): one row per entity with events in [end - window, end), in
   * the same columns as {@link #compute}; window_end and event_timestamp are {@code end}, the instant the value
   * is valid for (it covers no later event). Cost: one shuffle by the join key over the window's events.
   */
  public static Dataset<Row> computeAsOf(Dataset<Row> events, FeatureView view, Entity entity,
      java.time.Instant end) {
    java.sql.Timestamp to = java.sql.Timestamp.from(end);
    java.sql.Timestamp from = java.sql.Timestamp.from(end.minus(view.window()));
    Dataset<Row> in = input(events, view, entity)
        .filter(col("event_time").geq(from).and(col("event_time").lt(to)));
    List<Column> aggs = new ArrayList<>();
    for (Feature f : view.features()) {
      if (f.aggregation() != io.recsys.features.Aggregation.RATIO) {
        aggs.add(buffer(f).as(f.name()));
      }
    }
    Dataset<Row> grouped = in.groupBy(col(entity.joinKey()))
        .agg(aggs.get(0), aggs.subList(1, aggs.size()).toArray(Column[]::new));
    List<Column> out = new ArrayList<>();
    out.add(col(entity.joinKey()));
    out.add(lit(from).as(WINDOW_START));
    out.add(lit(to).as(WINDOW_END));
    out.add(lit(to).as(EVENT_TIMESTAMP));
    for (Feature f : view.features()) {
      out.add(finish(view, f).cast(sparkType(f.valueType())).as(f.name()));
    }
    return grouped.select(out.toArray(Column[]::new));
  }

  /** The aggregate buffer of a feature, over the events its filter admits. */
  private static Column buffer(Feature f) {
    Column admitted = f.filter().isEmpty() ? lit(true) : col("event_type").isin(wireNames(f.filter()));
    Column c = f.column() == null ? null : col(f.column());
    return switch (f.aggregation()) {
      case COUNT -> count(when(admitted, lit(1)));
      case COUNT_DISTINCT -> size(collect_set(when(admitted, c)));
      case SUM -> functions.sum(when(admitted, c));
      case AVG -> functions.avg(when(admitted, c));
      case MIN -> min(when(admitted, c));
      case MAX -> max(when(admitted, c));
      case LAST_N -> collect_list(when(admitted.and(c.isNotNull()),
          struct(col("event_time").as("t"), col("event_id").as("id"), c.as("v"))));
      case TOP_K -> collect_list(when(admitted, c));
      case DURATION -> unix_micros(max(when(admitted, col("event_time"))))
          .minus(unix_micros(min(when(admitted, col("event_time"))))).divide(1_000_000L).cast("long");
      case RATIO -> throw new IllegalStateException("a ratio has no buffer");
      case PUBLISHED -> throw new IllegalStateException(f.name() + " is a model's output, not computed from events");
    };
  }

  /** The feature's value from its buffer (or, for a ratio, from two other features). */
  private static Column finish(FeatureView view, Feature f) {
    Column b = col(f.name());
    return switch (f.aggregation()) {
      // the n most recent distinct values, newest first; ties in time broken by event_id, so it is deterministic
      case LAST_N -> functions.expr("slice(array_distinct(transform(sort_array(`" + f.name() + "`, false), x -> x.v)), 1, "
          + f.size() + ")");
      case TOP_K -> functions.call_udf(TopK.NAME, b, lit(f.size()));
      case RATIO -> {
        Column num = col(view.feature(f.numerator()).name()).cast("double");
        Column den = col(view.feature(f.denominator()).name()).cast("double");
        yield when(den.gt(0), num.divide(den));
      }
      default -> b;
    };
  }

  /** The Spark type of a feature's values. */
  public static DataType sparkType(ValueType t) {
    return switch (t) {
      case INT64 -> DataTypes.LongType;
      case INT32 -> DataTypes.IntegerType;
      case DOUBLE -> DataTypes.DoubleType;
      case FLOAT -> DataTypes.FloatType;
      case STRING -> DataTypes.StringType;
      case BOOL -> DataTypes.BooleanType;
      case UNIX_TIMESTAMP -> DataTypes.TimestampType;
      case STRING_LIST -> DataTypes.createArrayType(DataTypes.StringType);
      case INT64_LIST -> DataTypes.createArrayType(DataTypes.LongType);
      case DOUBLE_LIST -> DataTypes.createArrayType(DataTypes.DoubleType);
    };
  }

  private static String interval(Duration d) {
    return d.toSeconds() + " seconds";
  }

  private static Object[] wireNames(Set<EventType> types) {
    return types.stream().map(EventType::wireName).sorted().toArray();
  }
}
