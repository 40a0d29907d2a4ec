package io.recsys.batch.als;

import static org.apache.spark.sql.functions.array_except;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_list;
import static org.apache.spark.sql.functions.collect_set;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.slice;
import static org.apache.spark.sql.functions.sum;

import io.recsys.batch.als.RankingEvaluation.Metrics;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.ml.recommendation.ALS;
import org.apache.spark.ml.recommendation.ALSModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;

/**
 * Fits implicit-feedback ALS on the training part of a temporal hold-out and scores it, beside a popularity
 * baseline, on the held-out part. Pure: frames in, model and metrics out; {@link AlsJob} reads, writes and gates.
 *
 * <p>Hold-out: for each user with at least {@code minInteractions} (user, item) pairs, the most recent
 * {@code holdout} share of them (by last interaction time, at least one) is held out; everything else trains.
 * Recommendations exclude the items a user already has in training, for ALS and for the baseline alike.
 */
public final class AlsTrainer {

  private AlsTrainer() {}

  /** One point of the hyper-parameter search. */
  public record Params(int rank, double regParam, double alpha, int maxIter) {}

  /**
   * The split, with int ids: train (user, item, confidence), test (user_id string, items array of item ids), and
   * each user's training items (user, seen), which every candidate and the baseline leave out, with the largest
   * such set's size.
   */
  public record Split(Dataset<Row> train, Dataset<Row> relevant, long testUsers, Dataset<Row> seen, int maxSeen) {

    public void unpersist() {
      train.unpersist();
      relevant.unpersist();
      seen.unpersist();
    }
  }

  public record Scored(Params params, ALSModel model, Metrics metrics) {}

  /**
   * @param interactions (user_id, item_id, confidence, last_time) with int columns user and item added
   */
  public static Split split(Dataset<Row> interactions, double holdout, int minInteractions) {
    var byUser = Window.partitionBy("user").orderBy(col("last_time").desc(), col("item").desc());
    Dataset<Row> ranked = interactions
        .withColumn("_n", count(lit(1)).over(Window.partitionBy("user")))
        .withColumn("_r", row_number().over(byUser));
    // rank 1 = most recent; hold out ceil(n * holdout) of users with enough history
    org.apache.spark.sql.Column held = col("_n").geq(minInteractions)
        .and(col("_r").leq(expr("ceil(_n * " + holdout + ")")));
    Dataset<Row> train = ranked.filter(org.apache.spark.sql.functions.not(held)).select("user", "item", "confidence", "user_id", "item_id");
    Dataset<Row> relevant = ranked.filter(held).groupBy("user", "user_id").agg(collect_list("item_id").as("items"));
    train = train.persist();
    relevant = relevant.persist();
    Dataset<Row> seen = train.groupBy("user").agg(collect_set("item_id").as("seen")).persist();
    Row most = seen.agg(expr("max(size(seen))")).first();
    return new Split(train, relevant, relevant.count(), seen, most.isNullAt(0) ? 0 : most.getInt(0));
  }

  /**
   * Fits one candidate. Users and items are cut into as many blocks as the cluster has task slots (Spark's
   * default parallelism) rather than MLlib's fixed 10: every iteration runs two stages of one task per block,
   * and on a small cluster the surplus blocks only add task overhead and shuffle files (measured by
   * {@code ./run bench batch}, see BENCHMARKS.md). A large cluster gets one block per core. The Spark conf
   * {@code spark.recsys.als.blocks} sets the number instead.
   */
  public static ALSModel fit(Dataset<Row> train, Params p, long seed) {
    var sc = train.sparkSession().sparkContext();
    int blocks = sc.conf().contains(BLOCKS_CONF) ? sc.conf().getInt(BLOCKS_CONF, 10)
        : blocks(sc.defaultParallelism());
    return new ALS().setImplicitPrefs(true).setRank(p.rank()).setRegParam(p.regParam()).setAlpha(p.alpha())
        .setMaxIter(p.maxIter()).setUserCol("user").setItemCol("item").setRatingCol("confidence")
        .setNumUserBlocks(blocks).setNumItemBlocks(blocks)
        .setColdStartStrategy("drop").setNonnegative(false).setSeed(seed).fit(train);
  }

  static final String BLOCKS_CONF = "spark.recsys.als.blocks";

  /**
   * Which BLAS MLlib's ALS runs on in this JVM, as MLlib chooses it: a native library (libblas.so.3 and
   * liblapack.so.3, e.g. OpenBLAS) when one loads, else its Java code, whose first fit in a JVM runs largely
   * before the JIT has compiled it (measured in BENCHMARKS.md, Batch).
   */
  public static String blas() {
    try {
      dev.ludovic.netlib.blas.NativeBLAS.getInstance();
      return "native (libblas.so.3)";
    } catch (Throwable e) {
      return "Java (" + dev.ludovic.netlib.blas.JavaBLAS.getInstance().getClass().getSimpleName()
          + "; no native libblas.so.3 loaded: install OpenBLAS for faster fits)";
    }
  }

  /** ALS blocks for a number of task slots: one per slot, at least 1 and at most 200. */
  static int blocks(int slots) {
    return Math.max(1, Math.min(200, slots));
  }

  /**
   * Top k per test user from a model, without the user's training items: (user_id, items array of item ids).
   * Asks the model for k plus the user's training-set size (capped at 500) so that enough remain.
   */
  public static Dataset<Row> recommend(ALSModel model, Split split, Dataset<Row> itemIds, int k) {
    Dataset<Row> users = split.relevant().select("user").distinct();
    Dataset<Row> recs = model.recommendForUserSubset(users, k + Math.min(500, split.maxSeen()))
        .selectExpr("user", "explode(recommendations) as r")
        .select(col("user"), col("r.item").as("item"), col("r.rating").as("score"))
        .join(itemIds.select(col("id").as("item"), col("key").as("item_id")), "item")
        .groupBy("user")
        .agg(expr("transform(array_sort(collect_list(struct(-score as s, item_id as i))), x -> x.i)").as("ranked"));
    return recs.join(split.seen(), "user", "left")
        .join(split.relevant().select("user", "user_id"), "user")
        .select(col("user_id"), slice(array_except(col("ranked"),
            expr("coalesce(seen, array())")), 1, k).as("items"));
  }

  /** The k most popular training items (by summed confidence) each user has not interacted with. */
  public static Dataset<Row> popularity(Split split, int k) {
    List<String> top = new ArrayList<>();
    for (Row r : split.train().groupBy("item_id").agg(sum("confidence").as("c"))
        .orderBy(col("c").desc(), col("item_id")).limit(Math.min(100_000, k + split.maxSeen())).collectAsList()) {
      top.add(r.getString(0));
    }
    return split.relevant().select("user", "user_id").join(split.seen(), "user", "left")
        .select(col("user_id"), slice(array_except(lit(top.toArray(String[]::new)),
            expr("coalesce(seen, array())")), 1, k).as("items"));
  }
}
