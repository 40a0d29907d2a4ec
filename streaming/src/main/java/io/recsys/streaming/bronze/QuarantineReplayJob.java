package io.recsys.streaming.bronze;

import static org.apache.spark.sql.functions.col;

import dev.failsafe.Failsafe;
import dev.failsafe.RetryPolicy;
import io.delta.tables.DeltaTable;
import io.recsys.contract.ParserConfig;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.JobRunner;
import io.recsys.spark.LakeAccess;
import io.recsys.spark.LakeOptions;
import io.recsys.spark.Settings;
import io.recsys.spark.SparkSessions;
import io.recsys.spark.UserError;
import io.recsys.streaming.common.DeltaConflicts;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Re-validates quarantined records with the current parser (after a parser fix or with relaxed limits) and moves
 * the ones that are now valid into bronze.events. Idempotent and safe to run while ingestion runs:
 *
 * <ol>
 *   <li>MERGE the now-valid events into bronze.events on (kafka_topic, kafka_partition, kafka_offset), inserting
 *       only records not already there;
 *   <li>MERGE-delete from bronze.quarantine the records that are now in bronze.events.
 * </ol>
 *
 * A crash between the two steps leaves a record in both tables until the next run, which finishes the move.
 * Conflicting concurrent commits are retried. Records still invalid stay in quarantine, unchanged.
 */
@Command(name = "quarantine-replay", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Re-validate bronze.quarantine and move the records that now parse into bronze.events.")
public final class QuarantineReplayJob implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(QuarantineReplayJob.class);
  private static final String KEYS = "t.kafka_topic = s.kafka_topic AND t.kafka_partition = s.kafka_partition "
      + "AND t.kafka_offset = s.kafka_offset";

  /** What a replay found and did. */
  public record Result(long examined, long moved, Map<String, Long> stillRejected) {}

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin ParserOptions parserOptions = new ParserOptions();
  @Option(names = "--reason", description = "Only records quarantined for this reason code (default: all).")
  String reason;
  @Option(names = "--dry-run", description = "Report what would move; change nothing.")
  boolean dryRun;

  public static void main(String[] args) {
    JobRunner.main(new QuarantineReplayJob(), args);
  }

  @Override
  public Integer call() {
    Settings s = Settings.fromEnvironment();
    LakeLayout lake = lakeOptions.layout(s);
    SparkSession spark = SparkSessions.create("recsys quarantine-replay", lakeOptions.hadoopConf(s));
    LakeAccess.check(spark, lake.root());
    Result r = dryRun ? plan(spark, lake, parserOptions.resolve(s), reason)
        : replay(spark, lake, parserOptions.resolve(s), reason);
    System.out.printf("%s %,d quarantined records: %,d %s valid and %s into bronze.events; still rejected: %s%n",
        dryRun ? "Examined" : "Replayed", r.examined(), r.moved(), dryRun ? "are" : "were",
        dryRun ? "would move" : "moved", r.stillRejected());
    return 0;
  }

  /** Counts what a replay would do, without writing. */
  public static Result plan(SparkSession spark, LakeLayout lake, ParserConfig parser, String onlyReason) {
    Dataset<Row> parsed = reparse(spark, lake, parser, onlyReason).persist(StorageLevel.MEMORY_AND_DISK());
    try {
      return summarize(parsed, parsed.filter(col(BronzeSchema.VALID)).count());
    } finally {
      parsed.unpersist(false);
    }
  }

  /** Moves every quarantined record that now parses into bronze.events. */
  public static Result replay(SparkSession spark, LakeLayout lake, ParserConfig parser, String onlyReason) {
    Dataset<Row> parsed = reparse(spark, lake, parser, onlyReason).persist(StorageLevel.MEMORY_AND_DISK());
    try {
      Dataset<Row> events = BronzeParse.events(parsed);
      long valid = events.count();
      if (valid > 0) {
        RetryPolicy<Object> onConflict = DeltaConflicts.retry(Duration.ofMillis(200), Duration.ofSeconds(5), 10);
        spark.sparkContext().setJobDescription("quarantine replay: insert " + valid + " events into bronze.events");
        Failsafe.with(onConflict).run(() -> DeltaTable.forPath(spark, lake.bronzeEvents()).as("t")
            .merge(events.as("s"), KEYS).whenNotMatched().insertAll().execute());
        Dataset<Row> keys = events.select("kafka_topic", "kafka_partition", "kafka_offset");
        spark.sparkContext().setJobDescription("quarantine replay: delete moved records from bronze.quarantine");
        Failsafe.with(onConflict).run(() -> DeltaTable.forPath(spark, lake.bronzeQuarantine()).as("t")
            .merge(keys.as("s"), KEYS).whenMatched().delete().execute());
      }
      Result r = summarize(parsed, valid);
      LOG.info("quarantine replay: {} examined, {} moved to bronze.events, still rejected {}", r.examined(),
          r.moved(), r.stillRejected());
      return r;
    } finally {
      parsed.unpersist(false);
      spark.sparkContext().setJobDescription(null);
    }
  }

  /** The quarantine, re-parsed: the raw columns renamed to the Kafka source's so the one parse applies. */
  static Dataset<Row> reparse(SparkSession spark, LakeLayout lake, ParserConfig parser, String onlyReason) {
    if (!DeltaTable.isDeltaTable(spark, lake.bronzeQuarantine())) {
      throw UserError.of("There is no bronze.quarantine table at " + lake.bronzeQuarantine(),
          "Check --lake; the ingest job creates the table when it first quarantines a record");
    }
    Dataset<Row> q = spark.read().format("delta").load(lake.bronzeQuarantine());
    if (onlyReason != null) {
      q = q.filter(col("reason").equalTo(onlyReason));
    }
    Dataset<Row> asKafka = q.select(col("raw_key").as("key"), col("raw_value").as("value"),
        col("kafka_topic").as("topic"), col("kafka_partition").as("partition"), col("kafka_offset").as("offset"),
        col("kafka_timestamp").as("timestamp"));
    return BronzeParse.parse(asKafka, parser, System.currentTimeMillis());
  }

  private static Result summarize(Dataset<Row> parsed, long moved) {
    Map<String, Long> still = new TreeMap<>();
    long total = 0;
    List<Row> rows = parsed.groupBy(col(BronzeSchema.VALID), col(BronzeSchema.REASON)).count().collectAsList();
    for (Row r : rows) {
      total += r.getLong(2);
      if (!r.getBoolean(0)) {
        still.put(r.getString(1), r.getLong(2));
      }
    }
    return new Result(total, moved, still);
  }
}
