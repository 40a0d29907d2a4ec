package io.recsys.batch.als;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.mllib.evaluation.RankingMetrics;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import scala.Tuple2;

/**
 * Top-k ranking quality of recommendations against held-out interactions, with Spark MLlib's
 * {@link RankingMetrics} (binary relevance): precision@k, recall@k, NDCG@k and MAP@k (average precision divided
 * by min(k, |relevant|)), averaged over the users that have held-out items; plus catalogue coverage, the share
 * of the catalogue that appears in anyone's top k.
 *
 * <p>Inputs: {@code recommended} (user_id, items: array of item ids, best first) and {@code relevant} (user_id,
 * items: array). Users without held-out items are not scored; users with held-out items but no recommendations
 * score zero. Cost: one join by user_id; the metrics run on an RDD of per-user pairs.
 */
public final class RankingEvaluation {

  private RankingEvaluation() {}

  /** The figures of one model at one k. */
  public record Metrics(int k, long users, double precision, double recall, double ndcg, double map,
      double coverage) {}

  public static Metrics evaluate(Dataset<Row> recommended, Dataset<Row> relevant, int k, long catalogueSize) {
    Dataset<Row> pairs = relevant.select(col("user_id"), col("items").as("truth"))
        .join(recommended.select(col("user_id"), col("items").as("predicted")), "user_id", "left");
    JavaRDD<Tuple2<List<String>, List<String>>> rdd = pairs.javaRDD().map(r -> {
      List<String> predicted = r.isNullAt(r.fieldIndex("predicted")) ? List.of() : r.getList(r.fieldIndex("predicted"));
      List<String> top = new ArrayList<>(predicted.subList(0, Math.min(k, predicted.size())));
      return new Tuple2<>(top, new ArrayList<>(r.<String>getList(r.fieldIndex("truth"))));
    });
    long users = rdd.count();
    if (users == 0) {
      return new Metrics(k, 0, 0, 0, 0, 0, coverage(recommended, k, catalogueSize));
    }
    RankingMetrics<String> m = RankingMetrics.of(rdd);
    return new Metrics(k, users, m.precisionAt(k), m.recallAt(k), m.ndcgAt(k), m.meanAveragePrecisionAt(k),
        coverage(recommended, k, catalogueSize));
  }

  static double coverage(Dataset<Row> recommended, int k, long catalogueSize) {
    if (catalogueSize == 0) {
      return 0;
    }
    long distinct = recommended
        .select(explode(org.apache.spark.sql.functions.slice(col("items"), 1, k)).as("item"))
        .distinct().count();
    return (double) distinct / catalogueSize;
  }
}
