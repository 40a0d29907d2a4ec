package io.recsys.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.recsys.feast.FeastKeyCodec;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import io.recsys.serving.Recommender.Item;
import io.recsys.serving.Recommender.Recommendations;
import io.recsys.serving.Recommender.Source;
import io.recsys.serving.proto.RecommendRequest;
import io.recsys.serving.proto.RecommendResponse;
import io.recsys.serving.proto.RecommendationServiceGrpc;
import io.recsys.serving.proto.RecommendedItem;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * recommend(user, k) against a real redis-server holding what the ALS job and the online-features job write (the
 * same encoder): the model's list re-ranked by the user's top categories of the last hour, purchases since the
 * model dropped, a short list topped up from the popularity list, the popularity list for unknown users and for
 * lists past their TTL; the same answers over gRPC, and bad requests refused.
 */
@ExtendWith(LocalStackExtension.class)
class RecommenderIT {

  static final FeatureDefinitions DEFS = FeatureDefinitions.load();
  static final Instant NOW = Instant.parse("2026-05-01T12:00:00Z");
  static final long KEY_TTL = Duration.ofDays(1).toMillis();

  static OnlineRow row(String view, String entity, Instant t, List<?> values) {
    FeatureView v = DEFS.view(view);
    return OnlineRow.encode(DEFS.project(), DEFS.entities().get(v.entity()), v, entity, t, values);
  }

  /** A user's list as the ALS job publishes it, and the popularity list. */
  static void publish(OnlineStore store, String user, Instant t, Instant popularAt) {
    store.write(List.of(
        row("user_recommendations", user, t, List.of(List.of("a", "b", "c", "d"), List.of(0.9, 0.8, 0.5, 0.4),
            List.of("x", "y", "z", "x"), "v20260430")),
        row("user_recommendations", Recommender.POPULAR_USER, popularAt,
            List.of(List.of("p1", "a", "p2"), List.of(1.0, 0.6, 0.3), List.of("z", "x", "y"), "v20260430"))),
        KEY_TTL, 10);
  }

  static List<String> ids(List<Item> items) {
    return items.stream().map(Item::itemId).toList();
  }

