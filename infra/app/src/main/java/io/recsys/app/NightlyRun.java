package io.recsys.app;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;

import io.recsys.batch.als.AlsJob;
import io.recsys.batch.als.AlsTrainer.Params;
import io.recsys.batch.als.Recommendations;
import io.recsys.batch.backfill.BackfillJob;
import io.recsys.batch.gold.GoldFeaturesJob;
import io.recsys.batch.silver.SilverJob;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.lake.LakeLayout;
import io.recsys.serving.OnlineFeatureClient;
import io.recsys.serving.Recommender;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The demo's nightly chain on the replayed lake: silver, gold features, the online check, ALS and its online
 * publication, and one user's recommend(user, 10) beside their real-time features.
 */
final class NightlyRun {

  private NightlyRun() {}

  static void run(SparkSession spark, LakeLayout lake, String redis, String user) throws Exception {
    FeatureDefinitions defs = FeatureDefinitions.load();
    Row range = spark.read().format("delta").load(lake.bronzeEvents()).agg(min("event_date"), max("event_date"))
        .first();
    LocalDate first = range.getDate(0).toLocalDate();
    LocalDate last = range.getDate(1).toLocalDate();

    long t = System.currentTimeMillis();
    SilverJob.Result silver = SilverJob.run(spark, new SilverJob.Config(lake, first, last, Duration.ofMinutes(30),
        null));
    System.out.printf("      silver.events %s..%s: %,d rows (%,d duplicates dropped, %,d given a session) in %.0f s%n",
        first, last, silver.silverRows(), silver.duplicatesDropped(), silver.sessionsInferredRows(), secs(t));

    t = System.currentTimeMillis();
    List<FeatureView> nightly = defs.views().values().stream().filter(FeatureView::isNightly).toList();
    var gold = GoldFeaturesJob.run(spark, new GoldFeaturesJob.Config(lake, last, redis, defs, nightly, null));
    System.out.printf("      gold features as of %s: %s in %.0f s%n", last,
        gold.stream().map(g -> g.view() + " " + g.entities()).toList(), secs(t));

    t = System.currentTimeMillis();
    List<FeatureView> checked = List.of(defs.view("user_activity_1h"), defs.view("item_popularity"));
    for (BackfillJob.ViewResult r : BackfillJob.run(spark, new BackfillJob.Config(lake, last, last, redis, defs,
        checked, BackfillJob.Mode.CHECK, null))) {
      System.out.printf("      online vs recomputed from silver, %s on %s: %,d match, %,d differ, %,d older online, "
          + "%,d missing%n", r.view(), last, r.before().match(), r.before().mismatch(), r.before().stale(),
          r.before().missing());
    }
    System.out.printf("      (check took %.0f s)%n", secs(t));

    t = System.currentTimeMillis();
    AlsJob.Config d = AlsJob.Config.defaults(lake, last);
    AlsJob.Outcome als = AlsJob.run(spark, new AlsJob.Config(lake, last, List.of(new Params(32, 0.05, 10, 10)), d.k(),
        d.holdout(), d.minInteractions(), d.halfLife(), d.seed()));
    if (als.skipped() != null) {
      System.out.println("      ALS " + als.version() + ": no model trained: " + als.skipped());
      return;
    }
    System.out.printf("      ALS %s: NDCG@10 %.4f vs popularity %.4f over %,d held-out users; %s; in %.0f s%n",
        als.version(), als.candidate().ndcg(), als.popularity().ndcg(), als.candidate().users(),
        als.promoted() ? "promoted, " + als.publishedUsers() + " users' top 20 published" : "not promoted",
        secs(t));

    System.out.println();
    System.out.println("      user " + user + ":");
    var features = spark.read().format("delta").load(GoldFeaturesJob.table(lake, "user"))
        .filter(col("user_id").equalTo(user).and(col("as_of_date").equalTo(java.sql.Date.valueOf(last))));
    if (!features.isEmpty()) {
      Row f = features.first();
      Double spend = f.getAs("user_history_30d__spend");
      int cats = f.fieldIndex("user_history_30d__top_categories");
      System.out.printf("        last 30 days (gold.user_features): %s views, %s purchases, spend %s, top categories %s%n",
          f.getAs("user_history_30d__views"), f.getAs("user_history_30d__purchases"),
          spend == null ? "-" : String.format("%.2f", spend), f.isNullAt(cats) ? "-" : f.getList(cats));
    }
    if (!als.promoted()) {
      System.out.println("        the model was not promoted, so nothing new is published");
      return;
    }
    Recommendations.Online online = Recommendations.pushOnline(spark, lake, defs, redis, als.version());
    System.out.printf("        published online (Feast layout): %,d user lists with the popularity list, %,d "
        + "similar-item lists%n", online.users(), online.items());
    try (OnlineFeatureClient client = new OnlineFeatureClient(redis, defs)) {
      var now = client.get(List.of(user), REAL_TIME).get(0);
      System.out.printf("        real time (Redis): last hour %s views, top categories %s; last viewed %s; "
          + "bought in the last 24 h %s%n", shown(now.get(REAL_TIME.get(0))), shown(now.get(REAL_TIME.get(1))),
          shown(now.get(REAL_TIME.get(2))), shown(now.get(REAL_TIME.get(3))));
      Recommender.Recommendations recs = client.recommend(user, 10);
      System.out.println("        recommend(" + user + ", 10) from " + (recs.personalized()
          ? "ALS " + recs.modelVersion() : "the popularity list (the model has no list for this user)")
          + ", re-ranked with those features:");
      for (Recommender.Item i : recs.items()) {
        System.out.printf("          %-12s %.3f  (model %.3f%s%s)%n", i.itemId(), i.score(), i.modelScore(),
            i.category() == null ? "" : ", " + i.category(), i.categoryBoosted() ? ", category boost" : "");
      }
      if (!recs.droppedPurchased().isEmpty()) {
        System.out.println("          left out, bought since the model: " + recs.droppedPurchased());
      }
    }
  }

  static final List<String> REAL_TIME = List.of("user_activity_1h:views", "user_interests_1h:top_categories",
      "user_recent_items:last_viewed_items", "user_recent_items:last_purchased_items");

  private static String shown(OnlineFeatureClient.FeatureValue v) {
    return v.status() == OnlineFeatureClient.Status.PRESENT ? String.valueOf(v.value())
        : "- (" + v.status().name().toLowerCase() + ")";
  }

  private static double secs(long since) {
    return (System.currentTimeMillis() - since) / 1000.0;
  }
}
