package io.recsys.streaming.bronze;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.hex;
import static org.apache.spark.sql.functions.to_json;
import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.contract.ParserConfig;
import io.recsys.spark.SparkTestSession;
import java.nio.charset.StandardCharsets;
import java.sql.Date;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

class BronzeParseTest {

  static final StructType KAFKA = new StructType()
      .add("key", DataTypes.BinaryType).add("value", DataTypes.BinaryType).add("topic", DataTypes.StringType)
      .add("partition", DataTypes.IntegerType).add("offset", DataTypes.LongType)
      .add("timestamp", DataTypes.TimestampType);
  static final Timestamp KAFKA_TS = Timestamp.from(Instant.parse("2026-11-21T02:00:00Z"));

  final SparkSession spark = SparkTestSession.get();

  static Row record(long offset, String json) {
    return RowFactory.create("u1".getBytes(StandardCharsets.UTF_8),
        json == null ? null : json.getBytes(StandardCharsets.UTF_8), "events", 1, offset, KAFKA_TS);
  }

  Dataset<Row> frame(Row... rows) {
    return spark.createDataFrame(List.of(rows), KAFKA);
  }

  static final String GOOD = "{\"event_id\":\"e1\",\"schema_version\":1,\"event_type\":\"page_view\",\"user_id\":\"u1\","
      + "\"item_id\":\"i1\",\"event_time\":\"2026-11-20T23:30:00-02:00\",\"context\":{\"device\":\"ios\"}}";

  @Test
  void splitsValidAndRejectedRowsWithLineage() {
    Dataset<Row> parsed = BronzeParse.parse(frame(record(10, GOOD), record(11, "{oops"), record(12, null)),
        ParserConfig.DEFAULT, 1_000L);
    List<Row> events = BronzeParse.events(parsed).collectAsList();
    List<Row> rejected = BronzeParse.quarantine(parsed).orderBy("kafka_offset").collectAsList();

    assertThat(events).hasSize(1);
    Row e = events.get(0);
    assertThat(e.schema().fieldNames()).containsExactlyElementsOf(BronzeSchema.EVENTS_TABLE);
    assertThat(e.<String>getAs("event_id")).isEqualTo("e1");
    assertThat(e.<Timestamp>getAs("event_time").toInstant()).isEqualTo(Instant.parse("2026-11-21T01:30:00Z"));
    // event_date is the UTC day of event_time, not the producer's local day
    assertThat(e.<Date>getAs("event_date").toLocalDate()).isEqualTo(LocalDate.parse("2026-11-21"));
    assertThat(e.<Long>getAs("kafka_offset")).isEqualTo(10L);
    assertThat(e.<Integer>getAs("kafka_partition")).isEqualTo(1);
    assertThat(e.<Timestamp>getAs("ingest_time").getTime()).isEqualTo(1_000L);
    assertThat(e.getJavaMap(e.fieldIndex("context"))).containsEntry("device", "ios");

    assertThat(rejected).hasSize(2);
    assertThat(rejected.get(0).schema().fieldNames()).containsExactlyElementsOf(BronzeSchema.QUARANTINE_TABLE);
    assertThat(rejected.get(0).<String>getAs("reason")).isEqualTo("MALFORMED_JSON");
    assertThat(new String(rejected.get(0).<byte[]>getAs("raw_value"), StandardCharsets.UTF_8)).isEqualTo("{oops");
    assertThat(new String(rejected.get(0).<byte[]>getAs("raw_key"), StandardCharsets.UTF_8)).isEqualTo("u1");
    assertThat(rejected.get(1).<String>getAs("reason")).isEqualTo("EMPTY_PAYLOAD");
    assertThat(rejected.get(1).<Long>getAs("kafka_offset")).isEqualTo(12L);
  }