  @Test
  void reRanksWithRealTimeFeaturesDropsFreshPurchasesAndTopsUpFromPopularity(LocalStack stack) {
    String u = "rec-u-" + System.nanoTime();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri());
        OnlineFeatureClient client = new OnlineFeatureClient(store, DEFS, Clock.fixed(NOW, ZoneOffset.UTC))) {
      publish(store, u, NOW.minusSeconds(7200), NOW.minusSeconds(3600));

      // without real-time features: the model's order
      Recommendations plain = client.recommend(u, 3);
      assertThat(ids(plain.items())).containsExactly("a", "b", "c");
      assertThat(plain.personalized()).isTrue();
      assertThat(plain.modelVersion()).isEqualTo("v20260430");
      assertThat(plain.items().get(0).modelScore()).isEqualTo(1.0);
      assertThat(plain.items()).allMatch(i -> i.source() == Source.MODEL && !i.categoryBoosted());

      // the last hour's interest in category z, and b bought since the model was trained
      store.write(List.of(
          row("user_interests_1h", u, NOW.minusSeconds(60), List.of(3L, List.of("z"))),
          row("user_recent_items", u, NOW.minusSeconds(60), List.of(List.of("c"), List.of("b")))), KEY_TTL, 10);
      Recommendations r = client.recommend(u, 4);
      // a 1.0; c 0.5/0.9 + 0.3 = 0.856; p1 (popularity, scaled by d's 0.444) 0.444 + 0.3 = 0.744; d 0.444
      assertThat(ids(r.items())).containsExactly("a", "c", "p1", "d");
      assertThat(r.droppedPurchased()).containsExactly("b");
      Item c = r.items().get(1);
      assertThat(c.categoryBoosted()).isTrue();
      assertThat(c.score()).isCloseTo(0.5 / 0.9 + 0.3, org.assertj.core.data.Offset.offset(1e-9));
      assertThat(r.items().get(2).source()).isEqualTo(Source.POPULARITY);
      assertThat(client.recommend(u, 10).items()).extracting(Item::itemId)
          .as("every candidate once: a appears in both lists").containsExactly("a", "c", "p1", "d", "p2");
    }
  }

  @Test
  void unknownUsersAndListsPastTheirTtlGetThePopularityList(LocalStack stack) {
    String stale = "rec-stale-" + System.nanoTime();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri());
        OnlineFeatureClient client = new OnlineFeatureClient(store, DEFS, Clock.fixed(NOW, ZoneOffset.UTC))) {
      publish(store, stale, NOW.minus(Duration.ofDays(4)), NOW.minusSeconds(3600)); // the view's TTL is 3 days
      for (String user : List.of("rec-nobody-" + System.nanoTime(), stale)) {
        Recommendations r = client.recommend(user, 2);
        assertThat(r.personalized()).isFalse();
        assertThat(ids(r.items())).containsExactly("p1", "a");
        assertThat(r.items()).allMatch(i -> i.source() == Source.POPULARITY);
      }
    }
  }

  @Test
  void nothingPublishedGivesAnEmptyListAndBadRequestsAreRefused(LocalStack stack) {
    try (OnlineStore store = OnlineStore.connect(stack.redisUri());
        OnlineFeatureClient client = new OnlineFeatureClient(store, DEFS, Clock.fixed(NOW, ZoneOffset.UTC))) {
      store.delete(List.of(FeastKeyCodec.redisKey(DEFS.project(), "user_id", Recommender.POPULAR_USER)));
      Recommendations r = client.recommend("rec-first-day-" + System.nanoTime(), 5);
      assertThat(r.items()).isEmpty();
      assertThat(r.modelVersion()).isNull();
      assertThatThrownBy(() -> client.recommend("", 5)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("user_id");
      assertThatThrownBy(() -> client.recommend("u", 101)).hasMessageContaining("between 1 and 100");
    }
  }

  @Test
  void theGrpcServiceAnswersLikeTheJavaClient(LocalStack stack) throws Exception {
    String u = "rec-grpc-" + System.nanoTime();
    try (OnlineStore store = OnlineStore.connect(stack.redisUri());
        FeatureServer server = FeatureServer.start(stack.redisUri(), DEFS, 0);
        OnlineFeatureClient client = new OnlineFeatureClient(stack.redisUri(), DEFS)) {
      Instant now = Instant.now();
      publish(store, u, now.minusSeconds(60), now.minusSeconds(60));
      store.write(List.of(
          row("user_interests_1h", u, now, List.of(2L, List.of("x"))),
          row("user_recent_items", u, now, List.of(List.of(), List.of("a")))), KEY_TTL, 10);
      Recommendations expected = client.recommend(u, 4);
      // a bought (dropped, but still the list's best score); b 0.889; d 0.444 + 0.3 for x; c 0.556; then p1
      assertThat(ids(expected.items())).containsExactly("b", "d", "c", "p1");

      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
      try {
        var stub = RecommendationServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        RecommendResponse got = stub.recommend(RecommendRequest.newBuilder().setUserId(u).setK(4).build());
        assertThat(got.getItemsList()).extracting(RecommendedItem::getItemId).containsExactlyElementsOf(
            ids(expected.items()));
        assertThat(got.getItemsList()).extracting(RecommendedItem::getScore).containsExactlyElementsOf(
            expected.items().stream().map(Item::score).toList());
        assertThat(got.getItems(1).getCategoryBoosted()).isTrue();
        assertThat(got.getItems(3).getSource()).isEqualTo(io.recsys.serving.proto.Source.SOURCE_POPULARITY);
        assertThat(got.getPersonalized()).isTrue();
        assertThat(got.getModelVersion()).isEqualTo("v20260430");
        assertThat(got.getDroppedPurchasedList()).containsExactly("a");
        assertThat(stub.recommend(RecommendRequest.newBuilder().setUserId(u).build()).getItemsCount())
            .as("k 0 means the default, 10; 5 candidates are left").isEqualTo(5);

        assertThatThrownBy(() -> stub.recommend(RecommendRequest.newBuilder().setK(3).build()))
            .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("INVALID_ARGUMENT")
            .hasMessageContaining("user_id");
        assertThatThrownBy(() -> stub.recommend(RecommendRequest.newBuilder().setUserId(u).setK(1000).build()))
            .hasMessageContaining("INVALID_ARGUMENT").hasMessageContaining("between 1 and 100");
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}
