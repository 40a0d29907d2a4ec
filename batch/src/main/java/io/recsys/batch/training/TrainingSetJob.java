package io.recsys.batch.training;

import static org.apache.spark.sql.functions.col;

import io.delta.tables.DeltaTable;
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
import java.time.Instant;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A training set: label events from silver.events (by default purchases) in a date range, each joined point in
 * time with the feature views' offline logs ({@link PointInTime}), written to {@code gold/training/<name>}.
 * {@code --features-as-of} reads the logs as they were at that instant (Delta time travel), so a training set
 * can be rebuilt exactly even after a backfill has rewritten history.
 *
 * <pre>
 * ./run job training-set --lake demo-data/lake --from 2026-11-01 --to 2026-11-21 --name purchases-nov
 * </pre>
 */
@Command(name = "training-set", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Label events joined point in time with the feature views' offline logs.")
public final class TrainingSetJob implements Callable<Integer> {

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin DateRangeOptions dates = new DateRangeOptions();
  @Mixin FeatureOptions featureOptions = new FeatureOptions();
  @Option(names = "--label-events", split = ",", description = "Event types that are labels (default purchase).")
  List<String> labelEvents = List.of("purchase");
  @Option(names = "--name", required = true, description = "Output under <lake>/gold/training/<name>.")
  String name;
  @Option(names = "--features-as-of", description = "Read the feature logs as of this instant (ISO-8601), "
      + "with Delta time travel.")
  String featuresAsOf;

  public record Config(LakeLayout lake, LocalDate from, LocalDate to, List<String> labelEvents,
      FeatureDefinitions definitions, List<FeatureView> views, String name, Instant featuresAsOf,
      String s3Endpoint) {}

  public static void main(String[] args) {
    JobRunner.main(new TrainingSetJob(), args);
  }

  @Override
  public Integer call() {
    Settings s = Settings.fromEnvironment();
    DateRangeOptions.DateRange range = dates.resolve();
    FeatureDefinitions defs = featureOptions.definitions(s);
    Instant asOf = null;
    if (featuresAsOf != null) {
      try {
        asOf = Instant.parse(featuresAsOf.trim());
      } catch (DateTimeParseException e) {
        throw UserError.badArgument("--features-as-of", featuresAsOf, "an instant like 2026-11-21T00:00:00Z");
      }
    }
    if (!name.matches("[A-Za-z0-9_.-]+")) {
      throw UserError.badArgument("--name", name, "letters, digits, '.', '_' or '-'");
    }
    Config c = new Config(lakeOptions.layout(s), range.from(), range.to(), labelEvents, defs,
        featureOptions.views(s, "spark.recsys.training.views", defs, null), name, asOf, lakeOptions.s3Endpoint(s));
    SparkSession spark = SparkSessions.create("recsys training-set", LakeAccess.s3aSettings(c.s3Endpoint()));
    LakeAccess.check(spark, c.lake().root());
    long rows = run(spark, c);
    System.out.printf("%s: %,d label rows x %d views -> %s%n", c.name(), rows, c.views().size(), output(c));
    return 0;
  }

  public static String output(Config c) {
    return c.lake().root() + "/gold/training/" + c.name();
  }

  /** Every training set of the lake (the folders under gold/training). */
  public static List<String> all(SparkSession spark, LakeLayout lake) {
    org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(lake.root() + "/gold/training");
    try {
      var fs = dir.getFileSystem(spark.sparkContext().hadoopConfiguration());
      List<String> out = new java.util.ArrayList<>();
      if (fs.exists(dir)) {
        for (var st : fs.listStatus(dir)) {
          if (st.isDirectory()) {
            out.add(st.getPath().toString());
          }
        }
      }
      return out;
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  public static long run(SparkSession spark, Config c) {
    if (!DeltaTable.isDeltaTable(spark, c.lake().silverEvents())) {
      throw UserError.of("No silver.events table at " + c.lake().silverEvents(), "Run the silver job first");
    }
    Dataset<Row> labels = spark.read().format("delta").load(c.lake().silverEvents())
        .filter(col("event_date").geq(java.sql.Date.valueOf(c.from()))
            .and(col("event_date").leq(java.sql.Date.valueOf(c.to())))
            .and(col("event_type").isin(c.labelEvents().toArray())))
        .select("event_id", "user_id", "item_id", "event_type", "event_time");
    Map<String, Dataset<Row>> logs = new LinkedHashMap<>();
    for (FeatureView v : c.views()) {
      String path = c.lake().features(v.name());
      if (!DeltaTable.isDeltaTable(spark, path)) {
        throw UserError.of("No offline log for view " + v.name() + " at " + path,
            "Run the online-features job or the backfill job for it, or leave it out with --views");
      }
      DataFrameReader r = spark.read().format("delta");
      if (c.featuresAsOf() != null) {
        r = r.option("timestampAsOf", java.sql.Timestamp.from(c.featuresAsOf()).toString());
      }
      logs.put(v.name(), r.load(path));
    }
    Dataset<Row> set = PointInTime.join(labels, "event_time", c.views(), c.definitions().entities(), logs);
    set.write().format("delta").mode(SaveMode.Overwrite).option("overwriteSchema", "true").save(output(c));
    return spark.read().format("delta").load(output(c)).count();
  }
}
