package io.recsys.streaming.bronze;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.date_from_unix_date;

import io.recsys.contract.Event;
import io.recsys.contract.EventParser;
import io.recsys.contract.ParseOutcome;
import io.recsys.contract.ParserConfig;
import java.sql.Timestamp;
import java.util.Iterator;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.DateTimeUtils;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.catalyst.util.MapData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.unsafe.types.UTF8String;
import org.apache.spark.util.AccumulatorV2;
import org.apache.spark.util.LongAccumulator;

/**
 * The pure transformations of bronze ingestion. {@link #parse} turns Kafka rows (the columns of Spark's Kafka
 * source: key, value, topic, partition, offset, timestamp) into {@link BronzeSchema#PARSED} rows with the one
 * {@link EventParser}; {@link #events} and {@link #quarantine} split them into the two tables' shapes.
 *
 * <p>Cost: one pass, no shuffle; the parser runs once per record on the executors. Nothing but the
 * serializable {@link ParserConfig} and the batch's ingest time is shipped to them.
 */
public final class BronzeParse {

  private BronzeParse() {}

  public static Dataset<Row> parse(Dataset<Row> kafkaRows, ParserConfig config, long ingestTimeMillis) {
    return parsed(kafkaRows, config, ingestTimeMillis, null, null);
  }

  /**
   * The valid rows only, in the shape of bronze.events; each rejected row goes to {@code rejects} (in the shape
   * of bronze.quarantine) as the parse runs, and {@code seen} counts every input row. One pass: nothing is
   * cached. The accumulators are filled when an action (the Delta write) runs this plan.
   */
  public static Dataset<Row> validEvents(Dataset<Row> kafkaRows, ParserConfig config, long ingestTimeMillis,
      AccumulatorV2<Row, ?> rejects, LongAccumulator seen) {
    return events(parsed(kafkaRows, config, ingestTimeMillis, rejects, seen));
  }

  /**
   * {@link BronzeSchema#PARSED} rows of Kafka rows; with accumulators, the valid rows only (see {@link #validEvents}).
   * A static frame (a micro-batch in foreachBatch, a replay) is parsed straight from and into Spark's internal
   * rows ({@link ParseInternalPartition}); a streaming frame (the online job parses as it reads) goes through
   * {@code Row} encoders ({@link ParsePartition}). Both give the same rows ({@code BronzeParseTest}).
   */
  static Dataset<Row> parsed(Dataset<Row> kafkaRows, ParserConfig config, long ingestTimeMillis,
      AccumulatorV2<Row, ?> rejects, LongAccumulator seen) {
    Dataset<Row> kafka = kafkaRows
        .select(col("key"), col("value"), col("topic"), col("partition"), col("offset"), col("timestamp"));
    if (kafka.isStreaming()) {
      return viaRows(kafka, config, ingestTimeMillis, rejects, seen);
    }
    return viaInternalRows(kafka, config, ingestTimeMillis, rejects, seen);
  }

  /** The parse through {@code Row} encoders, which a streaming frame needs. */
  static Dataset<Row> viaRows(Dataset<Row> kafka, ParserConfig config, long ingestTimeMillis,
      AccumulatorV2<Row, ?> rejects, LongAccumulator seen) {
    return kafka.mapPartitions(new ParsePartition(config, ingestTimeMillis, rejects, seen),
        Encoders.row(BronzeSchema.PARSED));
  }

  /**
   * The parse from and into Spark's internal rows, without {@code Row} encoders: in a profile of the bronze job,
   * encoding and decoding {@code Row}s took about 13% of the executors' samples, and in a measurement (1M
   * synthetic records, parse only, warm JVM) this took 2.2-2.3 s against 2.9-4.0 s (BENCHMARKS.md, ingest notes).
   * It needs Spark's {@code internalCreateDataFrame}, which Java can call though Scala keeps it to Spark's own
   * packages; a static frame only.
   */
  static Dataset<Row> viaInternalRows(Dataset<Row> kafka, ParserConfig config, long ingestTimeMillis,
      AccumulatorV2<Row, ?> rejects, LongAccumulator seen) {
    JavaRDD<InternalRow> parsed = kafka.queryExecution().toRdd().toJavaRDD()
        .mapPartitions(new ParseInternalPartition(config, ingestTimeMillis, rejects, seen));
    return ((org.apache.spark.sql.classic.SparkSession) kafka.sparkSession())
        .internalCreateDataFrame(parsed.rdd(), BronzeSchema.PARSED, false);
  }

  /** Valid rows in the shape of bronze.events (event_date from the UTC day of event_time). */
  public static Dataset<Row> events(Dataset<Row> parsed) {
    return parsed.filter(col(BronzeSchema.VALID))
        .withColumn("event_date", date_from_unix_date(col(BronzeSchema.EVENT_DAY)))
        .select(columns(BronzeSchema.EVENTS_TABLE));
  }

