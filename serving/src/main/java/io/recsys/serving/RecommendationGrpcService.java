package io.recsys.serving;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.recsys.serving.proto.RecommendRequest;
import io.recsys.serving.proto.RecommendResponse;
import io.recsys.serving.proto.RecommendationServiceGrpc;
import io.recsys.serving.proto.RecommendedItem;
import io.recsys.serving.proto.Source;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.redisson.client.RedisException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code recsys.serving.v1.RecommendationService} (src/main/proto/recsys/serving/v1/recommend.proto) over
 * {@link Recommender}. Errors: INVALID_ARGUMENT (empty user_id, k outside 1..100), UNAVAILABLE (Redis), INTERNAL.
 */
final class RecommendationGrpcService extends RecommendationServiceGrpc.RecommendationServiceImplBase {

  private static final Logger LOG = LoggerFactory.getLogger(RecommendationGrpcService.class);

  private final Recommender recommender;
  private final ServingMetrics metrics;
  private final Executor blocking;

  /** {@code blocking} runs each call: a recommendation waits on Redis, and gRPC's threads must not. */
  RecommendationGrpcService(Recommender recommender, ServingMetrics metrics, Executor blocking) {
    this.recommender = recommender;
    this.metrics = metrics;
    this.blocking = blocking;
  }

  @Override
  public void recommend(RecommendRequest request, StreamObserver<RecommendResponse> out) {
    long start = System.nanoTime();
    try {
      blocking.execute(() -> answer(request, out, start));
    } catch (RejectedExecutionException e) {
      out.onError(Status.UNAVAILABLE.withDescription("the server is shutting down").asRuntimeException());
    }
  }

  private void answer(RecommendRequest request, StreamObserver<RecommendResponse> out, long start) {
    String outcome = "ok";
    try {
      int k = request.getK() == 0 ? Recommender.DEFAULT_K : request.getK();
      Recommender.Recommendations r = recommender.recommend(request.getUserId(), k);
      RecommendResponse.Builder b = RecommendResponse.newBuilder().setUserId(r.userId())
          .setPersonalized(r.personalized()).addAllDroppedPurchased(r.droppedPurchased());
      if (r.modelVersion() != null) {
        b.setModelVersion(r.modelVersion());
      }
      for (Recommender.Item i : r.items()) {
        b.addItems(RecommendedItem.newBuilder().setItemId(i.itemId()).setScore(i.score())
            .setModelScore(i.modelScore()).setCategory(i.category() == null ? "" : i.category())
            .setSource(i.source() == Recommender.Source.MODEL ? Source.SOURCE_MODEL : Source.SOURCE_POPULARITY)
            .setCategoryBoosted(i.categoryBoosted()));
      }
      metrics.served(1, r.items().size());
      out.onNext(b.build());
      out.onCompleted();
    } catch (IllegalArgumentException e) {
      outcome = "invalid_argument";
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
    } catch (RedisException e) {
      outcome = "unavailable";
      LOG.warn("Recommend: online store read failed: {}", e.toString());
      out.onError(Status.UNAVAILABLE.withDescription("online store read failed: " + e.getMessage())
          .withCause(e).asRuntimeException());
    } catch (RuntimeException e) {
      outcome = "internal";
      LOG.error("Recommend failed", e);
      out.onError(Status.INTERNAL.withDescription(e.toString()).withCause(e).asRuntimeException());
    } finally {
      metrics.lookup("Recommend", outcome, System.nanoTime() - start);
    }
  }
}