  @Test
  void futureSkewIsJudgedAgainstTheKafkaTimestamp() {
    String inTwoHours = GOOD.replace("2026-11-20T23:30:00-02:00", "2026-11-21T04:00:00Z");
    Dataset<Row> parsed = BronzeParse.parse(frame(record(1, inTwoHours)), ParserConfig.DEFAULT, 0L);
    assertThat(BronzeParse.quarantine(parsed).first().<String>getAs("reason")).isEqualTo("EVENT_TIME_OUT_OF_RANGE");
  }

  @Test
  void everyInputRowComesOutOnce() {
    Row[] rows = new Row[500];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = record(i, i % 7 == 0 ? "[]" : GOOD.replace("e1", "e" + i));
    }
    Dataset<Row> parsed = BronzeParse.parse(frame(rows), ParserConfig.DEFAULT, 0L);
    long events = BronzeParse.events(parsed).count();
    long rejected = BronzeParse.quarantine(parsed).count();
    assertThat(events + rejected).isEqualTo(500);
    assertThat(rejected).isEqualTo(72); // i % 7 == 0 for i in [0, 500)
  }

  @Test
  void theInternalRowParseGivesTheRowsOfTheRowEncoderParse() {
    // the generator's events of every type with their context maps, its bad records of every kind (oversize
    // payloads too), and a record without key or Kafka timestamp
    List<Row> rows = new java.util.ArrayList<>();
    var generator = new io.recsys.streaming.producer.SyntheticClickstream(
        io.recsys.streaming.producer.SyntheticClickstream.Config.defaults(3_000).withBadRatio(0.05));
    long offset = 0;
    while (generator.hasNext()) {
      var p = generator.next();
      rows.add(RowFactory.create(p.key() == null ? null : p.key().getBytes(StandardCharsets.UTF_8), p.value(),
          "events", (int) (offset % 3), offset, offset % 11 == 0 ? null : KAFKA_TS));
      offset++;
    }
    rows.add(RowFactory.create(null, GOOD.getBytes(StandardCharsets.UTF_8), "other", 0, 0L, null));
    Dataset<Row> kafka = spark.createDataFrame(rows, KAFKA).repartition(3);
    org.apache.spark.util.CollectionAccumulator<Row> rejects = spark.sparkContext().collectionAccumulator();
    org.apache.spark.util.LongAccumulator seen = spark.sparkContext().longAccumulator();

    List<String> viaRows = comparable(BronzeParse.viaRows(kafka.select("*"), ParserConfig.DEFAULT, 5_000L, null, null));
    List<String> viaInternal = comparable(BronzeParse.parse(kafka, ParserConfig.DEFAULT, 5_000L));
    assertThat(viaInternal).hasSize(rows.size()).isEqualTo(viaRows);
    assertThat(viaInternal.stream().filter(r -> r.startsWith("[false")).count()).isGreaterThan(100);

    // with the accumulators: the valid rows, and the others in bronze.quarantine's shape
    List<String> valid = comparable(BronzeParse.validEvents(kafka, ParserConfig.DEFAULT, 5_000L, rejects, seen));
    Dataset<Row> parsed = BronzeParse.viaRows(kafka.select("*"), ParserConfig.DEFAULT, 5_000L, null, null);
    assertThat(valid).isEqualTo(comparable(BronzeParse.events(parsed)));
    assertThat(seen.value()).isEqualTo(rows.size());
    assertThat(comparable(spark.createDataFrame(rejects.value(), BronzeSchema.QUARANTINE)))
        .isEqualTo(comparable(BronzeParse.quarantine(parsed)));
  }

  /** Rows as sortable strings: maps as JSON, bytes as hex (a Row's own toString shows neither by value). */
  private static List<String> comparable(Dataset<Row> rows) {
    org.apache.spark.sql.Column[] cols = java.util.Arrays.stream(rows.schema().fields())
        .map(f -> f.dataType() instanceof org.apache.spark.sql.types.MapType ? to_json(col(f.name()))
            : f.dataType() == DataTypes.BinaryType ? hex(col(f.name())) : col(f.name()))
        .toArray(org.apache.spark.sql.Column[]::new);
    return rows.select(cols).collectAsList().stream().map(Row::toString).sorted().toList();
  }
}
