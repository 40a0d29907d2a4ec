package io.recsys.batch.als;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.delta.tables.DeltaTable;
import io.recsys.batch.als.AlsTrainer.Params;
import io.recsys.batch.als.AlsTrainer.Scored;
import io.recsys.batch.als.AlsTrainer.Split;
import io.recsys.batch.als.RankingEvaluation.Metrics;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.UserError;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.recommendation.ALSModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nightly ALS run for one as-of date: interactions from silver.events ({@link Interactions}), stable ids
 * ({@link IdMapping}), a temporal hold-out, a small hyper-parameter search ({@link AlsTrainer}), evaluation of
 * each candidate, of a popularity baseline and of the promoted model on the same hold-out
 * ({@link RankingEvaluation}), then {@code models/als/<version>/} (model/ and metrics.json) and promotion when
 * NDCG@k is not worse than the promoted model's; a promoted model publishes its top k per user and similar items
 * ({@link Recommendations}). The version is {@code v<yyyyMMdd>} of the as-of date, so a
 * re-run replaces that version. {@code models/als/PROMOTED.json} names the promoted version and the earlier ones,
 * for {@link #rollback}.
 */
public final class AlsJob {

  private static final Logger LOG = LoggerFactory.getLogger(AlsJob.class);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public record Config(LakeLayout lake, LocalDate asOf, List<Params> grid, int k, double holdout,
      int minInteractions, Duration halfLife, long seed) {

    public static Config defaults(LakeLayout lake, LocalDate asOf) {
      return new Config(lake, asOf, List.of(new Params(32, 0.05, 10, 10), new Params(64, 0.05, 10, 10),
          new Params(32, 0.5, 40, 10)), 10, 0.2, 5, Duration.ofDays(90), 42);
    }
  }

  /** Items per user in gold/recommendations, and neighbours per item in gold/similar_items. */
  public static final int PUBLISHED_K = 20;

  /**
   * What a run decided; {@code publishedUsers} is 0 when the model was not promoted (nothing published).
   * {@code skipped} says why no model was trained (too little data up to the date), else null; then the metrics
   * are null.
   */
  public record Outcome(String version, Params best, Metrics candidate, Metrics popularity, Metrics promotedBefore,
      boolean promoted, List<Map<String, Object>> search, long publishedUsers, String skipped) {}

  private AlsJob() {}

  public static String modelsRoot(LakeLayout lake) {
    return lake.root() + "/models/als";
  }

  public static Outcome run(SparkSession spark, Config c) throws IOException {
    LakeLayout lake = c.lake();
    if (!DeltaTable.isDeltaTable(spark, lake.silverEvents())) {
      throw UserError.of("No silver.events table at " + lake.silverEvents(),
          "Run the silver job first (./run job silver --lake ... --date ...)");
    }
    spark.sparkContext().setJobDescription("als " + c.asOf());
    var end = c.asOf().plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    Dataset<Row> events = spark.read().format("delta").load(lake.silverEvents())
        .filter(col("event_date").leq(java.sql.Date.valueOf(c.asOf())));
    Dataset<Row> interactions = Interactions.weighted(events, Interactions.DEFAULT_WEIGHTS, c.halfLife(), end)
        .persist();
    Dataset<Row> userIds = IdMapping.extend(spark, lake.root() + "/gold/als_user_ids",
        interactions.select(col("user_id").as("key")));
    Dataset<Row> itemIds = IdMapping.extend(spark, lake.root() + "/gold/als_item_ids",
        interactions.select(col("item_id").as("key")));
    Dataset<Row> withIds = interactions
        .join(userIds.select(col("key").as("user_id"), col("id").as("user")), "user_id")
        .join(itemIds.select(col("key").as("item_id"), col("id").as("item")), "item_id");
    Split split = AlsTrainer.split(withIds, c.holdout(), c.minInteractions());
    String version = "v" + c.asOf().toString().replace("-", "");
    if (split.testUsers() == 0) {
      // a date with (almost) no history: not a failure; the promoted model, if any, stays
      String reason = "no user has " + c.minInteractions() + " or more items up to " + c.asOf()
          + ", so there is nothing to train and evaluate a model on";
      LOG.warn("als {}: no model trained: {}", version, reason);
      Map<String, Object> metrics = new LinkedHashMap<>();
      metrics.put("version", version);
      metrics.put("as_of", c.asOf().toString());
      metrics.put("trained", false);
      metrics.put("promoted", false);
      metrics.put("reason", reason);
      String root = modelsRoot(lake);
      writeMetrics(new Path(root).getFileSystem(spark.sparkContext().hadoopConfiguration()), root, version, metrics);
      interactions.unpersist();
      split.unpersist();
      return new Outcome(version, null, null, null, null, false, List.of(), 0, reason);
    }
    long catalogue = split.train().select("item_id").distinct().count();

    List<Map<String, Object>> search = new ArrayList<>();
    Scored best = null;
    LOG.info("als {}: MLlib's BLAS on the driver: {}", version, AlsTrainer.blas());
    for (Params p : c.grid()) {
      long t0 = System.nanoTime();
      ALSModel model = AlsTrainer.fit(split.train(), p, c.seed());
      double fitSeconds = (System.nanoTime() - t0) / 1e9;
      Metrics m = RankingEvaluation.evaluate(AlsTrainer.recommend(model, split, itemIds, c.k()), split.relevant(),
          c.k(), catalogue);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("params", p);
      row.put("fit_seconds", fitSeconds);
      row.put("metrics", m);
      search.add(row);
      LOG.info("als {}: {} in {} s", p, m, String.format("%.1f", fitSeconds));
      if (best == null || m.ndcg() > best.metrics().ndcg()) {
        best = new Scored(p, model, m);
      }
    }
    Metrics popularity = RankingEvaluation.evaluate(AlsTrainer.popularity(split, c.k()), split.relevant(), c.k(),
        catalogue);

    String root = modelsRoot(lake);
    FileSystem fs = new Path(root).getFileSystem(spark.sparkContext().hadoopConfiguration());
    Pointer pointer = Pointer.read(fs, root);
    Metrics promotedBefore = null;
    if (pointer != null && !pointer.version().equals(version)) {
      ALSModel promotedModel = ALSModel.load(root + "/" + pointer.version() + "/model");
      promotedBefore = RankingEvaluation.evaluate(AlsTrainer.recommend(promotedModel, split, itemIds, c.k()),
          split.relevant(), c.k(), catalogue);
    }
    boolean promote = promotedBefore == null || best.metrics().ndcg() >= promotedBefore.ndcg();

    best.model().write().overwrite().save(root + "/" + version + "/model");
    long published = 0;
    if (promote) {
      Dataset<Row> purchases = events.filter(col("event_type").equalTo("purchase")
          .and(col("event_time").lt(java.sql.Timestamp.from(end))).and(col("item_id").isNotNull()))
          .select("user_id", "item_id");
      published = Recommendations.publish(spark, lake, version, c.asOf(), best.model(), userIds, itemIds,
          purchases, interactions, Recommendations.itemCategories(events), PUBLISHED_K, PUBLISHED_K);
    }
    Outcome outcome = new Outcome(version, best.params(), best.metrics(), popularity, promotedBefore, promote,
        search, published, null);
    Map<String, Object> metrics = new LinkedHashMap<>();
    metrics.put("version", version);
    metrics.put("as_of", c.asOf().toString());
    metrics.put("trained", true);
    metrics.put("k", c.k());
    metrics.put("holdout", Map.of("share", c.holdout(), "min_interactions", c.minInteractions(),
        "test_users", split.testUsers(), "catalogue", catalogue));
    metrics.put("best_params", best.params());
    metrics.put("als", best.metrics());
    metrics.put("popularity", popularity);
    metrics.put("promoted_before", promotedBefore == null ? null
        : Map.of("version", pointer.version(), "metrics", promotedBefore));
    metrics.put("promoted", promote);
    metrics.put("published_users", published);
    metrics.put("search", search);
    writeMetrics(fs, root, version, metrics);
    if (promote) {
      List<String> history = new ArrayList<>();
      if (pointer != null) {
        history.addAll(pointer.history());
        if (!pointer.version().equals(version)) {
          history.add(0, pointer.version());
        }
      }
      new Pointer(version, history).write(fs, root);
      LOG.info("als {}: promoted (NDCG@{} {} vs {})", version, c.k(), best.metrics().ndcg(),
          promotedBefore == null ? "none" : promotedBefore.ndcg());
    } else {
      LOG.warn("als {}: NOT promoted: NDCG@{} {} is worse than the promoted {}'s {}", version, c.k(),
          best.metrics().ndcg(), pointer.version(), promotedBefore.ndcg());
    }
    interactions.unpersist();
    split.unpersist();
    return outcome;
  }

  private static void writeMetrics(FileSystem fs, String root, String version, Map<String, Object> metrics)
      throws IOException {
    try (OutputStream out = fs.create(new Path(root + "/" + version + "/metrics.json"), true)) {
      JSON.writeValue(out, metrics);
    }
  }

  /** Promotes the version promoted before the current one; returns it. */
  public static String rollback(SparkSession spark, LakeLayout lake) throws IOException {
    String root = modelsRoot(lake);
    FileSystem fs = new Path(root).getFileSystem(spark.sparkContext().hadoopConfiguration());
    Pointer p = Pointer.read(fs, root);
    if (p == null || p.history().isEmpty()) {
      throw UserError.of("Nothing to roll back to: " + (p == null ? "no model is promoted"
          : "version " + p.version() + " is the first promoted"), "Train and promote another version first");
    }
    Pointer back = new Pointer(p.history().get(0), p.history().subList(1, p.history().size()));
    back.write(fs, root);
    LOG.warn("als: rolled back from {} to {}", p.version(), back.version());
    return back.version();
  }

  /** The promoted version and the ones promoted before it, newest first. */
  public record Pointer(String version, List<String> history) {

    static Pointer read(FileSystem fs, String root) throws IOException {
      Path file = new Path(root + "/PROMOTED.json");
      if (!fs.exists(file)) {
        return null;
      }
      try (InputStream in = fs.open(file)) {
        return JSON.readValue(in, Pointer.class);
      }
    }

    void write(FileSystem fs, String root) throws IOException {
      Path tmp = new Path(root + "/PROMOTED.json.tmp");
      try (OutputStream out = fs.create(tmp, true)) {
        JSON.writeValue(out, this);
      }
      Path file = new Path(root + "/PROMOTED.json");
      fs.delete(file, false);
      if (!fs.rename(tmp, file)) {
        throw new IOException("cannot rename " + tmp + " to " + file);
      }
    }
  }

  /** The promoted version, or null. */
  public static String promoted(SparkSession spark, LakeLayout lake) throws IOException {
    String root = modelsRoot(lake);
    Pointer p = Pointer.read(new Path(root).getFileSystem(spark.sparkContext().hadoopConfiguration()), root);
    return p == null ? null : p.version();
  }
}
