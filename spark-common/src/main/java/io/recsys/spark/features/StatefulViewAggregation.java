package io.recsys.spark.features;

import static org.apache.spark.sql.functions.col;

import io.recsys.contract.EventType;
import io.recsys.features.Aggregation;
import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureView;
import io.recsys.features.ValueType;
import io.recsys.spark.RowBytes;
import java.io.Serializable;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.MapState;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StatefulProcessor;
import org.apache.spark.sql.streaming.TTLConfig;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.streaming.TimerValues;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The streaming engine of the feature views of one entity: for each view, the same rows as
 * {@link FeatureAggregations#compute} (same columns, same windows, same values), computed by one
 * {@code transformWithState} operator keyed by the entity for all the views, with its state in panes: one
 * aggregate buffer per entity, view and slide (per session, for session views) instead of one per entity and
 * window. The events are read, parsed and shuffled once for all the views.
 *
 * <p>Why not Spark's windowed {@code groupBy}: a sliding window of length W and slide S puts each event in W/S
 * windows, so a micro-batch updates W/S state rows per event (24 for a 24 h window sliding by the hour), and in
 * update mode Spark scans the whole state store every micro-batch for windows behind the watermark. Here an
 * event updates one pane, the window's value is merged from its W/S panes when it is emitted, and a pane is
 * dropped by an event-time timer once the watermark passes the end of the last window that holds it: no scan.
 * BENCHMARKS.md has the micro-batch times of both on the same machine and load.
 *
 * <p>Semantics, as {@link FeatureAggregations}: a window's row is emitted in the micro-batch that changes one of
 * its panes, if its last slide holds the window's latest event (the window that covers the W before the
 * entity's latest event). Events older than the watermark are dropped by Spark before they reach the operator
 * (and counted in the operator's {@code numRowsDroppedByWatermark}, one per event). Session views: one buffer
 * per (UTC day, session_id), emitted when it changes, as {@link FeatureAggregations} documents.
 *
 * <p>Needs a watermark on {@code event_time} and the RocksDB state store (the job sets both). Runs on static
 * frames too (each entity's events in one call), which the tests use to compare it with
 * {@link FeatureAggregations}.
 */
public final class StatefulViewAggregation {

  private StatefulViewAggregation() {}

  /** The view's index in {@link #computeAll}'s rows. */
  public static final String VIEW = "view_index";

  /** Rows in {@link FeatureAggregations#compute}'s columns; {@code events} in bronze.events' shape. */
  public static Dataset<Row> compute(Dataset<Row> events, FeatureView view, Entity entity) {
    return rowsOf(computeAll(events, List.of(view), entity), List.of(view), entity, 0);
  }

  /**
   * Several views of one entity in one operator, so the events are read, parsed and shuffled once for all of
   * them: one row per emitted window of any view, in the columns {@value #VIEW} (the view's index in
   * {@code views}), the join key, the window's bounds, {@code event_timestamp} and every view's features as
   * {@code <view>__<feature>} (null in the other views' rows). {@link #rowsOf} selects one view's rows.
   */
  public static Dataset<Row> computeAll(Dataset<Row> events, List<FeatureView> views, Entity entity) {
    requireViewsOf(entity, views);
    Dataset<Row> in = events.filter(col(entity.joinKey()).isNotNull());
    if (views.stream().noneMatch(v -> v.filter().isEmpty())) {
      Set<EventType> types = new java.util.TreeSet<>();
      views.forEach(v -> types.addAll(v.filter()));
      in = in.filter(col("event_type").isin(types.stream().map(EventType::wireName).sorted().toArray()));
    }
    List<String> names = new ArrayList<>(List.of(entity.joinKey(), "event_type", "event_time", "event_id"));
    if (views.stream().anyMatch(FeatureView::isSession)) {
      names.add("session_id");
    }
    for (FeatureView v : views) {
      for (Feature f : v.features()) {
        if (f.column() != null && !names.contains(f.column())) {
          names.add(f.column());
        }
      }
    }
    if (names.contains("amount")) {
      in = FeatureAggregations.withAmount(in);
    }
    Dataset<Row> slim = in.select(names.stream().map(n -> col(n)).toArray(Column[]::new));
    StructType inSchema = slim.schema();
    StructType out = new StructType().add(VIEW, DataTypes.IntegerType, false)
        .add(entity.joinKey(), inSchema.fields()[0].dataType())
        .add(FeatureAggregations.WINDOW_START, DataTypes.TimestampType)
        .add(FeatureAggregations.WINDOW_END, DataTypes.TimestampType)
        .add(FeatureAggregations.EVENT_TIMESTAMP, DataTypes.TimestampType);
    Spec[] specs = new Spec[views.size()];
    for (int i = 0; i < views.size(); i++) {
      FeatureView v = views.get(i);
      specs[i] = new Spec(i, v, names, inSchema, out.size());
      for (Feature f : v.features()) {
        out = out.add(column(v, f), FeatureAggregations.sparkType(f.valueType()));
      }
    }
    if (!events.isStreaming()) {
      // the operator's state store registers with Spark's state-store coordinator, which the session's stream
      // manager starts: in a session that never ran a stream, the first static run fails without it
      events.sparkSession().streams();
    }
    return slim.groupByKey((MapFunction<Row, String>) r -> String.valueOf(r.get(0)), Encoders.STRING())
        // a static frame has no watermark and no timers: every event is in one call per entity
        .transformWithState(new Processor(specs, out.size()),
            events.isStreaming() ? TimeMode.EventTime() : TimeMode.None(), OutputMode.Update(), Encoders.row(out));
  }

  /** Refuses views of another entity than {@code entity}: their rows cannot share the entity's key. */
  static void requireViewsOf(Entity entity, List<FeatureView> views) {
    for (FeatureView v : views) {
      if (!v.entity().equals(entity.name())) {
        throw new IllegalArgumentException(v.name() + " is a view of " + v.entity() + ", not of " + entity.name());
      }
    }
  }

  /** One view's rows of {@link #computeAll}'s, in {@link FeatureAggregations#compute}'s columns. */
  public static Dataset<Row> rowsOf(Dataset<Row> all, List<FeatureView> views, Entity entity, int index) {
    return all.filter(col(VIEW).equalTo(index)).select(viewColumns(views, entity, index).toArray(Column[]::new));
  }

  /** The columns of {@link #rowsOf}: one view's columns of {@link #computeAll}'s rows, named as the view's. */
  static List<Column> viewColumns(List<FeatureView> views, Entity entity, int index) {
    FeatureView v = views.get(index);
    List<String> names = viewColumnNames(views, entity, index);
    int first = names.size() - v.features().size();
    List<Column> cols = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      cols.add(i < first ? col(names.get(i)) : col(names.get(i)).as(v.features().get(i - first).name()));
    }
    return cols;
  }

  /** The names in {@link #computeAll}'s rows of {@link #viewColumns}' columns, in their order. */
  static List<String> viewColumnNames(List<FeatureView> views, Entity entity, int index) {
    FeatureView v = views.get(index);
    List<String> names = new ArrayList<>(List.of(entity.joinKey(), FeatureAggregations.WINDOW_START,
        FeatureAggregations.WINDOW_END, FeatureAggregations.EVENT_TIMESTAMP));
    for (Feature f : v.features()) {
      names.add(column(v, f));
    }
    return names;
  }

  static String column(FeatureView v, Feature f) {
    return v.name() + "__" + f.name();
  }

  /** What the processor needs of one view, serializable (the executors get a copy). */
  static final class Spec implements Serializable {
    private static final long serialVersionUID = 1L;
    final int index;
    final boolean session;
    final long windowMicros;
    final long slideMicros;
    final long gapMicros;
    /** The view's event types (empty: all), and the session_id column for session views. */
    final String[] admitted;
    final int sessionColumn;
    /** The first output column of the view's features. */
    final int firstColumn;
    final Agg[] aggs;
    final ValueType[] types;
    /** For a ratio feature: the indices of its numerator and denominator, else -1. */
    final int[] numerator;
    final int[] denominator;
    final StructType paneSchema;

    Spec(int index, FeatureView view, List<String> columns, StructType inSchema, int firstColumn) {
      this.index = index;
      this.firstColumn = firstColumn;
      session = view.isSession();
      windowMicros = session ? DAY_MICROS : view.window().toNanos() / 1000;
      slideMicros = session ? DAY_MICROS : view.slide().toNanos() / 1000;
      gapMicros = session ? view.sessionGap().toNanos() / 1000 : 0;
      admitted = view.filter().stream().map(EventType::wireName).sorted().toArray(String[]::new);
      sessionColumn = session ? columns.indexOf("session_id") : -1;
      int n = view.features().size();
      aggs = new Agg[n];
      types = new ValueType[n];
      numerator = new int[n];
      denominator = new int[n];
      List<String> featureNames = view.features().stream().map(Feature::name).toList();
      StructType pane = new StructType().add("max_t", DataTypes.LongType, false)
          .add("min_t", DataTypes.LongType, false);
      for (int i = 0; i < n; i++) {
        Feature f = view.features().get(i);
        types[i] = f.valueType();
        numerator[i] = f.aggregation() == Aggregation.RATIO ? featureNames.indexOf(f.numerator()) : -1;
        denominator[i] = f.aggregation() == Aggregation.RATIO ? featureNames.indexOf(f.denominator()) : -1;
        int c = f.column() == null ? -1 : columns.indexOf(f.column());
        DataType ct = c < 0 ? null : inSchema.fields()[c].dataType();
        String[] featureAdmits = f.filter().stream().map(EventType::wireName).sorted().toArray(String[]::new);
        aggs[i] = Agg.of(f, c, ct, featureAdmits);
        if (aggs[i] != null) { // a ratio has no buffer of its own
          pane = pane.add("f" + i, aggs[i].stateType(), true);
        }
      }
      paneSchema = pane;
    }

    /** Whether the view reads the event: its event types, and a session_id for session views. */
    boolean reads(Row r) {
      if (sessionColumn >= 0 && r.isNullAt(sessionColumn)) {
        return false;
      }
      return Agg.admits(admitted, r.getString(1));
    }
  }

  static final long DAY_MICROS = 86_400_000_000L;

  /**
   * Keyed by the entity; state: one map of panes for all the views, keyed {@code <view index>|<slide start>}
   * (sessions: {@code <view index>|<day>|<session_id>}), each pane as its view's row in {@link RowBytes},
   * and one event-time timer per pane end (shared by the views whose panes end then).
   *
   * <p>Why one map of bytes rather than a map of rows per view: Spark builds each state variable's key and value
   * encoders again in every task, generating their code each time; with six views that was about 12% of the
   * online job's CPU (BENCHMARKS.md, freshness notes). {@link RowBytes} builds its encoders once per task thread.
   */
  static final class Processor extends StatefulProcessor<String, Row, Row> {
    private static final long serialVersionUID = 1L;
    /** The map state's name; a checkpoint of the earlier layout (one {@code panes_<view>} map per view) differs. */
    static final String STATE = "panes";
    private final Spec[] specs;
    private final int width;
    private transient MapState<String, byte[]> panes;
    private transient RowBytes[] codecs;
    private transient boolean timers;

    Processor(Spec[] specs, int width) {
      this.specs = specs;
      this.width = width;
    }

    @Override
    public void init(OutputMode outputMode, TimeMode timeMode) {
      timers = TimeMode.EventTime().equals(timeMode);
      panes = getHandle().getMapState(STATE, Encoders.STRING(), Encoders.BINARY(), TTLConfig.NONE());
      codecs = new RowBytes[specs.length];
      for (Spec spec : specs) {
        codecs[spec.index] = RowBytes.of(spec.paneSchema);
      }
    }

    /** The map key of a view's pane: the view's index, then the pane's id. */
    private static String stateKey(Spec spec, String id) {
      return spec.index + "|" + id;
    }

    /** The view of a {@link #stateKey}, whose first bar is at {@code bar}. */
    private Spec specOf(String key, int bar) {
      return specs[Integer.parseInt(key.substring(0, bar))];
    }

    @Override
    @SuppressWarnings("unchecked")
    public scala.collection.Iterator<Row> handleInputRows(String key, scala.collection.Iterator<Row> rows,
        TimerValues timerValues) {
      Object keyValue = null;
      Map<String, Pane>[] touched = new Map[specs.length];
      // a window view's stored panes, read once (by slide start) for both the panes the rows touch and the windows
      // emitted; reading each touched pane on its own too cost about 5% of a six-view job's CPU (BENCHMARKS.md)
      TreeMap<Long, Pane>[] stored = new TreeMap[specs.length];
      // every window view's stored panes, read in one pass over the entity's map when the first view needs them
      TreeMap<Long, byte[]>[] raw = null;
      Set<Long> newTimers = new HashSet<>();
      while (rows.hasNext()) {
        Row r = rows.next();
        keyValue = r.get(0);
        long t = micros(r.getTimestamp(2));
        for (Spec spec : specs) {
          if (!spec.reads(r)) {
            continue;
          }
          Map<String, Pane> mine = touched[spec.index];
          if (mine == null) {
            mine = touched[spec.index] = new LinkedHashMap<>();
          }
          long start = Math.floorDiv(t, spec.slideMicros) * spec.slideMicros;
          String id = spec.session ? start + "|" + r.getString(spec.sessionColumn) : Long.toString(start);
          Pane p = mine.get(id);
          if (p == null) {
            if (spec.session) {
              byte[] bytes = panes.getValue(stateKey(spec, id));
              p = bytes == null ? null : Pane.fromState(spec, codecs[spec.index].decode(bytes));
            } else {
              if (stored[spec.index] == null) {
                if (raw == null) {
                  raw = storedWindowPanes();
                }
                stored[spec.index] = decode(spec, raw[spec.index]);
              }
              p = stored[spec.index].get(start);
            }
            if (p == null) {
              p = new Pane(spec);
              // the pane's last window ends at start + W (a session's day at its end): drop it then
              newTimers.add(Math.floorDiv(start + spec.windowMicros, 1000));
            }
            p.start = start;
            mine.put(id, p);
          }
          p.add(spec, r, t);
        }
      }
      if (timers) {
        for (long at : newTimers) {
          getHandle().registerTimer(at);
        }
      }
      List<Row> out = new ArrayList<>();
      for (Spec spec : specs) {
        Map<String, Pane> mine = touched[spec.index];
        if (mine == null) {
          continue;
        }
        for (Map.Entry<String, Pane> e : mine.entrySet()) {
          panes.updateValue(stateKey(spec, e.getKey()), codecs[spec.index].encode(e.getValue().toState(spec)));
        }
        if (spec.session) {
          emitSessions(spec, keyValue, mine, out);
        } else {
          emitWindows(spec, keyValue, mine, stored[spec.index], out);
        }
      }
      return CollectionConverters.asScala(out.iterator());
    }

    private void emitSessions(Spec spec, Object keyValue, Map<String, Pane> touched, List<Row> out) {
      for (Pane p : touched.values()) {
        long end = Math.floorDiv(p.maxT, 1_000_000L) * 1_000_000L + spec.gapMicros;
        out.add(row(spec, keyValue, p.minT, end, p.maxT, p));
      }
    }

    /** Per window view, its stored panes for the current entity by slide start, still encoded. */
    @SuppressWarnings("unchecked")
    private TreeMap<Long, byte[]>[] storedWindowPanes() {
      TreeMap<Long, byte[]>[] out = new TreeMap[specs.length];
      for (Spec spec : specs) {
        out[spec.index] = new TreeMap<>();
      }
      scala.collection.Iterator<scala.Tuple2<String, byte[]>> it = panes.iterator();
      while (it.hasNext()) {
        scala.Tuple2<String, byte[]> e = it.next();
        String key = e._1();
        int bar = key.indexOf('|');
        Spec spec = specOf(key, bar);
        if (!spec.session) {
          out[spec.index].put(Long.parseLong(key.substring(bar + 1)), e._2());
        }
      }
      return out;
    }

    private TreeMap<Long, Pane> decode(Spec spec, TreeMap<Long, byte[]> raw) {
      TreeMap<Long, Pane> out = new TreeMap<>();
      for (Map.Entry<Long, byte[]> e : raw.entrySet()) {
        Pane p = Pane.fromState(spec, codecs[spec.index].decode(e.getValue()));
        p.start = e.getKey();
        out.put(p.start, p);
      }
      return out;
    }

    /**
     * The rows of the windows that the touched panes end, from {@code all} (the stored panes, which the touched
     * ones among them are, as updated) and the touched panes that are new.
     */
    private void emitWindows(Spec spec, Object keyValue, Map<String, Pane> touched, TreeMap<Long, Pane> all,
        List<Row> out) {
      long w = spec.windowMicros;
      long s = spec.slideMicros;
      for (Pane p : touched.values()) {
        all.put(p.start, p);
      }
      TreeSet<Long> ends = new TreeSet<>();
      for (Pane p : touched.values()) {
        for (long end = p.start + s; end <= p.start + w; end += s) {
          ends.add(end);
        }
      }
      for (long end : ends) {
        if (!all.containsKey(end - s)) {
          continue; // the window's last slide is empty: its row is not the entity's current one
        }
        Pane merged = new Pane(spec);
        for (Pane p : all.subMap(end - w, true, end, false).values()) {
          merged.merge(spec, p);
        }
        out.add(row(spec, keyValue, end - w, end, merged.maxT, merged));
      }
    }

    private Row row(Spec spec, Object keyValue, long start, long end, long eventTime, Pane p) {
      int n = spec.aggs.length;
      Object[] natural = new Object[n];
      for (int i = 0; i < n; i++) {
        if (spec.aggs[i] != null) {
          natural[i] = spec.aggs[i].finish(p.bufs[i]);
        }
      }
      Object[] values = new Object[width];
      values[0] = spec.index;
      values[1] = keyValue;
      values[2] = timestamp(start);
      values[3] = timestamp(end);
      values[4] = timestamp(eventTime);
      for (int i = 0; i < n; i++) {
        Object v = natural[i];
        if (spec.numerator[i] >= 0) {
          Object num = natural[spec.numerator[i]];
          Object den = natural[spec.denominator[i]];
          v = num == null || den == null || ((Number) den).doubleValue() <= 0 ? null
              : ((Number) num).doubleValue() / ((Number) den).doubleValue();
        }
        values[spec.firstColumn + i] = cast(v, spec.types[i]);
      }
      return RowFactory.create(values);
    }

    @Override
    public scala.collection.Iterator<Row> handleExpiredTimer(String key, TimerValues timerValues,
        ExpiredTimerInfo info) {
      long watermark = timerValues.getCurrentWatermarkInMs() * 1000;
      List<String> expired = new ArrayList<>();
      scala.collection.Iterator<String> it = panes.keys();
      while (it.hasNext()) {
        String id = it.next();
        int bar = id.indexOf('|');
        Spec spec = specOf(id, bar);
        int end = id.indexOf('|', bar + 1);
        long start = Long.parseLong(end < 0 ? id.substring(bar + 1) : id.substring(bar + 1, end));
        if (start + spec.windowMicros <= watermark) {
          expired.add(id);
        }
      }
      for (String id : expired) {
        panes.removeKey(id);
      }
      return CollectionConverters.asScala(Collections.<Row>emptyIterator());
    }
  }

  /** The buffers of one slide (or session) of one entity. */
  static final class Pane {
    long start;
    long maxT = Long.MIN_VALUE;
    long minT = Long.MAX_VALUE;
    final Object[] bufs;

    Pane(Spec spec) {
      bufs = new Object[spec.aggs.length];
      for (int i = 0; i < bufs.length; i++) {
        bufs[i] = spec.aggs[i] == null ? null : spec.aggs[i].empty();
      }
    }

    void add(Spec spec, Row r, long t) {
      maxT = Math.max(maxT, t);
      minT = Math.min(minT, t);
      String type = r.getString(1);
      for (int i = 0; i < bufs.length; i++) {
        Agg a = spec.aggs[i];
        if (a != null && a.admits(type)) {
          bufs[i] = a.add(bufs[i], r, t);
        }
      }
    }

    void merge(Spec spec, Pane other) {
      maxT = Math.max(maxT, other.maxT);
      minT = Math.min(minT, other.minT);
      for (int i = 0; i < bufs.length; i++) {
        if (spec.aggs[i] != null) {
          bufs[i] = spec.aggs[i].merge(bufs[i], other.bufs[i]);
        }
      }
    }

    Row toState(Spec spec) {
      List<Object> v = new ArrayList<>(2 + bufs.length);
      v.add(maxT);
      v.add(minT);
      for (int i = 0; i < bufs.length; i++) {
        if (spec.aggs[i] != null) {
          v.add(spec.aggs[i].toState(bufs[i]));
        }
      }
      return RowFactory.create(v.toArray());
    }

    static Pane fromState(Spec spec, Row r) {
      Pane p = new Pane(spec);
      p.maxT = r.getLong(0);
      p.minT = r.getLong(1);
      int field = 2;
      for (int i = 0; i < p.bufs.length; i++) {
        if (spec.aggs[i] != null) {
          p.bufs[i] = spec.aggs[i].fromState(r, field++);
        }
      }
      return p;
    }
  }

  /**
   * One feature's aggregate: a mutable buffer per pane, merged across the panes of a window, finished into the
   * value {@link FeatureAggregations} computes (before the cast to the feature's dtype).
   */
  abstract static class Agg implements Serializable {
    private static final long serialVersionUID = 1L;
    final int column;
    final String[] admitted;

    Agg(int column, String[] admitted) {
      this.column = column;
      this.admitted = admitted;
    }

    static Agg of(Feature f, int column, DataType columnType, String[] admitted) {
      return switch (f.aggregation()) {
        case COUNT -> new Count(admitted);
        case COUNT_DISTINCT -> new CountDistinct(column, columnType, admitted);
        case SUM -> new Sum(column, columnType, admitted, false);
        case AVG -> new Sum(column, columnType, admitted, true);
        case MIN -> new Extreme(column, columnType, admitted, false);
        case MAX -> new Extreme(column, columnType, admitted, true);
        case LAST_N -> new LastN(column, columnType, admitted, f.size());
        case TOP_K -> new TopCounts(column, admitted, f.size());
        case DURATION -> new Span(admitted);
        case RATIO -> null;
        case PUBLISHED -> throw new IllegalStateException(f.name() + " is a model's output, not computed from events");
      };
    }

    boolean admits(String type) {
      return admits(admitted, type);
    }

    /** Whether an event of {@code type} passes a filter of event types (empty: every type). */
    static boolean admits(String[] admitted, String type) {
      if (admitted.length == 0) {
        return true;
      }
      for (String a : admitted) {
        if (a.equals(type)) {
          return true;
        }
      }
      return false;
    }

    abstract DataType stateType();

    abstract Object empty();

    /** Adds an admitted event; returns the buffer. */
    abstract Object add(Object buf, Row r, long t);

    /** Adds {@code other} into {@code into} (a fresh buffer, never a stored pane's); returns it. */
    abstract Object merge(Object into, Object other);

    /** The buffer as its state field; the buffer itself by default (an immutable value). */
    Object toState(Object buf) {
      return buf;
    }

    abstract Object fromState(Row r, int i);

    /** The value before the cast to the dtype; the buffer itself by default. */
    Object finish(Object buf) {
      return buf;
    }
  }

  /** count(when(admitted, 1)). */
  static final class Count extends Agg {
    private static final long serialVersionUID = 1L;

    Count(String[] admitted) {
      super(-1, admitted);
    }

    DataType stateType() {
      return DataTypes.LongType;
    }

    Object empty() {
      return 0L;
    }

    Object add(Object buf, Row r, long t) {
      return (Long) buf + 1;
    }

    Object merge(Object into, Object other) {
      return (Long) into + (Long) other;
    }

    Object fromState(Row r, int i) {
      return r.getLong(i);
    }
  }

  /** sum or avg of the column's non-null values: null when there are none. Integral columns sum as longs. */
  static final class Sum extends Agg {
    private static final long serialVersionUID = 1L;
    private final boolean integral;
    private final boolean average;

    Sum(int column, DataType type, String[] admitted, boolean average) {
      super(column, admitted);
      this.integral = !average && (type.equals(DataTypes.LongType) || type.equals(DataTypes.IntegerType)
          || type.equals(DataTypes.ShortType) || type.equals(DataTypes.ByteType));
      this.average = average;
    }

    /** The sum as a double and as a long (integral columns), and how many values. */
    static final class Acc {
      double d;
      long l;
      long n;
    }

    DataType stateType() {
      return new StructType().add("d", DataTypes.DoubleType, false).add("l", DataTypes.LongType, false)
          .add("n", DataTypes.LongType, false);
    }

    Object empty() {
      return new Acc();
    }

    Object add(Object buf, Row r, long t) {
      Object v = r.get(column);
      if (v != null) {
        Acc a = (Acc) buf;
        Number x = (Number) v;
        a.d += x.doubleValue();
        a.l += integral ? x.longValue() : 0;
        a.n++;
      }
      return buf;
    }

    Object merge(Object into, Object other) {
      Acc a = (Acc) into;
      Acc b = (Acc) other;
      a.d += b.d;
      a.l += b.l;
      a.n += b.n;
      return a;
    }

    Object toState(Object buf) {
      Acc a = (Acc) buf;
      return RowFactory.create(a.d, a.l, a.n);
    }

    Object fromState(Row r, int i) {
      Row s = r.getStruct(i);
      Acc a = new Acc();
      a.d = s.getDouble(0);
      a.l = s.getLong(1);
      a.n = s.getLong(2);
      return a;
    }

    Object finish(Object buf) {
      Acc a = (Acc) buf;
      if (a.n == 0) {
        return null;
      }
      if (average) {
        return a.d / a.n;
      }
      return integral ? (Object) a.l : (Object) a.d;
    }
  }

  /** min or max of the column's non-null values. */
  static final class Extreme extends Agg {
    private static final long serialVersionUID = 1L;
    private final DataType type;
    private final boolean max;

    Extreme(int column, DataType type, String[] admitted, boolean max) {
      super(column, admitted);
      this.type = type;
      this.max = max;
    }

    DataType stateType() {
      return type;
    }

    Object empty() {
      return null;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Object pick(Object a, Object b) {
      if (a == null) {
        return b;
      }
      if (b == null) {
        return a;
      }
      int c = ((Comparable) a).compareTo(b);
      return max ? (c >= 0 ? a : b) : (c <= 0 ? a : b);
    }

    Object add(Object buf, Row r, long t) {
      return pick(buf, r.get(column));
    }

    Object merge(Object into, Object other) {
      return pick(into, other);
    }

    Object fromState(Row r, int i) {
      return r.get(i);
    }
  }

  /** size(collect_set(column)). */
  static final class CountDistinct extends Agg {
    private static final long serialVersionUID = 1L;
    private final DataType type;

    CountDistinct(int column, DataType type, String[] admitted) {
      super(column, admitted);
      this.type = type;
    }

    DataType stateType() {
      return DataTypes.createArrayType(type, false);
    }

    Object empty() {
      return new HashSet<Object>();
    }

    @SuppressWarnings("unchecked")
    Object add(Object buf, Row r, long t) {
      Object v = r.get(column);
      if (v != null) {
        ((Set<Object>) buf).add(v);
      }
      return buf;
    }

    @SuppressWarnings("unchecked")
    Object merge(Object into, Object other) {
      ((Set<Object>) into).addAll((Set<Object>) other);
      return into;
    }

    @SuppressWarnings("unchecked")
    Object toState(Object buf) {
      return CollectionConverters.asScala(new ArrayList<>((Set<Object>) buf));
    }

    Object fromState(Row r, int i) {
      return new HashSet<Object>(r.getList(i));
    }

    @SuppressWarnings("unchecked")
    Object finish(Object buf) {
      return (long) ((Set<Object>) buf).size();
    }
  }

  /**
   * The n most recent distinct values: each value at its latest (event time, event id), newest first, as
   * FeatureAggregations' sort_array / array_distinct / slice. A pane keeps its n best values only: a value that
   * n others beat in a pane cannot be among the window's n.
   */
  static final class LastN extends Agg {
    private static final long serialVersionUID = 1L;
    private final DataType type;
    private final int n;

    LastN(int column, DataType type, String[] admitted, int n) {
      super(column, admitted);
      this.type = type;
      this.n = n;
    }

    record Seen(long t, String id) {}

    DataType stateType() {
      return DataTypes.createArrayType(new StructType().add("t", DataTypes.LongType, false)
          .add("id", DataTypes.StringType).add("v", type, false), false);
    }

    Object empty() {
      return new HashMap<Object, Seen>();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static final Comparator<Object> VALUE = Comparator.nullsFirst((a, b) -> ((Comparable) a).compareTo(b));
    private static final Comparator<String> ID = Comparator.nullsFirst(Comparator.naturalOrder());

    /** Descending (t, id, v): Spark's sort_array(..., false) of struct(t, id, v), nulls smallest. */
    private static int newestFirst(Map.Entry<Object, Seen> a, Map.Entry<Object, Seen> b) {
      int c = Long.compare(b.getValue().t(), a.getValue().t());
      if (c == 0) {
        c = ID.compare(b.getValue().id(), a.getValue().id());
      }
      return c != 0 ? c : VALUE.compare(b.getKey(), a.getKey());
    }

    private static void offer(Map<Object, Seen> buf, Object v, Seen s) {
      Seen old = buf.get(v);
      if (old == null || old.t() < s.t() || (old.t() == s.t() && ID.compare(old.id(), s.id()) < 0)) {
        buf.put(v, s);
      }
    }

    @SuppressWarnings("unchecked")
    Object add(Object buf, Row r, long t) {
      Object v = r.get(column);
      if (v != null) {
        Map<Object, Seen> m = (Map<Object, Seen>) buf;
        offer(m, v, new Seen(t, r.getString(3)));
        if (m.size() > 2 * n) {
          trim(m);
        }
      }
      return buf;
    }

    private List<Map.Entry<Object, Seen>> sorted(Map<Object, Seen> m) {
      List<Map.Entry<Object, Seen>> entries = new ArrayList<>(m.entrySet());
      entries.sort(LastN::newestFirst);
      return entries;
    }

    private void trim(Map<Object, Seen> m) {
      List<Map.Entry<Object, Seen>> keep = sorted(m).subList(0, Math.min(n, m.size()));
      Map<Object, Seen> kept = new HashMap<>();
      for (Map.Entry<Object, Seen> e : keep) {
        kept.put(e.getKey(), e.getValue());
      }
      m.clear();
      m.putAll(kept);
    }

    @SuppressWarnings("unchecked")
    Object merge(Object into, Object other) {
      Map<Object, Seen> m = (Map<Object, Seen>) into;
      for (Map.Entry<Object, Seen> e : ((Map<Object, Seen>) other).entrySet()) {
        offer(m, e.getKey(), e.getValue());
      }
      return m;
    }

    @SuppressWarnings("unchecked")
    Object toState(Object buf) {
      List<Row> rows = new ArrayList<>();
      for (Map.Entry<Object, Seen> e : sorted((Map<Object, Seen>) buf)) {
        if (rows.size() == n) {
          break;
        }
        rows.add(RowFactory.create(e.getValue().t(), e.getValue().id(), e.getKey()));
      }
      return CollectionConverters.asScala(rows);
    }

    Object fromState(Row r, int i) {
      Map<Object, Seen> m = new HashMap<>();
      for (Object o : r.getList(i)) {
        Row e = (Row) o;
        m.put(e.get(2), new Seen(e.getLong(0), e.getString(1)));
      }
      return m;
    }

    @SuppressWarnings("unchecked")
    Object finish(Object buf) {
      List<Object> out = new ArrayList<>();
      for (Map.Entry<Object, Seen> e : sorted((Map<Object, Seen>) buf)) {
        if (out.size() == n) {
          break;
        }
        out.add(e.getKey());
      }
      return out;
    }
  }

  /** The k most frequent values, as {@link TopK}: counts per value, ties by value. */
  static final class TopCounts extends Agg {
    private static final long serialVersionUID = 1L;
    private final int k;

    TopCounts(int column, String[] admitted, int k) {
      super(column, admitted);
      this.k = k;
    }

    DataType stateType() {
      return DataTypes.createMapType(DataTypes.StringType, DataTypes.LongType, false);
    }

    Object empty() {
      return new HashMap<String, Long>();
    }

    @SuppressWarnings("unchecked")
    Object add(Object buf, Row r, long t) {
      Object v = r.get(column);
      if (v != null) {
        ((Map<String, Long>) buf).merge(String.valueOf(v), 1L, Long::sum);
      }
      return buf;
    }

    @SuppressWarnings("unchecked")
    Object merge(Object into, Object other) {
      Map<String, Long> m = (Map<String, Long>) into;
      ((Map<String, Long>) other).forEach((v, c) -> m.merge(v, c, Long::sum));
      return m;
    }

    @SuppressWarnings("unchecked")
    Object toState(Object buf) {
      return CollectionConverters.asScala((Map<String, Long>) buf);
    }

    Object fromState(Row r, int i) {
      return new HashMap<String, Long>(r.<String, Long>getJavaMap(i));
    }

    @SuppressWarnings("unchecked")
    Object finish(Object buf) {
      List<Map.Entry<String, Long>> entries = new ArrayList<>(((Map<String, Long>) buf).entrySet());
      entries.sort(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
      List<Object> out = new ArrayList<>();
      for (int i = 0; i < entries.size() && i < k; i++) {
        out.add(entries.get(i).getKey());
      }
      return out;
    }
  }

  /** Seconds between the first and the last admitted event; null without one. */
  static final class Span extends Agg {
    private static final long serialVersionUID = 1L;

    Span(String[] admitted) {
      super(-1, admitted);
    }

    DataType stateType() {
      return DataTypes.createArrayType(DataTypes.LongType, false);
    }

    Object empty() {
      return new long[] {Long.MAX_VALUE, Long.MIN_VALUE};
    }

    Object add(Object buf, Row r, long t) {
      long[] b = (long[]) buf;
      b[0] = Math.min(b[0], t);
      b[1] = Math.max(b[1], t);
      return b;
    }

    Object merge(Object into, Object other) {
      long[] a = (long[]) into;
      long[] b = (long[]) other;
      a[0] = Math.min(a[0], b[0]);
      a[1] = Math.max(a[1], b[1]);
      return a;
    }

    Object toState(Object buf) {
      long[] b = (long[]) buf;
      return CollectionConverters.asScala(List.of(b[0], b[1]));
    }

    Object fromState(Row r, int i) {
      List<Long> l = r.getList(i);
      return new long[] {l.get(0), l.get(1)};
    }

    Object finish(Object buf) {
      long[] b = (long[]) buf;
      return b[0] > b[1] ? null : (Object) ((b[1] - b[0]) / 1_000_000L);
    }
  }

  /** A finished value as the feature's dtype (FeatureAggregations casts the column the same way). */
  static Object cast(Object v, ValueType t) {
    if (v == null) {
      return null;
    }
    return switch (t) {
      case INT64 -> v instanceof Number n ? n.longValue() : Long.parseLong(v.toString());
      case INT32 -> v instanceof Number n ? n.intValue() : Integer.parseInt(v.toString());
      case DOUBLE -> v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString());
      case FLOAT -> v instanceof Number n ? n.floatValue() : Float.parseFloat(v.toString());
      case STRING -> v.toString();
      case BOOL -> v instanceof Boolean b ? b : ((Number) v).longValue() != 0;
      case UNIX_TIMESTAMP -> v;
      case STRING_LIST -> list(v, ValueType.STRING);
      case INT64_LIST -> list(v, ValueType.INT64);
      case DOUBLE_LIST -> list(v, ValueType.DOUBLE);
    };
  }

  private static Object list(Object v, ValueType element) {
    List<Object> out = new ArrayList<>();
    for (Object o : (List<?>) v) {
      out.add(cast(o, element));
    }
    return CollectionConverters.asScala(out);
  }

  static long micros(Timestamp t) {
    return Math.floorDiv(t.getTime(), 1000L) * 1_000_000L + t.getNanos() / 1000;
  }

  static Timestamp timestamp(long micros) {
    Timestamp t = new Timestamp(Math.floorDiv(micros, 1_000_000L) * 1000);
    t.setNanos((int) Math.floorMod(micros, 1_000_000L) * 1000);
    return t;
  }
}
