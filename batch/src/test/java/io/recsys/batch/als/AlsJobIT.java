package io.recsys.batch.als;

import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.recsys.batch.als.AlsTrainer.Params;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import org.apache.spark.ml.recommendation.ALSModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ALS run on the MovieLens sample kept in the repository (ratings of 25 users): a model and metrics.json
 * beside a popularity baseline, promotion of the first model, a worse model kept out by the gate, a later
 * equal one promoted, and a rollback.
 */
class AlsJobIT {

  static final SparkSession spark = SparkTestSession.get();

  /** silver.events-like rows (the columns the ALS job reads) from MovieLens ratings. */
  static LocalDate movieLensSilver(LakeLayout lake) throws Exception {
    Path ratings = Path.of("..", "data", "samples", "ml-latest-small", "ratings.csv");
    assertThat(ratings).exists();
    Dataset<Row> r = spark.read().option("header", "true").csv(ratings.toString());
    Dataset<Row> silver = r.selectExpr("concat('m', userId) as user_id", "concat('movie-', movieId) as item_id",
        "'rating' as event_type", "cast(rating as double) as rating",
        "timestamp_seconds(cast(timestamp as long)) as event_time")
        .selectExpr("*", "to_date(event_time) as event_date");
    silver.write().format("delta").mode("overwrite").partitionBy("event_date").save(lake.silverEvents());
    return silver.selectExpr("max(event_date)").first().getDate(0).toLocalDate();
  }

  @Test
  void trainsEvaluatesGatesAndRollsBack(@TempDir Path dir) throws Exception {
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    LocalDate last = movieLensSilver(lake);
    Params good = new Params(8, 0.05, 10, 8);
    // rank 1, huge regularization, one iteration: factors near zero, an arbitrary ranking
    Params degenerate = new Params(1, 1000.0, 0.01, 1);

    // nothing promoted yet: even the degenerate model is promoted, with its metrics beside the baseline
    AlsJob.Outcome first = AlsJob.run(spark, config(lake, last, degenerate));
    assertThat(first.promoted()).isTrue();
    assertThat(first.promotedBefore()).isNull();
    Path version = dir.resolve("models/als/" + first.version());
    assertThat(version.resolve("model")).isDirectory();
    JsonNode metrics = new ObjectMapper().readTree(Files.readString(version.resolve("metrics.json")));
    assertThat(metrics.at("/als/ndcg").asDouble()).isEqualTo(first.candidate().ndcg());
    assertThat(metrics.at("/popularity/ndcg").isNumber()).isTrue();
    assertThat(metrics.at("/promoted").asBoolean()).isTrue();

    // a real model a day later beats it, and beats the popularity baseline
    AlsJob.Outcome second = AlsJob.run(spark, config(lake, last.plusDays(1), good));
    assertThat(second.candidate().users()).isGreaterThan(15);
    assertThat(second.popularity().users()).isEqualTo(second.candidate().users());
    assertThat(second.promotedBefore().ndcg()).as("the promoted model scored on the same hold-out")
        .isLessThan(second.candidate().ndcg());
    assertThat(second.promoted()).isTrue();
    assertThat(AlsJob.promoted(spark, lake)).isEqualTo(second.version());

    // the promoted model published its top 20 per user and 20 similar items per item, under its version
    assertThat(second.publishedUsers()).isEqualTo(25);
    List<Row> recs = spark.read().format("delta").load(Recommendations.recommendationsTable(lake))
        .filter(col("model_version").equalTo(second.version())).collectAsList();
    assertThat(recs).hasSize(25);
    for (Row r : recs) {
      List<String> items = r.getList(r.fieldIndex("items"));
      List<Double> scores = r.getList(r.fieldIndex("scores"));
      assertThat(items).hasSize(AlsJob.PUBLISHED_K).doesNotHaveDuplicates();
      assertThat(scores).isSortedAccordingTo(java.util.Comparator.reverseOrder());
    }
    Row similar = spark.read().format("delta").load(Recommendations.similarItemsTable(lake))
        .filter(col("model_version").equalTo(second.version())).first();
    assertThat(similar.<String>getList(similar.fieldIndex("items"))).hasSize(AlsJob.PUBLISHED_K)
        .doesNotContain(similar.<String>getAs("item_id"));
    // items a user bought never come back to them
    ALSModel model = ALSModel.load(dir.resolve("models/als/" + second.version() + "/model").toString());
    Dataset<Row> userIds = spark.read().format("delta").load(lake.root() + "/gold/als_user_ids");
    Dataset<Row> itemIds = spark.read().format("delta").load(lake.root() + "/gold/als_item_ids");
    Row m1 = recs.stream().filter(r -> r.<String>getAs("user_id").equals("m1")).findFirst().orElseThrow();
    String top = m1.<String>getList(m1.fieldIndex("items")).get(0);
    Dataset<Row> bought = spark.sql("select 'm1' as user_id, '" + top + "' as item_id");
    Row again = Recommendations.topK(model, userIds, itemIds, bought, 5).filter("user_id = 'm1'").first();
    assertThat(again.<String>getList(again.fieldIndex("items"))).hasSize(5).doesNotContain(top);

    // the degenerate one again: worse than the promoted, kept out
    AlsJob.Outcome third = AlsJob.run(spark, config(lake, last.plusDays(2), degenerate));
    assertThat(third.candidate().ndcg()).isLessThan(third.promotedBefore().ndcg());
    assertThat(third.promoted()).isFalse();
    assertThat(third.publishedUsers()).isZero();
    assertThat(AlsJob.promoted(spark, lake)).isEqualTo(second.version());
    assertThat(Files.readString(dir.resolve("models/als/" + third.version() + "/metrics.json")))
        .contains("\"promoted\" : false");

    assertThat(AlsJob.rollback(spark, lake)).isEqualTo(first.version());
    assertThat(AlsJob.promoted(spark, lake)).isEqualTo(first.version());
  }

  static AlsJob.Config config(LakeLayout lake, LocalDate asOf, Params p) {
    return new AlsJob.Config(lake, asOf, List.of(p), 10, 0.2, 5, Duration.ofDays(3650), 7);
  }
}
