package io.recsys.spark.features;

import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureView;
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import java.io.Serializable;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Writes a frame of {@link FeatureAggregations} rows to the Redis online store from the executors: each
 * partition encodes its rows (Feast layout) and sends them through the JVM's shared {@link OnlineStore}
 * client, {@code batchSize} per pipeline. Only this serializable config travels to the executors; the client is
 * built there on first use. Returns one small stats row per partition (per partition and view, for
 * {@link OnlineViewsWrite}), which is all that reaches the driver unless the caller asks for a record per row as
 * well (the offline log's, {@link #run(Dataset, Column, int)}). Consecutive rows of one entity key go to Redis in
 * one script call ({@link OnlineStore#write(List, long[])}).
 */
public record OnlineWrite(String redis, String project, Entity entity, FeatureView view, int batchSize)
    implements Serializable {

  /**
   * What a partition sends back: one row per view it wrote, with its figures and, when asked for, its rows' records
   * in one value ({@code records}: each record as an int length and its bytes; null when the partition sent none,
   * which {@code records_complete} says). {@code view} is the view's index (always 0 for one view). One value per
   * view, not a row per record: {@link OnlineViewsWrite#runRows} sends these rows through Spark's Java
   * serialization, which took about 5% of a six-view job's CPU with a row per record (BENCHMARKS.md, freshness
   * notes).
   */
  static final StructType STATS_AND_RECORDS = new StructType().add("view", DataTypes.IntegerType)
      .add("rows", DataTypes.LongType).add("written", DataTypes.LongType).add("stale", DataTypes.LongType)
      .add("lag_sum_ms", DataTypes.DoubleType).add("lag_max_ms", DataTypes.LongType)
      .add("records_complete", DataTypes.BooleanType).add("records", DataTypes.BinaryType);
  /** The column a write with records adds to the frame. */
  static final String RECORD = "__recsys_record";

  /** Totals over the partitions of one write. */
  public record Stats(long rows, long written, long stale, double lagSumSeconds, double lagMaxSeconds) {}

  public Stats run(Dataset<Row> rows) {
    return run(rows, null, 0).stats();
  }

  /**
   * What one write did, and the rows' records (see {@link #run(Dataset, Column, int)}): null when not asked for,
   * or when a partition held more rows than the limit.
   */
  public record Result(Stats stats, List<byte[]> records) {}

  /**
   * Writes {@code rows} to Redis as {@link #run(Dataset)} does and, in the same Spark job, brings back each row's
   * {@code record} (a binary column computed from the row: the offline log's record of it), so the caller needs
   * no second pass over the frame. Each partition sends its records after its Redis writes, so they add nothing
   * to the time a row takes to become visible. At most {@code maxRecordsPerPartition} per partition: a partition
   * with more sends none, and the result has no records (the caller writes the frame another way). A null
   * {@code record} brings back no records.
   */
  public Result run(Dataset<Row> rows, Column record, int maxRecordsPerPartition) {
    return write(rows, record, maxRecordsPerPartition, new OneView(this)).get(0);
  }

  /** The features' values of a {@link FeatureAggregations} row, as Java objects (Scala arrays as Lists). */
  public static List<Object> values(Row r, List<Feature> features) {
    List<Object> values = new ArrayList<>(features.size());
    for (Feature f : features) {
      values.add(javaValue(r.getAs(f.name())));
    }
    return values;
  }

  static Object javaValue(Object v) {
    return v instanceof scala.collection.Seq<?> seq ? scala.jdk.javaapi.CollectionConverters.asJava(seq) : v;
  }

  /**
   * What the partitions of a write need to know of its rows: how many views, each view's key TTL, and how to turn
   * a row into its view's index and its {@link OnlineRow}. Serializable; {@link #bind} is called once per
   * partition, with the rows' schema.
   */
  interface Source extends Serializable {
    String redis();

    int batchSize();

    int views();

    long ttlMillis(int view);

    Bound<Row> bind(StructType schema);
  }

  /** A {@link Source} bound to a partition's schema: its rows ({@code Row}s or Spark's own) in Redis terms. */
  interface Bound<T> {
    int view(T r);

    OnlineRow encode(T r, int view);
  }

  /** A row's offline-log record, given its view. */
  interface RecordOf<T> {
    byte[] record(T r, int view);
  }

  /** One view's rows, in {@link FeatureAggregations#compute}'s columns. */
  private record OneView(OnlineWrite w) implements Source {
    public String redis() {
      return w.redis();
    }

    public int batchSize() {
      return w.batchSize();
    }

    public int views() {
      return 1;
    }

    public long ttlMillis(int view) {
      return w.view().ttl().toMillis();
    }

    public Bound<Row> bind(StructType schema) {
      List<Feature> features = w.view().features();
      return new Bound<>() {
        public int view(Row r) {
          return 0;
        }

        public OnlineRow encode(Row r, int view) {
          Instant t = ((Timestamp) r.getAs(FeatureAggregations.EVENT_TIMESTAMP)).toInstant();
          return OnlineRow.encode(w.project(), w.entity(), w.view(), r.getAs(w.entity().joinKey()).toString(), t,
              values(r, features));
        }
      };
    }
  }

  /**
   * Writes the rows of {@code source} from the executors, in one Spark job, and brings back one {@link Result} per
   * view (in the views' order), with records as {@link #run(Dataset, Column, int)} describes.
   */
  static List<Result> write(Dataset<Row> rows, Column record, int maxRecordsPerPartition, Source source) {
    Dataset<Row> input = record == null ? rows : rows.withColumn(RECORD, record);
    List<Row> parts = input.mapPartitions(new WritePartition(source, input.schema(), record != null,
        maxRecordsPerPartition), Encoders.row(STATS_AND_RECORDS)).collectAsList();
    return results(parts, source.views(), record != null);
  }

  /** Sums the partitions' {@link #STATS_AND_RECORDS} rows into one {@link Result} per view. */
  static List<Result> results(List<Row> parts, int views, boolean withRecords) {
    long[] n = new long[views];
    long[] written = new long[views];
    long[] stale = new long[views];
    double[] lagSum = new double[views];
    long[] lagMax = new long[views];
    boolean complete = withRecords;
    List<List<byte[]>> records = new ArrayList<>();
    for (int v = 0; v < views; v++) {
      records.add(new ArrayList<>());
    }
    for (Row r : parts) {
      int v = r.getInt(0);
      n[v] += r.getLong(1);
      written[v] += r.getLong(2);
      stale[v] += r.getLong(3);
      lagSum[v] += r.getDouble(4);
      lagMax[v] = Math.max(lagMax[v], r.getLong(5));
      complete &= r.getBoolean(6);
      if (complete && !r.isNullAt(7)) {
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap((byte[]) r.get(7));
        while (in.hasRemaining()) {
          byte[] record = new byte[in.getInt()];
          in.get(record);
          records.get(v).add(record);
        }
      }
    }
    List<Result> out = new ArrayList<>(views);
    for (int v = 0; v < views; v++) {
      out.add(new Result(new Stats(n[v], written[v], stale[v], lagSum[v] / 1000.0, lagMax[v] / 1000.0),
          complete ? records.get(v) : null));
    }
    return out;
  }

  static final class WritePartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private final Source source;
    private final StructType schema;
    private final boolean withRecords;
    private final int maxRecords;

    WritePartition(Source source, StructType schema, boolean withRecords, int maxRecords) {
      this.source = source;
      this.schema = schema;
      this.withRecords = withRecords;
      this.maxRecords = maxRecords;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
      if (!input.hasNext()) {
        return java.util.Collections.emptyIterator();
      }
      int recordColumn = withRecords ? schema.fieldIndex(RECORD) : -1;
      return writePartition(input, source, source.bind(schema),
          withRecords ? (r, v) -> (byte[]) r.get(recordColumn) : null, maxRecords).iterator();
    }
  }

  /**
   * One partition of a write: its rows to Redis, {@code batchSize} per pipeline, and back its
   * {@link #STATS_AND_RECORDS} rows; with {@code recordOf} (else null) each row's record too, unless the partition
   * holds more than {@code maxRecords} rows.
   */
  static <T> List<Row> writePartition(Iterator<T> input, Source source, Bound<T> bound, RecordOf<T> recordOf,
      int maxRecords) {
    int views = source.views();
    long[] ttl = new long[views];
    for (int v = 0; v < views; v++) {
      ttl[v] = source.ttlMillis(v);
    }
    long[] rows = new long[views];
    long[] written = new long[views];
    long[] stale = new long[views];
    double[] lagSum = new double[views];
    long[] lagMax = new long[views];
    java.io.ByteArrayOutputStream[] records = new java.io.ByteArrayOutputStream[views];
    boolean complete = recordOf != null;
    long seen = 0;
    OnlineStore store = OnlineStore.shared(source.redis());
    int size = source.batchSize();
    List<OnlineRow> batch = new ArrayList<>(size);
    int[] batchViews = new int[size];
    long[] batchTtls = new long[size];
    while (input.hasNext()) {
      T r = input.next();
      int v = bound.view(r);
      batchViews[batch.size()] = v;
      batchTtls[batch.size()] = ttl[v];
      batch.add(bound.encode(r, v));
      rows[v]++;
      seen++;
      if (complete && seen > maxRecords) {
        complete = false; // too many for the driver: none are sent
        java.util.Arrays.fill(records, null);
      } else if (complete) {
        byte[] record = recordOf.record(r, v);
        if (records[v] == null) {
          records[v] = new java.io.ByteArrayOutputStream(1 << 12);
        }
        records[v].write(record.length >>> 24);
        records[v].write(record.length >>> 16);
        records[v].write(record.length >>> 8);
        records[v].write(record.length);
        records[v].write(record, 0, record.length);
      }
      if (batch.size() >= size || !input.hasNext()) {
        boolean[] done = store.write(batch, batch.size() == size ? batchTtls
            : java.util.Arrays.copyOf(batchTtls, batch.size()));
        long now = System.currentTimeMillis();
        for (int i = 0; i < done.length; i++) {
          int bv = batchViews[i];
          if (done[i]) {
            written[bv]++;
            long lag = Math.max(0, now - batch.get(i).eventTime().toEpochMilli());
            lagSum[bv] += lag;
            lagMax[bv] = Math.max(lagMax[bv], lag);
          } else {
            stale[bv]++;
          }
        }
        batch.clear();
      }
    }
    List<Row> out = new ArrayList<>(views);
    for (int v = 0; v < views; v++) {
      if (rows[v] > 0) {
        out.add(RowFactory.create(v, rows[v], written[v], stale[v], lagSum[v], lagMax[v], complete,
            complete && records[v] != null ? records[v].toByteArray() : null));
      }
    }
    return out;
  }
}
