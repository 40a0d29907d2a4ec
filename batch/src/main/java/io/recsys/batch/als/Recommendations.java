package io.recsys.batch.als;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_set;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;

import io.delta.tables.DeltaTable;
import io.recsys.features.Entity;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.UserError;
import io.recsys.spark.features.FeatureAggregations;
import io.recsys.spark.features.OnlineWrite;
import java.sql.Timestamp;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.PriorityQueue;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.recommendation.ALSModel;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * What a promoted model publishes, versioned with it: {@code gold/recommendations} (user_id, items, scores,
 * categories: the top k, best first, without the items the user already bought), {@code gold/similar_items}
 * (item_id, items, scores: the n nearest items by cosine of the item factors) and {@code gold/popular_items} (the
 * popularity fallback). All are partitioned by model_version and replaced per version, so publishing a version
 * again gives the same tables; {@link #pushOnline} puts a version in the online store.
 *
 * <p>Cost: ALS's recommendForAllUsers (a blocked cross product of factors); similar items compare every item with
 * every other one on the executors, with the normalized factor matrix broadcast (items x rank floats).
 */
public final class Recommendations {

  private Recommendations() {}

  public static String recommendationsTable(LakeLayout lake) {
    return lake.root() + "/gold/recommendations";
  }

  public static String similarItemsTable(LakeLayout lake) {
    return lake.root() + "/gold/similar_items";
  }

  /**
   * Top k per user of the model, minus purchased items: (user_id, items, scores, categories), categories parallel
   * to items (null where an item has none).
   */
  public static Dataset<Row> topK(ALSModel model, Dataset<Row> userIds, Dataset<Row> itemIds, Dataset<Row> purchases,
      Dataset<Row> itemCategories, int k) {
    Dataset<Row> bought = purchases.groupBy("user_id").agg(collect_set("item_id").as("bought"));
    long most = bought.isEmpty() ? 0 : bought.agg(expr("max(size(bought))")).first().getInt(0);
    Dataset<Row> scored = model.recommendForAllUsers((int) Math.min(k + most, 1000))
        .selectExpr("user", "posexplode(recommendations) as (pos, r)")
        .select(col("user"), col("pos"), col("r.item").as("item"), col("r.rating").as("score"))
        .join(userIds.select(col("id").as("user"), col("key").as("user_id")), "user")
        .join(itemIds.select(col("id").as("item"), col("key").as("item_id")), "item")
        .join(purchases.select(col("user_id").as("_bu"), col("item_id").as("_bi")).distinct(),
            col("user_id").equalTo(col("_bu")).and(col("item_id").equalTo(col("_bi"))), "left_anti")
        .join(itemCategories, "item_id", "left");
    return scored.groupBy("user_id")
        .agg(expr("slice(array_sort(collect_list(struct(pos, item_id, score, category))), 1, " + k + ") as top"))
        .select(col("user_id"), expr("transform(top, x -> x.item_id)").as("items"),
            expr("transform(top, x -> cast(x.score as double))").as("scores"),
            expr("transform(top, x -> x.category)").as("categories"));
  }

  /** Each item's category: the one of its latest event that has one. (item_id, category) */
  public static Dataset<Row> itemCategories(Dataset<Row> events) {
    return events.filter(col("item_id").isNotNull().and(col("category").isNotNull()))
        .groupBy("item_id").agg(expr("max_by(category, event_time)").as("category"));
  }

  /**
   * The popularity list, the fallback for users the model does not know: the k items with the most weighted
   * interactions (the same time-decayed weights ALS trains on), scores as each item's share of the top item's
   * weight. One row: (items, scores, categories).
   */
  public static Dataset<Row> popular(Dataset<Row> interactions, Dataset<Row> itemCategories, int k) {
    Dataset<Row> top = interactions.groupBy("item_id").agg(expr("sum(confidence)").as("w"))
        .orderBy(col("w").desc(), col("item_id")).limit(k)
        .join(itemCategories, "item_id", "left");
    return top.agg(expr("array_sort(collect_list(struct(-w as nw, item_id, w, category))) as top"))
        .select(expr("transform(top, x -> x.item_id)").as("items"),
            expr("transform(top, x -> cast(x.w / top[0].w as double))").as("scores"),
            expr("transform(top, x -> x.category)").as("categories"));
  }

  public static String popularTable(LakeLayout lake) {
    return lake.root() + "/gold/popular_items";
  }

  static final StructType SIMILAR = new StructType().add("item_id", DataTypes.StringType)
      .add("items", DataTypes.createArrayType(DataTypes.StringType))
      .add("scores", DataTypes.createArrayType(DataTypes.DoubleType));

  /** The n most similar items of each item (cosine of the ALS item factors), most similar first. */
  public static Dataset<Row> similarItems(SparkSession spark, ALSModel model, Dataset<Row> itemIds, int n) {
    List<Row> factors = model.itemFactors().join(itemIds.select(col("id"), col("key")), "id")
        .select("key", "features").collectAsList();
    String[] keys = new String[factors.size()];
    float[][] unit = new float[factors.size()][];
    for (int i = 0; i < factors.size(); i++) {
      keys[i] = factors.get(i).getString(0);
      List<Float> f = factors.get(i).getList(1);
      double norm = 0;
      for (float x : f) {
        norm += x * x;
      }
      norm = Math.sqrt(norm);
      unit[i] = new float[f.size()];
      for (int j = 0; j < f.size(); j++) {
        unit[i][j] = norm == 0 ? 0 : (float) (f.get(j) / norm);
      }
    }
    var jsc = new org.apache.spark.api.java.JavaSparkContext(spark.sparkContext());
    Broadcast<float[][]> b = jsc.broadcast(unit);
    Broadcast<String[]> names = jsc.broadcast(keys);
    List<Integer> indexes = new ArrayList<>();
    for (int i = 0; i < keys.length; i++) {
      indexes.add(i);
    }
    int slices = Math.max(1, spark.sparkContext().defaultParallelism() * 2);
    return spark.createDataset(indexes, Encoders.INT()).repartition(slices)
        .flatMap((FlatMapFunction<Integer, Row>) i -> neighbours(i, b.value(), names.value(), n),
            Encoders.row(SIMILAR));
  }

  private static Iterator<Row> neighbours(int i, float[][] unit, String[] keys, int n) {
    PriorityQueue<double[]> best = new PriorityQueue<>(Comparator.comparingDouble(a -> a[1]));
    for (int j = 0; j < unit.length; j++) {
      if (j == i) {
        continue;
      }
      double dot = 0;
      for (int d = 0; d < unit[i].length; d++) {
        dot += unit[i][d] * unit[j][d];
      }
      if (best.size() < n) {
        best.add(new double[] {j, dot});
      } else if (dot > best.peek()[1]) {
        best.poll();
        best.add(new double[] {j, dot});
      }
    }
    List<double[]> sorted = new ArrayList<>(best);
    sorted.sort((a, c) -> Double.compare(c[1], a[1]));
    String[] items = new String[sorted.size()];
    Double[] scores = new Double[sorted.size()];
    for (int s = 0; s < sorted.size(); s++) {
      items[s] = keys[(int) sorted.get(s)[0]];
      scores[s] = sorted.get(s)[1];
    }
    return List.of(RowFactory.create(keys[i], items, scores)).iterator();
  }

  /**
   * Writes the three tables for a version (replacing that version's partition): recommendations, similar items
   * and the popularity list. Returns the users published.
   */
  public static long publish(SparkSession spark, LakeLayout lake, String version, LocalDate asOf, ALSModel model,
      Dataset<Row> userIds, Dataset<Row> itemIds, Dataset<Row> purchases, Dataset<Row> interactions,
      Dataset<Row> itemCategories, int k, int similarN) {
    Dataset<Row> recs = topK(model, userIds, itemIds, purchases, itemCategories, k);
    write(spark, recs, recommendationsTable(lake), version, asOf);
    write(spark, similarItems(spark, model, itemIds, similarN), similarItemsTable(lake), version, asOf);
    write(spark, popular(interactions, itemCategories, k), popularTable(lake), version, asOf);
    return spark.read().format("delta").load(recommendationsTable(lake))
        .filter(col("model_version").equalTo(version)).count();
  }

  private static void write(SparkSession spark, Dataset<Row> rows, String path, String version, LocalDate asOf) {
    var writer = rows.withColumn("as_of_date", lit(java.sql.Date.valueOf(asOf)))
        .withColumn("model_version", lit(version))
        .write().format("delta").mode(SaveMode.Overwrite).option("mergeSchema", "true")
        .partitionBy("model_version");
    if (DeltaTable.isDeltaTable(spark, path)) {
      writer = writer.option("replaceWhere", "model_version = '" + version + "'");
    }
    writer.save(path);
  }

  /** The reserved user_id under which the popularity list is published in the user view. */
  public static final String POPULAR_USER = "__popular__";
  /** The views a version is published to, in features.yaml. */
  public static final String USER_VIEW = "user_recommendations";
  public static final String ITEM_VIEW = "item_similar_items";

  /** What {@link #pushOnline} wrote: rows per view. */
  public record Online(long users, long items) {}

  /**
   * Publishes a version's tables to the online store (Feast layout, views {@value #USER_VIEW} with the popularity
   * list under {@value #POPULAR_USER}, and {@value #ITEM_VIEW}) and appends the same rows to the views' offline
   * logs ({@code features/<view>}, Feast's batch source). The rows carry the publication time as their event
   * time, so the newest publication wins, also when a rollback publishes an older version again.
   */
  public static Online pushOnline(SparkSession spark, LakeLayout lake, FeatureDefinitions defs, String redis,
      String version) {
    Timestamp now = new Timestamp(System.currentTimeMillis());
    Column ofVersion = col("model_version").equalTo(version);
    Dataset<Row> users = spark.read().format("delta").load(recommendationsTable(lake)).filter(ofVersion)
        .select("user_id", "items", "scores", "categories", "model_version");
    if (DeltaTable.isDeltaTable(spark, popularTable(lake))) {
      users = users.unionByName(spark.read().format("delta").load(popularTable(lake)).filter(ofVersion)
          .select(lit(POPULAR_USER).as("user_id"), col("items"), col("scores"), col("categories"),
              col("model_version")));
    }
    Dataset<Row> items = spark.read().format("delta").load(similarItemsTable(lake)).filter(ofVersion)
        .select("item_id", "items", "scores", "model_version");
    long u = push(lake, defs, redis, defs.views().get(USER_VIEW), users, now);
    long i = push(lake, defs, redis, defs.views().get(ITEM_VIEW), items, now);
    return new Online(u, i);
  }

  private static long push(LakeLayout lake, FeatureDefinitions defs, String redis, FeatureView view,
      Dataset<Row> rows, Timestamp now) {
    if (view == null) {
      throw UserError.of("The definitions file has no view " + USER_VIEW + " or " + ITEM_VIEW,
          "Use a features.yaml with the model views (the built-in one has them)");
    }
    Entity entity = defs.entities().get(view.entity());
    Dataset<Row> out = rows.withColumn(FeatureAggregations.EVENT_TIMESTAMP, lit(now)).persist();
    try {
      OnlineWrite.Stats stats = new OnlineWrite(redis, defs.project(), entity, view, 500).run(out);
      out.withColumn("created_timestamp", lit(now)).write().format("delta").mode(SaveMode.Append)
          .option("mergeSchema", "true").save(lake.features(view.name()));
      return stats.written();
    } finally {
      out.unpersist();
    }
  }
}
