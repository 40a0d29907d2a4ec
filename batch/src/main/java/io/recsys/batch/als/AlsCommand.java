package io.recsys.batch.als;

import io.recsys.batch.als.AlsTrainer.Params;
import io.recsys.lake.LakeLayout;
import io.recsys.features.FeatureDefinitions;
import io.recsys.spark.DateRangeOptions;
import io.recsys.spark.FeatureOptions;
import io.recsys.spark.JobRunner;
import io.recsys.spark.LakeAccess;
import io.recsys.spark.LakeOptions;
import io.recsys.spark.OnlineStoreOptions;
import io.recsys.spark.Settings;
import io.recsys.spark.SparkSessions;
import io.recsys.spark.UserError;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./run job als --lake L --date D} (spark-submit class {@code io.recsys.batch.als.AlsCommand}): the nightly
 * ALS run of {@link AlsJob}; {@code --rollback} promotes the previously promoted version instead. With
 * {@code --redis}, a promoted (or rolled-back-to) version is also published to the online store
 * ({@link Recommendations#pushOnline}), where {@code recommend(user, k)} reads it.
 */
@Command(name = "als", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Train ALS on silver.events up to a date, evaluate, promote if not worse; or roll back.")
public final class AlsCommand implements Callable<Integer> {

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin OnlineStoreOptions online = new OnlineStoreOptions();
  @Option(names = "--date", description = "As-of date (UTC), yyyy-MM-dd: events up to its end train the model.")
  String date;
  @Option(names = "--k", description = "Top k for evaluation (default 10).")
  Integer k;
  @Option(names = "--grid", split = ";", description = "Hyper-parameters to try, rank,regParam,alpha,maxIter; "
      + "separated by ';' (default: 32,0.05,10,10;64,0.05,10,10;32,0.5,40,10).")
  List<String> grid;
  @Option(names = "--rollback", description = "Promote the version promoted before the current one, and stop.")
  boolean rollback;

  public static void main(String[] args) {
    JobRunner.main(new AlsCommand(), args);
  }

  @Override
  public Integer call() throws Exception {
    Settings s = Settings.fromEnvironment();
    LakeLayout lake = lakeOptions.layout(s);
    SparkSession spark = SparkSessions.create("recsys als", LakeAccess.s3aSettings(lakeOptions.s3Endpoint(s)));
    LakeAccess.check(spark, lake.root());
    String redis = online.redisOrNull(s);
    FeatureDefinitions defs = online.definitions(s);
    if (redis != null) {
      FeatureOptions.checkRedis(redis, "Start it, fix --redis, or leave --redis out to publish to the lake only");
    }
    if (rollback) {
      String version = AlsJob.rollback(spark, lake);
      System.out.println("promoted: " + version);
      pushOnline(spark, lake, defs, redis, version);
      return 0;
    }
    if (date == null) {
      throw UserError.of("No date given", "Pass --date yyyy-MM-dd (Airflow: {{ ds }})");
    }
    LocalDate asOf = DateRangeOptions.parse("--date", date);
    AlsJob.Config d = AlsJob.Config.defaults(lake, asOf);
    List<Params> params = d.grid();
    if (grid != null && !grid.isEmpty()) {
      params = new ArrayList<>();
      for (String g : grid) {
        String[] p = g.trim().split(",");
        try {
          params.add(new Params(Integer.parseInt(p[0].trim()), Double.parseDouble(p[1].trim()),
              Double.parseDouble(p[2].trim()), Integer.parseInt(p[3].trim())));
        } catch (RuntimeException e) {
          throw UserError.badArgument("--grid", g, "rank,regParam,alpha,maxIter such as 32,0.05,10,10");
        }
      }
    }
    AlsJob.Outcome o = AlsJob.run(spark, new AlsJob.Config(lake, asOf, params, k == null ? d.k() : k, d.holdout(),
        d.minInteractions(), d.halfLife(), d.seed()));
    if (o.skipped() != null) {
      String promoted = AlsJob.promoted(spark, lake);
      System.out.printf("ALS %s: no model trained: %s; the promoted model stays (%s)%n", o.version(), o.skipped(),
          promoted == null ? "none yet" : promoted);
      return 0;
    }
    System.out.printf("ALS %s (%s): NDCG@%d %.4f, precision %.4f, MAP %.4f, coverage %.3f over %d users; "
        + "popularity NDCG %.4f; promoted before: %s; %s%n", o.version(), o.best(), o.candidate().k(),
        o.candidate().ndcg(), o.candidate().precision(), o.candidate().map(), o.candidate().coverage(),
        o.candidate().users(), o.popularity().ndcg(),
        o.promotedBefore() == null ? "none" : String.format("NDCG %.4f", o.promotedBefore().ndcg()),
        o.promoted() ? "PROMOTED" : "not promoted (worse than the promoted model)");
    if (o.promoted()) {
      pushOnline(spark, lake, defs, redis, o.version());
    }
    return 0;
  }

  private static void pushOnline(SparkSession spark, LakeLayout lake, FeatureDefinitions defs, String redis,
      String version) {
    if (redis == null) {
      System.out.println("online store: not published (no --redis); recommend(user) serves the version published "
          + "before");
      return;
    }
    Recommendations.Online o = Recommendations.pushOnline(spark, lake, defs, redis, version);
    System.out.printf("online store: %s published to %s: %,d user rows (with the popularity list), %,d item rows%n",
        version, redis, o.users(), o.items());
  }
}
