package io.recsys.batch.maintenance;

import io.delta.tables.DeltaTable;
import io.recsys.batch.als.Recommendations;
import io.recsys.batch.gold.GoldFeaturesJob;
import io.recsys.batch.training.TrainingSetJob;
import io.recsys.features.FeatureDefinitions;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.DateRangeOptions;
import io.recsys.spark.FeatureOptions;
import io.recsys.spark.JobRunner;
import io.recsys.spark.LakeAccess;
import io.recsys.spark.LakeOptions;
import io.recsys.spark.Settings;
import io.recsys.spark.SparkSessions;
import io.recsys.spark.UserError;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Delta maintenance of the lake's tables: OPTIMIZE (bin-packing small files; Z-order on user_id for the event
 * tables, which erasure and per-user reads filter by; with {@code --date}, only that date's partition of the
 * date-partitioned tables, so a nightly run stays cheap), then VACUUM of files no longer referenced and older than
 * the retention (default 168 hours, Delta's safe minimum: readers and streaming queries that started earlier can
 * still need them). A shorter retention is refused unless {@code --allow-short-retention}, which an erasure needs to
 * make deleted rows unrecoverable at once. The Delta log cleans itself at checkpoints
 * ({@code delta.logRetentionDuration}, 30 days) and streaming checkpoints keep {@code
 * spark.sql.streaming.minBatchesToRetain} batches; neither needs a job. {@code ops.stream_progress}, one row per
 * micro-batch of every streaming query, keeps {@code --progress-retention-days} days (default 30).
 */
@Command(name = "maintenance", mixinStandardHelpOptions = true, sortOptions = false,
    description = "OPTIMIZE (Z-order user_id where it helps) and VACUUM every table of the lake.")
