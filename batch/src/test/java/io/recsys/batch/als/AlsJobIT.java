package io.recsys.batch.als;

import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.recsys.batch.als.AlsTrainer.Params;
import io.recsys.feast.FeastKeyCodec;
import io.recsys.feast.FeastValueCodec;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.online.OnlineStore;
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
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ALS run on the MovieLens sample kept in the repository (ratings of 25 users): a model and metrics.json
 * beside a popularity baseline, promotion of the first model, a worse model kept out by the gate, a later
 * equal one promoted, and a rollback; the publication online (Feast layout, in a real Redis), also after the
 * rollback.
 */
@ExtendWith(LocalStackExtension.class)
class AlsJobIT {

  static final SparkSession spark = SparkTestSession.get();
  static final FeatureDefinitions DEFS = FeatureDefinitions.load();

  /** silver.events-like rows (the columns the ALS job reads) from MovieLens ratings. */
  static LocalDate movieLensSilver(LakeLayout lake) throws Exception {
    Path ratings = Path.of("..", "data", "samples", "ml-latest-small", "ratings.csv");
    assertThat(ratings).exists();
    Dataset<Row> r = spark.read().option("header", "true").csv(ratings.toString());
    Dataset<Row> movies = spark.read().option("header", "true").csv(ratings.resolveSibling("movies.csv").toString())
        .selectExpr("movieId", "split(genres, '[|]')[0] as category");
    Dataset<Row> silver = r.join(movies, "movieId").selectExpr("concat('m', userId) as user_id",
        "concat('movie-', movieId) as item_id", "'rating' as event_type", "cast(rating as double) as rating",
        "category", "timestamp_seconds(cast(timestamp as long)) as event_time")
        .selectExpr("*", "to_date(event_time) as event_date");
    silver.write().format("delta").mode("overwrite").partitionBy("event_date").save(lake.silverEvents());
    return silver.selectExpr("max(event_date)").first().getDate(0).toLocalDate();
  }

  @Test
  void trainsEvaluatesGatesAndRollsBack(LocalStack stack, @TempDir Path dir) throws Exception {
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    LocalDate last = movieLensSilver(lake);
    Params good = new Params(8, 0.05, 10, 8);
    // rank 1, huge regularization, one iteration: factors near zero, an arbitrary ranking
    Params degenerate = new Params(1, 1000.0, 0.01, 1);

    // a date before any data: no model, no failure, the reason in metrics.json
    AlsJob.Outcome none = AlsJob.run(spark, config(lake, LocalDate.of(1990, 1, 1), good));
    assertThat(none.skipped()).contains("no user has 5 or more items up to 1990-01-01");
    assertThat(none.promoted()).isFalse();
    assertThat(AlsJob.promoted(spark, lake)).isNull();
    assertThat(Files.readString(dir.resolve("models/als/v19900101/metrics.json"))).contains("\"trained\" : false");

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
    for (Row r : recs) {
      assertThat(r.<String>getList(r.fieldIndex("categories"))).as("one category per item, from the genres")
          .hasSize(AlsJob.PUBLISHED_K).doesNotContainNull();
    }

    // published online, in Feast's layout: every user's list and the popularity fallback, under the version
    Recommendations.Online online = Recommendations.pushOnline(spark, lake, DEFS, stack.redisUri(),
        second.version());
    assertThat(online.users()).isEqualTo(26);
    assertThat(online.items()).isEqualTo(spark.read().format("delta").load(Recommendations.similarItemsTable(lake))
        .filter(col("model_version").equalTo(second.version())).count());
    Row m1Recs = recs.stream().filter(r -> r.<String>getAs("user_id").equals("m1")).findFirst().orElseThrow();
    List<Object> m1Online = readUserView(stack, "m1");
    assertThat(m1Online.get(0)).isEqualTo(m1Recs.getList(m1Recs.fieldIndex("items")));
    assertThat(m1Online.get(1)).isEqualTo(m1Recs.getList(m1Recs.fieldIndex("scores")));
    assertThat(m1Online.get(3)).isEqualTo(second.version());
    List<Object> popular = readUserView(stack, Recommendations.POPULAR_USER);
    assertThat((List<?>) popular.get(0)).hasSize(AlsJob.PUBLISHED_K);
    assertThat((List<Double>) popular.get(1)).startsWith(1.0).isSortedAccordingTo(java.util.Comparator.reverseOrder());
    assertThat(spark.read().format("delta").load(lake.features(Recommendations.USER_VIEW)).count())
        .as("the offline log Feast reads as the view's batch source").isEqualTo(26);

    // items a user bought never come back to them
    ALSModel model = ALSModel.load(dir.resolve("models/als/" + second.version() + "/model").toString());
    Dataset<Row> userIds = spark.read().format("delta").load(lake.root() + "/gold/als_user_ids");
    Dataset<Row> itemIds = spark.read().format("delta").load(lake.root() + "/gold/als_item_ids");
    Row m1 = recs.stream().filter(r -> r.<String>getAs("user_id").equals("m1")).findFirst().orElseThrow();
    String top = m1.<String>getList(m1.fieldIndex("items")).get(0);
    Dataset<Row> bought = spark.sql("select 'm1' as user_id, '" + top + "' as item_id");
    Dataset<Row> categories = spark.sql("select 'none' as item_id, 'none' as category");
    Row again = Recommendations.topK(model, userIds, itemIds, bought, categories, 5).filter("user_id = 'm1'")
        .first();
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
    // a rollback publishes the older version again, and it wins online because it is published later
    Recommendations.pushOnline(spark, lake, DEFS, stack.redisUri(), first.version());
    assertThat(readUserView(stack, "m1").get(3)).isEqualTo(first.version());
  }

  /** The user_recommendations row of a user, decoded: items, scores, categories, model_version. */
  static List<Object> readUserView(LocalStack stack, String user) {
    FeatureView view = DEFS.view(Recommendations.USER_VIEW);
    List<byte[]> fields = view.features().stream()
        .map(f -> FeastKeyCodec.featureField(view.name(), f.name())).toList();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri())) {
      List<byte[]> raw = store.read(List.of(FeastKeyCodec.redisKey(DEFS.project(), "user_id", user)), fields).get(0);
      assertThat(raw).as("a row for " + user).doesNotContainNull();
      return raw.stream().map(b -> FeastValueCodec.toJava(FeastValueCodec.decode(b))).toList();
    }
  }

  static AlsJob.Config config(LakeLayout lake, LocalDate asOf, Params p) {
    return new AlsJob.Config(lake, asOf, List.of(p), 10, 0.2, 5, Duration.ofDays(3650), 7);
  }
}
