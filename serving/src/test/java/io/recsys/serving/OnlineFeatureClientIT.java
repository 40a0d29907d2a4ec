package io.recsys.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.redisson.Redisson;
import org.redisson.api.RedissonClient;
import org.redisson.api.redisnode.RedisNodes;
import org.redisson.config.Config;

/**
 * The serving client against a real redis-server: rows written by the same writer the Spark jobs use are read
 * back typed, with PRESENT / NOT_FOUND / OUTSIDE_MAX_AGE, and the writer never goes back in time.
 */
@ExtendWith(LocalStackExtension.class)
class OnlineFeatureClientIT {

  static final FeatureDefinitions DEFS = FeatureDefinitions.load();
  static final Instant NOW = Instant.parse("2026-05-01T12:00:00Z");

  static OnlineRow row(String view, String user, Instant t, List<?> values) {
    FeatureView v = DEFS.view(view);
    return OnlineRow.encode(DEFS.project(), DEFS.entities().get(v.entity()), v, user, t, values);
  }

  @Test
  void readsManyEntitiesAndFeaturesInOneCallWithAStatusEach(LocalStack stack) {
    String u1 = "it-u1-" + System.nanoTime();
    String u2 = "it-u2-" + System.nanoTime();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri());
        OnlineFeatureClient client = new OnlineFeatureClient(store, DEFS, Clock.fixed(NOW, ZoneOffset.UTC))) {
      store.write(List.of(
          row("user_activity_1h", u1, NOW.minusSeconds(60), List.of(3L, 2L, 1L, 0L)),
          row("user_recent_items", u1, NOW.minusSeconds(30), List.of(List.of("i9", "i4"), List.of("i2"))),
          // 7 hours old: the view's TTL is 6h
          row("user_activity_1h", u2, NOW.minus(Duration.ofHours(7)), List.of(1L, 0L, 0L, 0L))),
          Duration.ofDays(2).toMillis(), 100);

      List<String> refs = List.of("user_activity_1h:views", "user_activity_1h:purchases",
          "user_recent_items:last_viewed_items");
      List<Map<String, OnlineFeatureClient.FeatureValue>> got = client.get(List.of(u1, u2, "nobody"), refs);

      assertThat(got.get(0).get("user_activity_1h:views").value()).isEqualTo(3L);
      assertThat(got.get(0).get("user_activity_1h:views").status()).isEqualTo(OnlineFeatureClient.Status.PRESENT);
      assertThat(got.get(0).get("user_activity_1h:purchases").value()).isEqualTo(0L);
      assertThat(got.get(0).get("user_recent_items:last_viewed_items").value()).isEqualTo(List.of("i9", "i4"));
      assertThat(got.get(0).get("user_activity_1h:views").eventTime()).isEqualTo(NOW.minusSeconds(60));
      assertThat(got.get(1).get("user_activity_1h:views").status())
          .isEqualTo(OnlineFeatureClient.Status.OUTSIDE_MAX_AGE);
      assertThat(got.get(1).get("user_recent_items:last_viewed_items").status())
          .isEqualTo(OnlineFeatureClient.Status.NOT_FOUND);
      assertThat(got.get(2).values()).allMatch(v -> v.status() == OnlineFeatureClient.Status.NOT_FOUND);
    }
  }

  @Test
  void anOlderRowNeverOverwritesANewerOneAndAnEqualOneIsRewritten(LocalStack stack) {
    String u = "it-stale-" + System.nanoTime();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri());
        OnlineFeatureClient client = new OnlineFeatureClient(store, DEFS, Clock.fixed(NOW, ZoneOffset.UTC))) {
      long ttl = Duration.ofHours(1).toMillis();
      assertThat(store.write(List.of(row("user_activity_1h", u, NOW, List.of(5L, 0L, 0L, 0L))), ttl, 10).written())
          .isEqualTo(1);
      OnlineStore.WriteResult older = store.write(
          List.of(row("user_activity_1h", u, NOW.minusSeconds(1), List.of(1L, 0L, 0L, 0L))), ttl, 10);
      assertThat(older.skippedStale()).isEqualTo(1);
      assertThat(client.get(List.of(u), List.of("user_activity_1h:views")).get(0)
          .get("user_activity_1h:views").value()).isEqualTo(5L);
      // the same event time again (a window updated by a late event, or a replay): written
      assertThat(store.write(List.of(row("user_activity_1h", u, NOW, List.of(6L, 0L, 0L, 0L))), ttl, 10).written())
          .isEqualTo(1);
      assertThat(client.get(List.of(u), List.of("user_activity_1h:views")).get(0)
          .get("user_activity_1h:views").value()).isEqualTo(6L);
    }
  }

  /**
   * The rows of one entity go to Redis in one script call: each is applied as if it had its own (a second row of
   * the same view, older than the first, is skipped), the reply says which were written, and the key's TTL grows
   * to the longest TTL of the rows written, not of a skipped one.
   */
  @Test
  void rowsOfOneEntityInOneCallAreAppliedInOrderAndTheKeyKeepsTheLongestWrittenTtl(LocalStack stack) {
    String u = "it-one-call-" + System.nanoTime();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri());
        OnlineFeatureClient client = new OnlineFeatureClient(store, DEFS, Clock.fixed(NOW, ZoneOffset.UTC))) {
      List<OnlineRow> rows = List.of(
          row("user_activity_1h", u, NOW, List.of(5L, 0L, 0L, 0L)),
          row("user_activity_5m", u, NOW, List.of(2L, 1L, 0L, 0L)),
          row("user_activity_1h", u, NOW.minusSeconds(1), List.of(1L, 0L, 0L, 0L)), // older than the first
          row("user_session", u, NOW, List.of(3L, 40L)));
      long hour = Duration.ofHours(1).toMillis();
      boolean[] written = store.write(rows, new long[] {hour, 2 * hour, 48 * hour, 3 * hour});
      assertThat(written).containsExactly(true, true, false, true);
      Map<String, OnlineFeatureClient.FeatureValue> got = client.get(List.of(u),
          List.of("user_activity_1h:views", "user_activity_5m:clicks", "user_session:session_duration_seconds"))
          .get(0);
      assertThat(got.get("user_activity_1h:views").value()).isEqualTo(5L);
      assertThat(got.get("user_activity_5m:clicks").value()).isEqualTo(1L);
      assertThat(got.get("user_session:session_duration_seconds").value()).isEqualTo(40L);
      long ttl = pttl(stack, rows.get(0).key());
      assertThat(ttl).as("the longest TTL of the rows written (3 h), not the skipped row's (48 h)")
          .isBetween(3 * hour - 60_000, 3 * hour);

      // all stale but one: only that one is written, and a shorter TTL never shortens the key's
      boolean[] again = store.write(List.of(row("user_activity_1h", u, NOW.minusSeconds(5), List.of(9L, 0L, 0L, 0L)),
          row("user_activity_5m", u, NOW.plusSeconds(1), List.of(7L, 0L, 0L, 0L))), new long[] {hour, hour});
      assertThat(again).containsExactly(false, true);
      assertThat(client.get(List.of(u), List.of("user_activity_5m:views")).get(0).get("user_activity_5m:views")
          .value()).isEqualTo(7L);
      assertThat(pttl(stack, rows.get(0).key())).isGreaterThan(2 * hour);
    }
  }

  private static long pttl(LocalStack stack, byte[] key) {
    Config c = new Config();
    c.useSingleServer().setAddress(stack.redisUri());
    RedissonClient r = Redisson.create(c);
    try {
      return r.getScript(org.redisson.client.codec.ByteArrayCodec.INSTANCE).<Long>eval(
          org.redisson.api.RScript.Mode.READ_ONLY, "return redis.call('PTTL', KEYS[1])",
          org.redisson.api.RScript.ReturnType.INTEGER, List.<Object>of(key));
    } finally {
      r.shutdown();
    }
  }

  @Test
  void rejectsUnknownReferencesWithTheFix(LocalStack stack) {
    try (OnlineFeatureClient client = new OnlineFeatureClient(stack.redisUri(), DEFS)) {
      assertThatThrownBy(() -> client.get(List.of("u"), List.of("user_activity_1h:nope")))
          .hasMessageContaining("has no feature 'nope'").hasMessageContaining("views");
      assertThatThrownBy(() -> client.get(List.of("u"), List.of("user_activity_1h:views", "item_views_1h:views_1h")))
          .hasMessageContaining("mix entities");
    }
  }

  /**
   * The feature server shares its event loops with the store's Redis connections so that a lookup never changes
   * threads: a read started on a loop is written, answered and completed on that loop, and a blocking call there
   * (which would wait for a reply only that loop can read) is refused with the fix instead of hanging.
   */
  @Test
  void readsStartedOnAnEventLoopOfTheStoreCompleteOnThatLoopAndBlockingCallsThereAreRefused(LocalStack stack)
      throws Exception {
    EventLoopGroup loops = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory("it-loop", true),
        NioIoHandler.newFactory());
    String u1 = "it-loop-u1-" + System.nanoTime();
    String u2 = "it-loop-u2-" + System.nanoTime();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri(), loops)) {
      OnlineRow r1 = row("user_activity_1h", u1, NOW, List.of(5L, 4L, 3L, 2L));
      OnlineRow r2 = row("user_activity_1h", u2, NOW, List.of(9L, 8L, 7L, 6L));
      store.write(List.of(r1, r2), Duration.ofDays(1).toMillis(), 100); // off the loops: allowed
      List<byte[]> fields = List.of(r1.fieldsAndValues()[0], r1.fieldsAndValues()[6]);

      int checked = 0;
      for (EventExecutor loop : loops) {
        Thread loopThread = loop.submit(Thread::currentThread).get(10, TimeUnit.SECONDS);
        for (List<byte[]> keys : List.of(List.of(r1.key()), List.of(r1.key(), r2.key()))) {
          CompletableFuture<Thread> completedOn = new CompletableFuture<>();
          CompletableFuture<List<List<byte[]>>> values = new CompletableFuture<>();
          loop.execute(() -> store.readAsync(keys, fields).whenComplete((v, e) -> {
            completedOn.complete(Thread.currentThread());
            if (e != null) {
              values.completeExceptionally(e);
            } else {
              values.complete(v);
            }
          }));
          assertThat(completedOn.get(10, TimeUnit.SECONDS)).as("%d keys", keys.size()).isSameAs(loopThread);
          List<List<byte[]>> got = values.get(10, TimeUnit.SECONDS);
          assertThat(got.get(0)).containsExactly(r1.fieldsAndValues()[1], r1.fieldsAndValues()[7]);
          if (keys.size() == 2) {
            assertThat(got.get(1)).containsExactly(r2.fieldsAndValues()[1], r2.fieldsAndValues()[7]);
          }
          checked++;
        }
        Future<?> blockingRead = loop.submit(() -> store.read(List.of(r1.key()), fields));
        assertThatThrownBy(() -> blockingRead.get(10, TimeUnit.SECONDS))
            .hasCauseInstanceOf(IllegalStateException.class)
            .hasMessageContaining("use readAsync there");
        Future<?> blockingWrite = loop.submit(() -> store.write(List.of(r1), new long[] {1000L}));
        assertThatThrownBy(() -> blockingWrite.get(10, TimeUnit.SECONDS))
            .hasCauseInstanceOf(IllegalStateException.class);
      }
      assertThat(checked).isEqualTo(4);
      // and off the loops the blocking read works
      assertThat(store.read(List.of(r2.key()), fields).get(0))
          .containsExactly(r2.fieldsAndValues()[1], r2.fieldsAndValues()[7]);
    } finally {
      loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void advisesTheRedisSettingWhenAWideEntityHashWouldBeAListpack(LocalStack stack, @TempDir Path dir)
      throws Exception {
    try (OnlineFeatureClient packaged = new OnlineFeatureClient(stack.redisUri(), DEFS);
        OnlineFeatureClient wide = new OnlineFeatureClient(stack.redisUri(), wideDefinitions(dir, 200))) {
      assertThat(packaged.redisAdvice()).as("the packaged views are narrow").isEmpty();
      assertThat(wide.redisAdvice()).as("the local stack's Redis turns wide hashes into hash tables").isEmpty();
      setListpackEntries(stack, "512"); // Redis's own default
      try {
        assertThat(wide.redisAdvice()).hasValueSatisfying(a -> assertThat(a)
            .contains("up to 512 fields").containsPattern("entity 'user' has 2[0-9][0-9] fields")
            .contains("hash-max-listpack-entries 128"));
        assertThat(packaged.redisAdvice()).isEmpty();
      } finally {
        setListpackEntries(stack, "128");
      }
    }
  }

  /** The packaged definitions plus a user view of {@code features} INT64 counts. */
  private static FeatureDefinitions wideDefinitions(Path dir, int features) throws Exception {
    String text;
    try (var in = FeatureDefinitions.class.getResourceAsStream(FeatureDefinitions.RESOURCE)) {
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    StringBuilder s = new StringBuilder(text.stripTrailing()).append("\n  it_wide:\n    entity: user\n")
        .append("    source: events\n    window: 1h\n    slide: 5m\n    ttl: 1d\n    filter: [page_view]\n")
        .append("    features:\n");
    for (int i = 0; i < features; i++) {
      s.append(String.format("      f%03d: {agg: count, dtype: INT64}%n", i));
    }
    Path file = dir.resolve("features-wide.yaml");
    Files.writeString(file, s);
    return FeatureDefinitions.load(file);
  }

  private static void setListpackEntries(LocalStack stack, String value) {
    Config c = new Config();
    c.useSingleServer().setAddress(stack.redisUri());
    RedissonClient r = Redisson.create(c);
    try {
      r.getRedisNodes(RedisNodes.SINGLE).getInstance().setConfig("hash-max-listpack-entries", value);
    } finally {
      r.shutdown();
    }
  }
}
