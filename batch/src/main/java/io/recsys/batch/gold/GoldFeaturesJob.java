package io.recsys.batch.gold;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import io.delta.tables.DeltaTable;
import io.recsys.features.Entity;
import io.recsys.features.Feature;
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
import io.recsys.spark.features.OnlineWrite;
import io.recsys.spark.features.TopK;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Column;
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
 * The long-horizon features of an as-of date: every nightly view of the definitions (whole days up to the end of
 * the date, {@link FeatureAggregations#computeAsOf}) from silver.events, then
 * <ul>
 *   <li>the view's offline log {@code features.<view>}: the date's snapshot replaced (event_timestamp = the end of
 *       the date), so training sets join them point in time like the streaming views;</li>
 *   <li>{@code gold.user_features} / {@code gold.item_features}: one row per entity and as-of date with every
 *       nightly view's features as {@code <view>__<feature>}, partitioned by as_of_date and replaced per date;</li>
 *   <li>with {@code --redis}: materialized to the online store in Feast's layout with the streaming job's writer.
 *       An entity without events in a window gets no new row; its old value turns OUTSIDE_MAX_AGE after the
 *       view's TTL.</li>
 * </ul>
 * Idempotent per date.
 */
@Command(name = "gold-features", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Long-horizon (nightly) feature views as of a date: offline log, gold tables, Redis.")
public final class GoldFeaturesJob implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(GoldFeaturesJob.class);

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Option(names = "--date", required = true, description = "As-of date (UTC), yyyy-MM-dd; Airflow passes {{ ds }}.")
  String date;
  @Mixin FeatureOptions featureOptions = new FeatureOptions();
  @Option(names = "--no-materialize", description = "Write the lake only, not Redis (then --redis is not needed).")
  boolean noMaterialize;

  public record Config(LakeLayout lake, LocalDate asOf, String redis, FeatureDefinitions definitions,
      List<FeatureView> views, String s3Endpoint) {}

  /** Per view: entities with a row, and what the online write did (null when not materialized). */
  public record ViewResult(String view, long entities, OnlineWrite.Stats online) {}

  public static void main(String[] args) {
    JobRunner.main(new GoldFeaturesJob(), args);
  }

  @Override
  public Integer call() {
    Settings s = Settings.fromEnvironment();
    FeatureDefinitions defs = featureOptions.definitions(s);
    String redis = noMaterialize ? null : featureOptions.redis(s);
    if (redis != null) {
      FeatureOptions.checkRedis(redis, "Start it, pass --redis host:port, or add --no-materialize");
    }
    Config c = new Config(lakeOptions.layout(s), DateRangeOptions.parse("--date", date), redis, defs,
        featureOptions.views(s, "spark.recsys.gold.views", defs, FeatureView.Schedule.NIGHTLY),
        lakeOptions.s3Endpoint(s));
    SparkSession spark = SparkSessions.create("recsys gold-features", LakeAccess.s3aSettings(c.s3Endpoint()));
    LakeAccess.check(spark, c.lake().root());
    for (ViewResult r : run(spark, c)) {
      System.out.printf("%-18s %,9d entities%s%n", r.view(), r.entities(),
          r.online() == null ? "" : String.format(", %,d written to Redis", r.online().written()));
    }
    return 0;
  }

  public static String table(LakeLayout lake, String entity) {
    return lake.root() + "/gold/" + entity + "_features";
  }

  public static List<ViewResult> run(SparkSession spark, Config c) {
    LakeLayout lake = c.lake();
    if (!DeltaTable.isDeltaTable(spark, lake.silverEvents())) {
      throw UserError.of("No silver.events table at " + lake.silverEvents(), "Run the silver job first");
    }
    TopK.register(spark);
    Instant end = c.asOf().plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    Timestamp endTs = Timestamp.from(end);
    List<ViewResult> out = new ArrayList<>();
    Map<String, List<Dataset<Row>>> byEntity = new LinkedHashMap<>();
    List<Dataset<Row>> cached = new ArrayList<>();
    for (FeatureView view : c.views()) {
      spark.sparkContext().setJobDescription("gold " + view.name() + " as of " + c.asOf());
      Entity entity = c.definitions().entities().get(view.entity());
      long days = view.window().toDays();
      Dataset<Row> events = spark.read().format("delta").load(lake.silverEvents())
          .filter(col("event_date").geq(java.sql.Date.valueOf(c.asOf().minusDays(days - 1)))
              .and(col("event_date").leq(java.sql.Date.valueOf(c.asOf()))));
      Dataset<Row> rows = FeatureAggregations.computeAsOf(events, view, entity, end).persist();
      cached.add(rows);
      String log = lake.features(view.name());
      var writer = rows.withColumn("created_timestamp", lit(endTs)).write().format("delta")
          .mode(SaveMode.Overwrite).option("mergeSchema", "true");
      if (DeltaTable.isDeltaTable(spark, log)) {
        writer = writer.option("replaceWhere", FeatureAggregations.EVENT_TIMESTAMP + " = '" + end + "'");
      }
      writer.save(log);
      OnlineWrite.Stats online = c.redis() == null ? null
          : new OnlineWrite(c.redis(), c.definitions().project(), entity, view, 500).run(rows);
      List<Column> cols = new ArrayList<>();
      cols.add(col(entity.joinKey()));
      for (Feature f : view.features()) {
        cols.add(col(f.name()).as(view.name() + "__" + f.name()));
      }
      byEntity.computeIfAbsent(entity.name(), e -> new ArrayList<>()).add(rows.select(cols.toArray(Column[]::new)));
      ViewResult r = new ViewResult(view.name(), rows.count(), online);
      LOG.info("gold {} as of {}: {}", view.name(), c.asOf(), r);
      out.add(r);
    }
    for (Map.Entry<String, List<Dataset<Row>>> e : byEntity.entrySet()) {
      String key = c.definitions().entities().get(e.getKey()).joinKey();
      Dataset<Row> wide = null;
      for (Dataset<Row> part : e.getValue()) {
        wide = wide == null ? part : wide.join(part, scala.jdk.javaapi.CollectionConverters.asScala(List.of(key))
            .toSeq(), "full_outer");
      }
      String path = table(lake, e.getKey());
      var writer = wide.withColumn("as_of_date", lit(java.sql.Date.valueOf(c.asOf()))).write().format("delta")
          .mode(SaveMode.Overwrite).option("mergeSchema", "true").partitionBy("as_of_date");
      if (DeltaTable.isDeltaTable(spark, path)) {
        writer = writer.option("replaceWhere", "as_of_date = '" + c.asOf() + "'");
      }
      writer.save(path);
    }
    cached.forEach(Dataset::unpersist);
    return out;
  }
}
