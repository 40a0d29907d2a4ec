package io.recsys.batch.gold;

import static io.recsys.batch.silver.BronzeRows.event;
import static io.recsys.batch.silver.BronzeRows.purchase;
import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.batch.silver.BronzeRows;
import io.recsys.batch.silver.SilverJob;
import io.recsys.feast.FeastKeyCodec;
import io.recsys.feast.FeastValueCodec;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.lake.LakeLayout;
import io.recsys.online.OnlineStore;
import io.recsys.spark.SparkTestSession;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Long-horizon features as of a date, from silver to the gold tables and Redis, counted by hand. */
@ExtendWith(LocalStackExtension.class)
class GoldFeaturesJobIT {

  static final SparkSession spark = SparkTestSession.get();
  static final FeatureDefinitions DEFS = FeatureDefinitions.load();
  static final LocalDate D = LocalDate.parse("2026-03-10");

  @Test
  void sevenThirtyAndNinetyDaysAsOfADateInGoldAndOnline(LocalStack stack, @TempDir Path dir) {
    String u = "gold-u1-" + System.nanoTime();
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    BronzeRows.frame(spark, List.of(
            event("v1", "page_view", u, "s", "i1", "2026-03-10T08:00:00Z", 1, "2026-03-10T08:00:01Z"),
            event("v2", "page_view", u, "s", "i1", "2026-03-05T08:00:00Z", 2, "2026-03-05T08:00:01Z"),
            event("v3", "page_view", u, "s", "i2", "2026-02-20T08:00:00Z", 3, "2026-02-20T08:00:01Z"),
            event("v4", "page_view", u, "s", "i2", "2025-12-20T08:00:00Z", 4, "2025-12-20T08:00:01Z"),
            event("v5", "page_view", u, "s", "i1", "2026-03-11T08:00:00Z", 5, "2026-03-11T08:00:01Z"),
            purchase("p1", u, "i1", "2026-03-09T09:00:00Z", 10.0, 2, 6),
            purchase("p2", u, "i2", "2026-02-15T09:00:00Z", 5.0, null, 7)))
        .write().format("delta").mode(SaveMode.Append).partitionBy("event_date").save(lake.bronzeEvents());
    SilverJob.run(spark, new SilverJob.Config(lake, LocalDate.parse("2025-12-01"), LocalDate.parse("2026-03-11"),
        Duration.ofMinutes(30), null));
    List<FeatureView> nightly = DEFS.views().values().stream().filter(FeatureView::isNightly).toList();
    assertThat(nightly).extracting(FeatureView::name).contains("user_history_7d", "user_history_30d",
        "user_history_90d", "item_history_7d", "item_history_30d");
    GoldFeaturesJob.Config config = new GoldFeaturesJob.Config(lake, D, stack.redisUri(), DEFS, nightly, null);

    GoldFeaturesJob.run(spark, config);
    Row r = spark.read().format("delta").load(GoldFeaturesJob.table(lake, "user"))
        .filter("user_id = '" + u + "'").first();
    // 7d = 03-04 .. 03-10: views v1 v2, purchase p1 (10.0 x 2); 03-11 is after the date
    assertThat(r.<Long>getAs("user_history_7d__views")).isEqualTo(2L);
    assertThat(r.<Long>getAs("user_history_7d__purchases")).isEqualTo(1L);
    assertThat(r.<Double>getAs("user_history_7d__spend")).isEqualTo(20.0);
    // 30d = 02-09 .. 03-10: + v3 and p2 (5.0, quantity absent: one)
    assertThat(r.<Long>getAs("user_history_30d__views")).isEqualTo(3L);
    assertThat(r.<Double>getAs("user_history_30d__spend")).isEqualTo(25.0);
    assertThat(r.<Long>getAs("user_history_30d__active_items")).isEqualTo(2L);
    // 90d = 2025-12-11 .. 03-10: + v4
    assertThat(r.<Long>getAs("user_history_90d__views")).isEqualTo(4L);
    assertThat(r.getDate(r.fieldIndex("as_of_date")).toLocalDate()).isEqualTo(D);
    Row item = spark.read().format("delta").load(GoldFeaturesJob.table(lake, "item"))
        .filter("item_id = 'i1'").first();
    assertThat(item.<Double>getAs("item_history_7d__conversion")).isEqualTo(0.5); // 1 purchase / 2 views

    // online, in Feast's layout, stamped with the end of the date
    try (OnlineStore store = OnlineStore.connect(stack.redisUri())) {
      byte[] key = FeastKeyCodec.redisKey(DEFS.project(), "user_id", u);
      List<byte[]> got = store.read(List.of(key), List.of(FeastKeyCodec.featureField("user_history_30d", "spend"),
          FeastKeyCodec.timestampField("user_history_30d"))).get(0);
      assertThat(FeastValueCodec.toJava(FeastValueCodec.decode(got.get(0)))).isEqualTo(25.0);
      assertThat(FeastValueCodec.decodeTimestamp(got.get(1))).isEqualTo(Instant.parse("2026-03-11T00:00:00Z"));
    }

    // idempotent for the date; the next date is a partition beside it
    List<String> once = rows(GoldFeaturesJob.table(lake, "user"));
    long logRows = spark.read().format("delta").load(lake.features("user_history_7d")).count();
    GoldFeaturesJob.run(spark, config);
    assertThat(rows(GoldFeaturesJob.table(lake, "user"))).isEqualTo(once);
    assertThat(spark.read().format("delta").load(lake.features("user_history_7d")).count()).isEqualTo(logRows);
    GoldFeaturesJob.run(spark, new GoldFeaturesJob.Config(lake, D.plusDays(1), null, DEFS, nightly, null));
    Row next = spark.read().format("delta").load(GoldFeaturesJob.table(lake, "user"))
        .filter("user_id = '" + u + "' and as_of_date = '2026-03-11'").first();
    assertThat(next.<Long>getAs("user_history_7d__views")).isEqualTo(3L); // v1, v2 and v5
  }

  static List<String> rows(String path) {
    return spark.read().format("delta").load(path).orderBy("user_id", "as_of_date").collectAsList().stream()
        .map(Row::toString).toList();
  }
}