  /** Rejected rows in the shape of bronze.quarantine. */
  public static Dataset<Row> quarantine(Dataset<Row> parsed) {
    return parsed.filter(col(BronzeSchema.VALID).equalTo(false)).select(columns(BronzeSchema.QUARANTINE_TABLE));
  }

  private static Column[] columns(java.util.List<String> names) {
    return names.stream().map(org.apache.spark.sql.functions::col).toArray(Column[]::new);
  }

  /**
   * A partition's parsed rows as the parse emits them: all of them without accumulators; with them, the
   * {@code valid} rows only, each row counted in {@code seen} and each rejected one added to {@code rejects} in
   * bronze.quarantine's shape.
   */
  static <T> Iterator<T> divert(Iterator<T> parsed, java.util.function.Predicate<T> valid,
      java.util.function.Function<T, Row> quarantineShape, AccumulatorV2<Row, ?> rejects, LongAccumulator seen) {
    if (rejects == null) {
      return parsed;
    }
    return new Iterator<>() {
      private T next;

      @Override
      public boolean hasNext() {
        while (next == null && parsed.hasNext()) {
          T r = parsed.next();
          seen.add(1);
          if (valid.test(r)) {
            next = r;
          } else {
            rejects.add(quarantineShape.apply(r));
          }
        }
        return next != null;
      }

      @Override
      public T next() {
        if (!hasNext()) {
          throw new java.util.NoSuchElementException();
        }
        T r = next;
        next = null;
        return r;
      }
    };
  }

  /**
   * Runs on executors: one parser per partition. Without accumulators it emits every row (valid or not); with
   * them it emits the valid rows and diverts the rejected ones.
   */
  static final class ParsePartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private static final long MILLIS_PER_DAY = 86_400_000L;

    private final ParserConfig config;
    private final long ingestTimeMillis;
    private final AccumulatorV2<Row, ?> rejects;
    private final LongAccumulator seen;

    ParsePartition(ParserConfig config, long ingestTimeMillis, AccumulatorV2<Row, ?> rejects, LongAccumulator seen) {
      this.config = config;
      this.ingestTimeMillis = ingestTimeMillis;
      this.rejects = rejects;
      this.seen = seen;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
      EventParser parser = new EventParser(config);
      Timestamp ingest = new Timestamp(ingestTimeMillis);
      Iterator<Row> parsed = new Iterator<>() {
        @Override
        public boolean hasNext() {
          return input.hasNext();
        }

        @Override
        public Row next() {
          return toRow(parser, input.next(), ingest);
        }
      };
      return divert(parsed, r -> r.getBoolean(0), ParsePartition::quarantineShape, rejects, seen);
    }

    /** A rejected PARSED row reduced to bronze.quarantine's columns, in their order. */
    private static Row quarantineShape(Row r) {
      Object[] out = new Object[BronzeSchema.QUARANTINE_TABLE.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = r.get(BronzeSchema.PARSED.fieldIndex(BronzeSchema.QUARANTINE_TABLE.get(i)));
      }
      return RowFactory.create(out);
    }

