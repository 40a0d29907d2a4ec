package io.recsys.batch.backfill;

import static io.recsys.batch.silver.BronzeRows.event;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.row_number;
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
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import io.recsys.spark.SparkTestSession;
import io.recsys.spark.features.FeatureAggregations;
import io.recsys.spark.features.OnlineWrite;
import io.recsys.spark.features.TopK;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The nightly correction on a real redis-server: a late event the stream never saw changes a window; the check
 * finds the entity, the correction fixes the online value with the same writer, a second run changes nothing,
 * and an online row newer than the range is left alone.
 */
@ExtendWith(LocalStackExtension.class)
class BackfillJobIT {

  static final SparkSession spark = SparkTestSession.get();
  static final FeatureDefinitions DEFS = FeatureDefinitions.load();
  static final FeatureView VIEW = DEFS.view("user_activity_1h");
  static final LocalDate D = LocalDate.parse("2026-03-02");

  @Test
  void aLateEventIsCorrectedOnlineAndTheHistoryIsRewrittenIdempotently(LocalStack stack, @TempDir Path dir) {
    String u1 = "bf-u1-" + System.nanoTime();
    String u2 = "bf-u2-" + System.nanoTime();
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    List<Row> onTime = List.of(
        event("a1", "page_view", u1, "s1", "i1", "2026-03-02T10:00:00Z", 1, "2026-03-02T10:00:01Z"),
        event("a2", "page_view", u1, "s1", "i2", "2026-03-02T10:10:00Z", 2, "2026-03-02T10:10:01Z"),
        event("a3", "click", u1, "s1", "i2", "2026-03-02T10:20:00Z", 3, "2026-03-02T10:20:01Z"),
        event("b1", "page_view", u2, "s2", "i3", "2026-03-02T11:00:00Z", 4, "2026-03-02T11:00:01Z"));
    // what the stream wrote: the same aggregation and writer, over the events it saw
    TopK.register(spark);
    var streamed = FeatureAggregations.compute(BronzeRows.frame(spark, onTime), VIEW, DEFS.entities().get("user"));
    var latestStreamed = streamed.withColumn("_n", row_number().over(Window.partitionBy("user_id")
        .orderBy(col("event_timestamp").desc()))).filter(col("_n").equalTo(1)).drop("_n");
    new OnlineWrite(stack.redisUri(), DEFS.project(), DEFS.entities().get("user"), VIEW, 100).run(latestStreamed);
    assertThat(views(stack, u1)).isEqualTo(2L);

    // a page view at 10:05 arrives after the watermark: bronze and silver have it, the stream dropped it
    BronzeRows.frame(spark, List.of(onTime.get(0), onTime.get(1), onTime.get(2), onTime.get(3),
            event("late", "page_view", u1, "s1", "i9", "2026-03-02T10:05:00Z", 5, "2026-03-02T12:00:00Z")))
        .write().format("delta").mode(SaveMode.Append).partitionBy("event_date").save(lake.bronzeEvents());
    SilverJob.run(spark, new SilverJob.Config(lake, D, D, Duration.ofMinutes(30), null));

    BackfillJob.Config check = new BackfillJob.Config(lake, D, D, stack.redisUri(), DEFS, List.of(VIEW),
        BackfillJob.Mode.CHECK, null);
    BackfillJob.ViewResult before = BackfillJob.run(spark, check).get(0);
    assertThat(before.before().checked()).isEqualTo(2);
    assertThat(before.before().match()).isEqualTo(1);
    assertThat(before.before().mismatch()).isEqualTo(1);
    assertThat(before.before().samples()).containsExactly(u1);
    assertThat(before.after()).isNull();
    assertThat(views(stack, u1)).as("check mode writes nothing").isEqualTo(2L);

    BackfillJob.Config correct = new BackfillJob.Config(lake, D, D, stack.redisUri(), DEFS, List.of(VIEW),
        BackfillJob.Mode.CORRECT, null);
    BackfillJob.ViewResult fixed = BackfillJob.run(spark, correct).get(0);
    assertThat(fixed.after().wrong()).isZero();
    assertThat(views(stack, u1)).isEqualTo(3L);
    List<String> history = spark.read().format("delta").load(lake.features(VIEW.name()))
        .orderBy("user_id", "window_end").collectAsList().stream().map(Row::toString).toList();
    assertThat(history).hasSize((int) fixed.windows());

    // the stream moves on for u2 after the range: the correction must not go back in time
    try (OnlineStore store = OnlineStore.connect(stack.redisUri())) {
      store.write(List.of(OnlineRow.encode(DEFS.project(), DEFS.entities().get("user"), VIEW, u2,
          Instant.parse("2026-03-03T09:00:00Z"), List.of(7L, 0L, 0L, 0L))), Duration.ofDays(1).toMillis(), 10);
    }
    BackfillJob.ViewResult again = BackfillJob.run(spark, correct).get(0);
    assertThat(again.before().match()).isEqualTo(1);
    assertThat(again.before().newer()).isEqualTo(1);
    assertThat(again.written().stale()).isEqualTo(1);
    assertThat(views(stack, u2)).isEqualTo(7L);
    assertThat(spark.read().format("delta").load(lake.features(VIEW.name()))
        .orderBy("user_id", "window_end").collectAsList().stream().map(Row::toString).toList())
        .as("history rewritten to the same rows").isEqualTo(history);
  }

  static Object views(LocalStack stack, String user) {
    try (OnlineStore store = OnlineStore.connect(stack.redisUri())) {
      byte[] key = FeastKeyCodec.redisKey(DEFS.project(), "user_id", user);
      List<byte[]> got = store.read(List.of(key), List.of(FeastKeyCodec.featureField(VIEW.name(), "views"))).get(0);
      return got.get(0) == null ? null : FeastValueCodec.toJava(FeastValueCodec.decode(got.get(0)));
    }
  }
}
