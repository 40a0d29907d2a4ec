package io.recsys.batch.silver;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import io.delta.tables.DeltaTable;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.DateRangeOptions;
import io.recsys.spark.JobRunner;
import io.recsys.spark.LakeAccess;
import io.recsys.spark.LakeOptions;
import io.recsys.spark.Settings;
import io.recsys.spark.SparkSessions;
import io.recsys.spark.UserError;
import java.time.Duration;
import java.time.LocalDate;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * bronze.events -> silver.events for one event date or a range: deduplicated by event_id and sessionized
 * ({@link Silver}). Idempotent per date: the dates' partitions are replaced as a whole (Delta replaceWhere), so a
 * re-run, or a run after late events landed in bronze, gives the same table as a first run would.
 *
 * <pre>
 * spark-submit --class io.recsys.batch.silver.SilverJob recsys-app.jar --lake s3a://bucket/lake --date 2026-11-21
 * ./run job silver --lake demo-data/lake --from 2026-11-01 --to 2026-11-21
 * </pre>
 *
 * Sessions are inferred with one day of look-back: the events of the day before the range are read too (not
 * written), so a session that crosses midnight keeps one id. A session longer than a day without a 30-minute
 * pause would be split; real sessions are not.
 */
@Command(name = "silver", mixinStandardHelpOptions = true, sortOptions = false,
    description = "bronze.events -> silver.events (deduplicated, sessionized) for a date or a date range.")
public final class SilverJob implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(SilverJob.class);
  private static final Pattern DURATION = Pattern.compile("(\\d+)(s|m|h)");

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin DateRangeOptions dates = new DateRangeOptions();
  @Option(names = "--session-gap", description = "Inactivity that ends a session (spark.recsys.silver.sessionGap; "
      + "default 30m).")
  String sessionGap;

  /** What a run needs. */
  public record Config(LakeLayout lake, LocalDate from, LocalDate to, Duration sessionGap, String s3Endpoint) {}

  /** What a run did. */
  public record Result(long bronzeRows, long duplicatesDropped, long sessionsInferredRows, long silverRows) {}

  public static void main(String[] args) {
    JobRunner.main(new SilverJob(), args);
  }

  @Override
  public Integer call() {
    Config config = resolve(Settings.fromEnvironment());
    SparkSession spark = SparkSessions.create("recsys silver", LakeAccess.s3aSettings(config.s3Endpoint()));
    LakeAccess.check(spark, config.lake().root());
    Result r = run(spark, config);
    System.out.printf("silver.events %s..%s: %,d bronze rows, %,d duplicates dropped, %,d rows given a session, "
        + "%,d rows written%n", config.from(), config.to(), r.bronzeRows(), r.duplicatesDropped(),
        r.sessionsInferredRows(), r.silverRows());
    return 0;
  }

  Config resolve(Settings s) {
    LakeLayout layout = lakeOptions.layout(s);
    DateRangeOptions.DateRange range = dates.resolve();
    String gapText = s.string(sessionGap, "spark.recsys.silver.sessionGap", "30m");
    Matcher m = DURATION.matcher(gapText.trim());
    if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
      throw UserError.badArgument("--session-gap", gapText, "a positive duration such as 30m, 90s or 1h");
    }
    long n = Long.parseLong(m.group(1));
    Duration gap = switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      default -> Duration.ofHours(n);
    };
    return new Config(layout, range.from(), range.to(), gap, lakeOptions.s3Endpoint(s));
  }

  /** Builds the dates' silver partitions from bronze, replacing what was there. */
  public static Result run(SparkSession spark, Config config) {
    LakeLayout lake = config.lake();
    if (!DeltaTable.isDeltaTable(spark, lake.bronzeEvents())) {
      throw UserError.of("No bronze.events table at " + lake.bronzeEvents(),
          "Run the ingest job first (./run job bronze-ingest --lake ...), or check --lake");
    }
    spark.sparkContext().setJobDescription("silver " + config.from() + ".." + config.to());
    Dataset<Row> bronze = spark.read().format("delta").load(lake.bronzeEvents())
        .filter(col("event_date").geq(java.sql.Date.valueOf(config.from().minusDays(1)))
            .and(col("event_date").leq(java.sql.Date.valueOf(config.to()))));
    if (DeltaTable.isDeltaTable(spark, lake.opsErasedUsers())) {
      // erased users stay out, even if their old events come back through a replay
      Dataset<Row> erased = spark.read().format("delta").load(lake.opsErasedUsers()).select("user_sha256");
      bronze = bronze.join(erased, org.apache.spark.sql.functions.sha2(col("user_id"), 256)
          .equalTo(erased.col("user_sha256")), "left_anti");
    }
    Dataset<Row> silver = Silver.build(bronze, config.sessionGap())
        .filter(col("event_date").geq(java.sql.Date.valueOf(config.from())))
        .persist();
    try {
      String range = "event_date >= '" + config.from() + "' AND event_date <= '" + config.to() + "'";
      var writer = silver.write().format("delta").mode(SaveMode.Overwrite).partitionBy("event_date");
      if (DeltaTable.isDeltaTable(spark, lake.silverEvents())) {
        writer = writer.option("replaceWhere", range);
      }
      writer.save(lake.silverEvents());

      Row counts = silver.agg(count("*"), sum(when(col("session_inferred"), 1).otherwise(0))).first();
      long written = counts.getLong(0);
      long inferred = counts.isNullAt(1) ? 0 : counts.getLong(1);
      long bronzeRows = bronze.filter(col("event_date").geq(java.sql.Date.valueOf(config.from()))).count();
      Result r = new Result(bronzeRows, bronzeRows - written, inferred, written);
      if (bronzeRows == 0) {
        LOG.warn("silver {}..{}: bronze.events has no rows for these dates; their silver partitions are empty",
            config.from(), config.to());
      } else {
        LOG.info("silver {}..{}: {}", config.from(), config.to(), r);
      }
      return r;
    } finally {
      silver.unpersist();
    }
  }
}