public final class MaintenanceJob implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(MaintenanceJob.class);
  public static final double SAFE_RETENTION_HOURS = 168;

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin FeatureOptions featureOptions = new FeatureOptions();
  @Option(names = "--date", description = "Only this date's partitions of date-partitioned tables (default: all).")
  String date;
  @Option(names = "--retain-hours", description = "VACUUM retention in hours (default 168).")
  Double retainHours;
  @Option(names = "--allow-short-retention", description = "Allow a retention under 168 hours.")
  boolean allowShort;
  @Option(names = "--no-vacuum", description = "OPTIMIZE only.")
  boolean noVacuum;
  @Option(names = "--no-optimize", description = "VACUUM only (after an erasure).")
  boolean noOptimize;
  @Option(names = "--progress-retention-days", description = "Days of ops.stream_progress to keep, 0 for all "
      + "(default 30).")
  int progressRetentionDays = 30;

  /** @param progressRetentionDays days of ops.stream_progress kept (rows of earlier dates are deleted), 0: all */
  public record Config(LakeLayout lake, FeatureDefinitions definitions, LocalDate date, double retainHours,
      boolean optimize, boolean vacuum, int progressRetentionDays) {

    public Config(LakeLayout lake, FeatureDefinitions definitions, LocalDate date, double retainHours,
        boolean optimize, boolean vacuum) {
      this(lake, definitions, date, retainHours, optimize, vacuum, 30);
    }
  }

  /** One table: files before, after OPTIMIZE, and after VACUUM (live files; VACUUM removes unreferenced ones). */
  public record TableResult(String path, long filesBefore, long filesAfter, boolean zOrdered) {}

  public static void main(String[] args) {
    JobRunner.main(new MaintenanceJob(), args);
  }

  @Override
  public Integer call() {
    Settings s = Settings.fromEnvironment();
    double retain = retainHours == null ? SAFE_RETENTION_HOURS : retainHours;
    if (retain < SAFE_RETENTION_HOURS && !allowShort) {
      throw UserError.of("--retain-hours " + retain + " is under Delta's safe minimum of 168 hours: files that "
          + "running readers or streaming queries still need could be deleted", "Use 168 or more, or add "
          + "--allow-short-retention when nothing reads the lake (an erasure that must take effect now)");
    }
    if (progressRetentionDays < 0) {
      throw UserError.badArgument("--progress-retention-days", String.valueOf(progressRetentionDays), "0 or more");
    }
    Config c = new Config(lakeOptions.layout(s), featureOptions.definitions(s),
        date == null ? null : DateRangeOptions.parse("--date", date), retain, !noOptimize, !noVacuum,
        progressRetentionDays);
    SparkSession spark = SparkSessions.create("recsys maintenance", LakeAccess.s3aSettings(lakeOptions.s3Endpoint(s)));
    LakeAccess.check(spark, c.lake().root());
    for (TableResult r : run(spark, c)) {
      System.out.printf("%-60s files %,6d -> %,6d%s%n", r.path(), r.filesBefore(), r.filesAfter(),
          r.zOrdered() ? "  (Z-ordered by user_id)" : "");
    }
    return 0;
  }

  /** Every table of the layout, of the definitions and every training set (those that exist are kept). */
  public static List<String> tables(SparkSession spark, LakeLayout lake, FeatureDefinitions defs) {
    List<String> out = new ArrayList<>(List.of(lake.bronzeEvents(), lake.bronzeQuarantine(), lake.silverEvents(),
        GoldFeaturesJob.table(lake, "user"), GoldFeaturesJob.table(lake, "item"),
        Recommendations.recommendationsTable(lake), Recommendations.similarItemsTable(lake),
        lake.root() + "/gold/als_user_ids", lake.root() + "/gold/als_item_ids"));
    defs.views().keySet().forEach(v -> out.add(lake.features(v)));
    out.addAll(TrainingSetJob.all(spark, lake));
    out.add(lake.opsErasedUsers());
    out.add(lake.opsErasureAudit());
    out.add(lake.opsStreamProgress());
    return out;
  }

  public static List<TableResult> run(SparkSession spark, Config c) {
    if (c.retainHours() < SAFE_RETENTION_HOURS) {
      spark.conf().set("spark.databricks.delta.retentionDurationCheck.enabled", "false");
    }
    // VACUUM lists files with this many tasks (Spark's default, 10,000, took about 18 s per small table on 2
    // cores); a few per core is plenty unless the user set it for a huge lake.
    String listing = "spark.sql.sources.parallelPartitionDiscovery.parallelism";
    if (!spark.conf().contains(listing) || spark.conf().get(listing).equals("10000")) {
      spark.conf().set(listing, String.valueOf(Math.max(8, spark.sparkContext().defaultParallelism() * 4)));
    }
    String progress = c.lake().opsStreamProgress();
    if (c.progressRetentionDays() > 0 && DeltaTable.isDeltaTable(spark, progress)) {
      // whole date partitions: Delta drops their files from the log without rewriting any
      spark.sparkContext().setJobDescription("maintenance: ops.stream_progress retention");
      DeltaTable.forPath(spark, progress).delete("date < date_sub(current_date(), " + c.progressRetentionDays() + ")");
    }
    List<TableResult> out = new ArrayList<>();
    for (String path : tables(spark, c.lake(), c.definitions())) {
      if (!DeltaTable.isDeltaTable(spark, path)) {
        continue;
      }
      spark.sparkContext().setJobDescription("maintenance " + path);
      DeltaTable t = DeltaTable.forPath(spark, path);
      Row detail = spark.sql("DESCRIBE DETAIL delta.`" + path + "`").select("numFiles", "partitionColumns").first();
      long before = detail.getLong(0);
      List<String> partitions = detail.getList(1);
      var optimize = t.optimize();
      if (c.date() != null && partitions.contains("event_date")) {
        optimize = optimize.where("event_date = '" + c.date() + "'");
      } else if (c.date() != null && partitions.contains("as_of_date")) {
        optimize = optimize.where("as_of_date = '" + c.date() + "'");
      } else if (c.date() != null && partitions.contains("date")) {
        optimize = optimize.where("date = '" + c.date() + "'");
      }
      boolean zorder = c.optimize()
          && (path.equals(c.lake().silverEvents()) || path.equals(c.lake().bronzeEvents()));
      if (zorder) {
        optimize.executeZOrderBy("user_id");
      } else if (c.optimize()) {
        optimize.executeCompaction();
      }
      if (c.vacuum()) {
        t.vacuum(c.retainHours());
      }
      TableResult r = new TableResult(path, before, files(spark, path), zorder);
      LOG.info("maintenance {}", r);
      out.add(r);
    }
    return out;
  }

  static long files(SparkSession spark, String path) {
    Row d = spark.sql("DESCRIBE DETAIL delta.`" + path + "`").select("numFiles").first();
    return d.getLong(0);
  }
}