    private static Row toRow(EventParser parser, Row in, Timestamp ingest) {
      byte[] key = (byte[]) in.get(0);
      byte[] value = (byte[]) in.get(1);
      String topic = in.getString(2);
      int partition = in.getInt(3);
      long offset = in.getLong(4);
      Timestamp kafkaTs = in.isNullAt(5) ? null : in.getTimestamp(5);
      long reference = kafkaTs == null ? ingest.getTime() : kafkaTs.getTime();
      ParseOutcome outcome = parser.parse(value, reference);
      if (outcome instanceof ParseOutcome.Valid v) {
        Event e = v.event();
        return RowFactory.create(true, e.eventId(), e.schemaVersion(), e.eventType().wireName(), e.userId(),
            e.sessionId(), e.itemId(), e.category(), e.price(), e.quantity(), e.rating(), e.query(),
            scala.jdk.javaapi.CollectionConverters.asScala(e.context()), new Timestamp(e.eventTimeMillis()),
            (int) Math.floorDiv(e.eventTimeMillis(), MILLIS_PER_DAY), null, null, null, null,
            topic, partition, offset, kafkaTs, ingest);
      }
      ParseOutcome.Rejected r = (ParseOutcome.Rejected) outcome;
      return RowFactory.create(false, null, null, null, null, null, null, null, null, null, null, null, null,
          null, null, key, value, r.reason().name(), r.detail(), topic, partition, offset, kafkaTs, ingest);
    }
  }

  /**
   * {@link ParsePartition} on Spark's internal rows: the Kafka columns (key, value, topic, partition, offset,
   * timestamp) in, {@link BronzeSchema#PARSED} rows out, strings as {@code UTF8String}, timestamps as
   * microseconds. Rejected rows are also added to {@code rejects} as {@code Row}s in bronze.quarantine's shape.
   */
  static final class ParseInternalPartition implements FlatMapFunction<Iterator<InternalRow>, InternalRow> {
    private static final long serialVersionUID = 1L;
    private static final long MILLIS_PER_DAY = 86_400_000L;

    private final ParserConfig config;
    private final long ingestTimeMillis;
    private final AccumulatorV2<Row, ?> rejects;
    private final LongAccumulator seen;

    ParseInternalPartition(ParserConfig config, long ingestTimeMillis, AccumulatorV2<Row, ?> rejects,
        LongAccumulator seen) {
      this.config = config;
      this.ingestTimeMillis = ingestTimeMillis;
      this.rejects = rejects;
      this.seen = seen;
    }

    @Override
    public Iterator<InternalRow> call(Iterator<InternalRow> input) {
      EventParser parser = new EventParser(config);
      Iterator<InternalRow> parsed = new Iterator<>() {
        /** The topic of the last record, copied out of Spark's reused row buffer (one per partition, in effect). */
        private UTF8String topic;

        @Override
        public boolean hasNext() {
          return input.hasNext();
        }

        @Override
        public InternalRow next() {
          return toRow(input.next());
        }

        private InternalRow toRow(InternalRow in) {
          UTF8String t = in.getUTF8String(2);
          if (topic == null || !topic.equals(t)) {
            topic = t.clone();
          }
          byte[] value = in.isNullAt(1) ? null : in.getBinary(1);
          boolean noTimestamp = in.isNullAt(5);
          Long kafkaMicros = noTimestamp ? null : in.getLong(5);
          long reference = noTimestamp ? ingestTimeMillis : Math.floorDiv(kafkaMicros, 1000L);
          Object[] v = new Object[BronzeSchema.PARSED.size()];
          ParseOutcome outcome = parser.parse(value, reference);
          if (outcome instanceof ParseOutcome.Valid ok) {
            Event e = ok.event();
            v[0] = true;
            v[1] = utf8(e.eventId());
            v[2] = e.schemaVersion();
            v[3] = utf8(e.eventType().wireName());
            v[4] = utf8(e.userId());
            v[5] = utf8(e.sessionId());
            v[6] = utf8(e.itemId());
            v[7] = utf8(e.category());
            v[8] = e.price();
            v[9] = e.quantity();
            v[10] = e.rating();
            v[11] = utf8(e.query());
            v[12] = map(e.context());
            v[13] = e.eventTimeMillis() * 1000L;
            v[14] = (int) Math.floorDiv(e.eventTimeMillis(), MILLIS_PER_DAY);
          } else {
            ParseOutcome.Rejected rejected = (ParseOutcome.Rejected) outcome;
            v[0] = false;
            v[15] = in.isNullAt(0) ? null : in.getBinary(0);
            v[16] = value;
            v[17] = utf8(rejected.reason().name());
            v[18] = utf8(rejected.detail());
          }
          v[19] = topic;
          v[20] = in.getInt(3);
          v[21] = in.getLong(4);
          v[22] = kafkaMicros;
          v[23] = ingestTimeMillis * 1000L;
          return new GenericInternalRow(v);
        }
      };
      return divert(parsed, r -> r.getBoolean(0), ParseInternalPartition::quarantineShape, rejects, seen);
    }

    private static UTF8String utf8(String s) {
      return s == null ? null : UTF8String.fromString(s);
    }

    private static MapData map(java.util.Map<String, String> m) {
      Object[] keys = new Object[m.size()];
      Object[] values = new Object[m.size()];
      int i = 0;
      for (java.util.Map.Entry<String, String> e : m.entrySet()) {
        keys[i] = UTF8String.fromString(e.getKey());
        values[i++] = utf8(e.getValue());
      }
      return new ArrayBasedMapData(new GenericArrayData(keys), new GenericArrayData(values));
    }

    /** A rejected row as bronze.quarantine's {@code Row}, in its columns' order. */
    private static Row quarantineShape(InternalRow r) {
      Object[] out = new Object[BronzeSchema.QUARANTINE_TABLE.size()];
      for (int i = 0; i < out.length; i++) {
        int c = BronzeSchema.PARSED.fieldIndex(BronzeSchema.QUARANTINE_TABLE.get(i));
        Object v = r.isNullAt(c) ? null : r.get(c, BronzeSchema.PARSED.fields()[c].dataType());
        if (v instanceof UTF8String u) {
          v = u.toString();
        } else if (v != null && BronzeSchema.PARSED.fields()[c].dataType() == DataTypes.TimestampType) {
          v = DateTimeUtils.toJavaTimestamp((Long) v);
        }
        out[i] = v;
      }
      return RowFactory.create(out);
    }
  }
}
