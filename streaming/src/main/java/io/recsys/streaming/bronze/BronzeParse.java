package io.recsys.streaming.bronze;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.date_from_unix_date;

import io.recsys.contract.Event;
import io.recsys.contract.EventParser;
import io.recsys.contract.ParseOutcome;
import io.recsys.contract.ParserConfig;
import java.sql.Timestamp;
import java.util.Iterator;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
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
    return kafkaRows
        .select(col("key"), col("value"), col("topic"), col("partition"), col("offset"), col("timestamp"))
        .mapPartitions(new ParsePartition(config, ingestTimeMillis, null, null), Encoders.row(BronzeSchema.PARSED));
  }

  /**
   * The valid rows only, in the shape of bronze.events; each rejected row goes to {@code rejects} (in the shape
   * of bronze.quarantine) as the parse runs, and {@code seen} counts every input row. One pass: nothing is
   * cached. The accumulators are filled when an action (the Delta write) runs this plan.
   */
  public static Dataset<Row> validEvents(Dataset<Row> kafkaRows, ParserConfig config, long ingestTimeMillis,
      AccumulatorV2<Row, ?> rejects, LongAccumulator seen) {
    Dataset<Row> valid = kafkaRows
        .select(col("key"), col("value"), col("topic"), col("partition"), col("offset"), col("timestamp"))
        .mapPartitions(new ParsePartition(config, ingestTimeMillis, rejects, seen), Encoders.row(BronzeSchema.PARSED));
    return events(valid);
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
      if (rejects == null) {
        return new Iterator<>() {
          @Override
          public boolean hasNext() {
            return input.hasNext();
          }

          @Override
          public Row next() {
            return toRow(parser, input.next(), ingest);
          }
        };
      }
      return new Iterator<>() {
        private Row next;

        @Override
        public boolean hasNext() {
          while (next == null && input.hasNext()) {
            Row r = toRow(parser, input.next(), ingest);
            seen.add(1);
            if (r.getBoolean(0)) {
              next = r;
            } else {
              rejects.add(quarantineShape(r));
            }
          }
          return next != null;
        }

        @Override
        public Row next() {
          if (!hasNext()) {
            throw new java.util.NoSuchElementException();
          }
          Row r = next;
          next = null;
          return r;
        }
      };
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
}
