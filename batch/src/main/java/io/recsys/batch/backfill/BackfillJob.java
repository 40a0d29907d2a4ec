package io.recsys.batch.backfill;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.row_number;

import io.delta.tables.DeltaTable;
import io.recsys.features.Entity;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.DateRangeOptions;
import io.recsys.spark.FeatureOptions;
import io.recsys.spark.JobRunner;
import io.recsys.spark.LakeAccess;
import io.recsys.spark.LakeOptions;
import io.recsys.spark.Settings;
import io.recsys.spark.SparkSessions;
import io.recsys.spark.UserError;
import io.recsys.spark.features.FeatureAggregations;
import io.recsys.spark.features.OnlineCheck;
import io.recsys.spark.features.OnlineWrite;
import io.recsys.spark.features.TopK;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Recomputes the streaming feature views from silver.events for a range of event dates, with the definitions
 * and the aggregation code the streaming job runs ({@link FeatureAggregations}), and then:
 * <ol>
 *   <li>history: replaces the range's rows of each view's offline log {@code features.<view>} (by event_timestamp)
 *       with the recomputation, so training sets see every window, late events included;</li>
 *   <li>check: compares each entity's latest recomputed row with the online store ({@link OnlineCheck}) and
 *       reports per view how many match, differ (a late event changed the window), are older online, missing,
 *       or newer online (the stream has moved past the range; left alone);</li>
 *   <li>correct ({@code --mode correct}, the default): writes the latest rows to Redis with the online writer,
 *       whose rule (skip if the stored _ts is later, rewrite if equal) fixes the windows late events changed
 *       without ever going back in time; then checks again.</li>
 * </ol>
 * Idempotent: a second run rewrites the same bytes and the same history rows ({@code created_timestamp} is the
 * end of the range, not the wall clock).
 *
 * <pre>
 * ./run job backfill --lake demo-data/lake --redis 127.0.0.1:6379 --date 2026-11-21 [--mode check]
 * </pre>
 */
