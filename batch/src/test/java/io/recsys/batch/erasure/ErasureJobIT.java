package io.recsys.batch.erasure;

import static io.recsys.batch.silver.BronzeRows.event;
import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.batch.als.IdMapping;
import io.recsys.batch.als.Recommendations;
import io.recsys.batch.gold.GoldFeaturesJob;
import io.recsys.batch.maintenance.MaintenanceJob;
import io.recsys.batch.silver.BronzeRows;
import io.recsys.batch.silver.SilverJob;
import io.recsys.feast.FeastKeyCodec;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.lake.LakeLayout;
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import io.recsys.spark.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.ml.recommendation.ALS;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * One erasure request leaves zero rows of the user in every table, zero Redis keys and zero ALS factors, keeps
 * everyone else, writes an audit row without ids, keeps the user out of the next silver run, and after VACUUM no
 * data file on disk holds the user's id.
 */
@ExtendWith(LocalStackExtension.class)
class ErasureJobIT {

  static final SparkSession spark = SparkTestSession.get();
  static final FeatureDefinitions DEFS = FeatureDefinitions.load();
  static final LocalDate D = LocalDate.parse("2026-03-02");

  @Test
  void eraseLeavesNothingOfTheUserAndKeepsTheOthers(LocalStack stack, @TempDir Path dir) throws Exception {
    String gone = "erase-me-" + System.nanoTime();
    String kept = "keep-me-" + System.nanoTime();
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    List<Row> events = List.of(
        event("a1", "page_view", gone, "s1", "i1", "2026-03-02T10:00:00Z", 1, "2026-03-02T10:00:01Z"),
        event("a2", "page_view", gone, "s1", "i2", "2026-03-02T10:01:00Z", 2, "2026-03-02T10:01:01Z"),
        event("b1", "page_view", kept, "s2", "i1", "2026-03-02T11:00:00Z", 3, "2026-03-02T11:00:01Z"),
        event("b2", "page_view", kept, "s2", "i3", "2026-03-02T11:01:00Z", 4, "2026-03-02T11:01:01Z"));
    BronzeRows.frame(spark, events).write().format("delta").mode(SaveMode.Append).partitionBy("event_date")
        .save(lake.bronzeEvents());
    spark.sql("select cast('" + gone + "' as binary) as raw_key, cast('{bad' as binary) as raw_value, "
        + "'MALFORMED_JSON' as reason union all select cast('" + kept + "' as binary), cast('{' as binary), "
        + "'MALFORMED_JSON'").write().format("delta").save(lake.bronzeQuarantine());
    SilverJob.run(spark, new SilverJob.Config(lake, D, D, Duration.ofMinutes(30), null));
    spark.read().format("delta").load(lake.silverEvents()).selectExpr("user_id", "1L as user_history_7d__views")
        .write().format("delta").save(GoldFeaturesJob.table(lake, "user"));
    spark.read().format("delta").load(lake.silverEvents())
        .selectExpr("user_id", "event_time as event_timestamp", "1L as views")
        .write().format("delta").save(lake.features("user_history_7d"));
    spark.read().format("delta").load(lake.silverEvents()).select("user_id", "item_id", "event_time")
        .write().format("delta").save(lake.root() + "/gold/training/t1");
    spark.read().format("delta").load(lake.silverEvents()).selectExpr("user_id", "array(item_id) as items")
        .write().format("delta").save(Recommendations.recommendationsTable(lake));
    try (OnlineStore store = OnlineStore.connect(stack.redisUri())) {
      FeatureView v = DEFS.view("user_activity_1h");
      store.write(List.of(
          OnlineRow.encode(DEFS.project(), DEFS.entities().get("user"), v, gone, Instant.now(), List.of(1L, 0L, 0L, 0L)),
          OnlineRow.encode(DEFS.project(), DEFS.entities().get("user"), v, kept, Instant.now(), List.of(2L, 0L, 0L, 0L))),
          Duration.ofDays(1).toMillis(), 10);
    }
    // an ALS model that knows both users
    Dataset<Row> ids = IdMapping.extend(spark, lake.root() + "/gold/als_user_ids",
        spark.sql("select '" + gone + "' as key union all select '" + kept + "'"));
    Dataset<Row> train = spark.sql("select 1 as item, 1.0 as confidence union all select 2, 2.0")
        .crossJoin(ids.select(col("id").as("user")));
    new ALS().setImplicitPrefs(true).setRank(2).setMaxIter(2).setUserCol("user").setItemCol("item")
        .setRatingCol("confidence").fit(train).write().save(dir.resolve("models/als/v1/model").toString());
    int goneId = ids.filter(col("key").equalTo(gone)).first().getInt(1);

    ErasureJob.Result r = ErasureJob.run(spark, new ErasureJob.Config(lake, DEFS, stack.redisUri(), List.of(gone)));

    for (String t : List.of(lake.bronzeEvents(), lake.silverEvents(), GoldFeaturesJob.table(lake, "user"),
        Recommendations.recommendationsTable(lake), lake.root() + "/gold/training/t1",
        lake.features("user_history_7d"))) {
      Dataset<Row> table = spark.read().format("delta").load(t);
      assertThat(table.filter(col("user_id").equalTo(gone)).count()).as(t).isZero();
      assertThat(table.filter(col("user_id").equalTo(kept)).count()).as(t).isPositive();
    }
    assertThat(spark.read().format("delta").load(lake.root() + "/gold/als_user_ids")
        .filter(col("key").equalTo(gone)).count()).isZero();
    assertThat(spark.read().format("delta").load(lake.bronzeQuarantine()).count()).isEqualTo(1);
    try (OnlineStore store = OnlineStore.connect(stack.redisUri())) {
      List<List<byte[]>> got = store.read(List.of(FeastKeyCodec.redisKey(DEFS.project(), "user_id", gone),
          FeastKeyCodec.redisKey(DEFS.project(), "user_id", kept)),
          List.of(FeastKeyCodec.timestampField("user_activity_1h")));
      assertThat(got.get(0).get(0)).isNull();
      assertThat(got.get(1).get(0)).isNotNull();
    }
    assertThat(r.redisKeys()).isEqualTo(1);
    Dataset<Row> factors = spark.read().parquet(dir.resolve("models/als/v1/model/userFactors").toString());
    assertThat(factors.filter(col("id").equalTo(goneId)).count()).isZero();
    assertThat(factors.count()).isEqualTo(1);
    Row audit = spark.read().format("delta").load(lake.opsErasureAudit()).first();
    assertThat(audit.<Integer>getAs("users")).isEqualTo(1);
    assertThat(audit.toString()).doesNotContain(gone);

    // after VACUUM no data file holds the id (the Delta log's file statistics are discussed in the README)
    MaintenanceJob.run(spark, new MaintenanceJob.Config(lake, DEFS, null, 0, false, true));
    java.util.Map<Path, List<String>> byTable = new java.util.TreeMap<>();
    try (Stream<Path> files = Files.walk(dir)) {
      files.filter(p -> p.toString().endsWith(".parquet") && !p.toString().contains("_delta_log"))
          .forEach(p -> byTable.computeIfAbsent(tableRoot(p), k -> new java.util.ArrayList<>()).add(p.toString()));
    }
    assertThat(byTable).hasSizeGreaterThan(8);
    for (var e : byTable.entrySet()) {
      long n = spark.read().parquet(e.getValue().toArray(String[]::new)).toJSON()
          .filter((org.apache.spark.api.java.function.FilterFunction<String>) j -> j.contains(gone)).count();
      assertThat(n).as("files of %s holding the id", e.getKey()).isZero();
    }

    // a replay of the old events into bronze does not bring the user back into silver
    BronzeRows.frame(spark, events.subList(0, 1)).write().format("delta").mode(SaveMode.Append)
        .partitionBy("event_date").save(lake.bronzeEvents());
    SilverJob.run(spark, new SilverJob.Config(lake, D, D, Duration.ofMinutes(30), null));
    assertThat(spark.read().format("delta").load(lake.silverEvents()).filter(col("user_id").equalTo(gone)).count())
        .isZero();
  }

  /** The folder of the Delta table (or parquet data set) a data file belongs to. */
  static Path tableRoot(Path file) {
    for (Path p = file.getParent(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("_delta_log"))) {
        return p;
      }
    }
    return file.getParent();
  }
}