@Command(name = "backfill", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Recompute streaming feature views from silver for a date range: history, check, correct.")
public final class BackfillJob implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(BackfillJob.class);

  /** What to do with the online store. */
  public enum Mode { CHECK, CORRECT }

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin DateRangeOptions dates = new DateRangeOptions();
  @Mixin FeatureOptions featureOptions = new FeatureOptions();
  @Option(names = "--mode", description = "check (report only) or correct (default: correct).")
  String mode;

  public record Config(LakeLayout lake, LocalDate from, LocalDate to, String redis, FeatureDefinitions definitions,
      List<FeatureView> views, Mode mode, String s3Endpoint) {}

  /** Per view: windows recomputed, entities, the check before and (when correcting) after, rows written. */
  public record ViewResult(String view, long windows, OnlineCheck.Result before, OnlineWrite.Stats written,
      OnlineCheck.Result after) {}

  public static void main(String[] args) {
    JobRunner.main(new BackfillJob(), args);
  }

  @Override
  public Integer call() {
    Config config = resolve(Settings.fromEnvironment());
    FeatureOptions.checkRedis(config.redis(), "Start it or pass --redis host:port");
    SparkSession spark = SparkSessions.create("recsys backfill", LakeAccess.s3aSettings(config.s3Endpoint()));
    LakeAccess.check(spark, config.lake().root());
    for (ViewResult r : run(spark, config)) {
      System.out.printf("%-20s %,9d windows  online before: %,d match, %,d differ, %,d older, %,d missing, "
          + "%,d newer%s%n", r.view(), r.windows(), r.before().match(), r.before().mismatch(), r.before().stale(),
          r.before().missing(), r.before().newer(), r.after() == null ? ""
              : String.format("  -> corrected %,d; after: %,d wrong", r.written().written(), r.after().wrong()));
    }
    return 0;
  }

  Config resolve(Settings s) {
    LakeLayout layout = lakeOptions.layout(s);
    DateRangeOptions.DateRange range = dates.resolve();
    String redisAddress = featureOptions.redis(s);
    FeatureDefinitions defs = featureOptions.definitions(s);
    List<FeatureView> selected =
        featureOptions.views(s, "spark.recsys.backfill.views", defs, FeatureView.Schedule.STREAMING);
    Mode m;
    String modeText = mode == null ? "correct" : mode.trim().toLowerCase(java.util.Locale.ROOT);
    switch (modeText) {
      case "check" -> m = Mode.CHECK;
      case "correct" -> m = Mode.CORRECT;
      default -> throw UserError.badArgument("--mode", mode, "check or correct");
    }
    return new Config(layout, range.from(), range.to(), redisAddress, defs, selected, m,
        lakeOptions.s3Endpoint(s));
  }

  public static List<ViewResult> run(SparkSession spark, Config config) {
    LakeLayout lake = config.lake();
    if (!DeltaTable.isDeltaTable(spark, lake.silverEvents())) {
      throw UserError.of("No silver.events table at " + lake.silverEvents(),
          "Run the silver job for these dates first (./run job silver --lake ... --date ...)");
    }
    TopK.register(spark);
    Instant start = config.from().atStartOfDay(ZoneOffset.UTC).toInstant();
    Instant end = config.to().plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    List<ViewResult> out = new ArrayList<>();
    for (FeatureView view : config.views()) {
      spark.sparkContext().setJobDescription("backfill " + view.name() + " " + config.from() + ".." + config.to());
      Entity entity = config.definitions().entities().get(view.entity());
      // windows that end in the range reach back one window (a session: one day) before it
      Duration reach = view.isSession() ? Duration.ofDays(1) : view.window();
      Dataset<Row> events = spark.read().format("delta").load(lake.silverEvents())
          .filter(col("event_date").geq(java.sql.Date.valueOf(
              config.from().minusDays(Math.max(1, (reach.toHours() + 23) / 24)))))
          .filter(col("event_date").leq(java.sql.Date.valueOf(config.to())))
          .filter(col("event_time").lt(Timestamp.from(end)));
      Dataset<Row> windows = FeatureAggregations.compute(events, view, entity)
          .filter(col(FeatureAggregations.EVENT_TIMESTAMP).geq(Timestamp.from(start)))
          .persist();
      try {
        long count = writeHistory(lake, view, windows, start, end);
        Dataset<Row> latest = windows
            .withColumn("_n", row_number().over(Window.partitionBy(entity.joinKey())
                .orderBy(col(FeatureAggregations.EVENT_TIMESTAMP).desc(), col(FeatureAggregations.WINDOW_END).desc())))
            .filter(col("_n").equalTo(1)).drop("_n");
        OnlineCheck check = new OnlineCheck(config.redis(), config.definitions().project(), entity, view, 500);
        OnlineCheck.Result before = check.run(latest);
        OnlineWrite.Stats written = null;
        OnlineCheck.Result after = null;
        if (config.mode() == Mode.CORRECT) {
          written = new OnlineWrite(config.redis(), config.definitions().project(), entity, view, 500).run(latest);
          after = check.run(latest);
        }
        ViewResult r = new ViewResult(view.name(), count, before, written, after);
        LOG.info("backfill {}: {}", view.name(), r);
        out.add(r);
      } finally {
        windows.unpersist();
      }
    }
    return out;
  }

  /** Replaces the range's rows of features.<view> with the recomputed windows; returns their number. */
  private static long writeHistory(LakeLayout lake, FeatureView view, Dataset<Row> windows, Instant start,
      Instant end) {
    String path = lake.features(view.name());
    Dataset<Row> rows = windows.withColumn("created_timestamp", lit(Timestamp.from(end)));
    var writer = rows.write().format("delta").mode(SaveMode.Overwrite).option("mergeSchema", "true");
    if (DeltaTable.isDeltaTable(rows.sparkSession(), path)) {
      writer = writer.option("replaceWhere", FeatureAggregations.EVENT_TIMESTAMP + " >= '" + start + "' AND "
          + FeatureAggregations.EVENT_TIMESTAMP + " < '" + end + "'");
    }
    writer.save(path);
    return windows.count();
  }
}
