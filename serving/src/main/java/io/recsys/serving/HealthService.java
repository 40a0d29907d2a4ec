package io.recsys.serving;

import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.health.v1.HealthProto.HealthCheckRequest;
import io.grpc.health.v1.HealthProto.HealthCheckResponse;
import io.grpc.health.v1.HealthProto.ServingStatus;
import io.grpc.stub.StreamObserver;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The standard gRPC health check ({@code grpc.health.v1.Health/Check}, as used by grpc_health_probe and
 * Kubernetes gRPC probes): SERVING when Redis answers a PING, NOT_SERVING when it does not. Service names: ""
 * (the server) and "feast.serving.ServingService"; any other is NOT_FOUND, as the protocol says.
 */
final class HealthService extends HealthGrpc.HealthImplBase {

  static final Set<String> SERVICES = Set.of("", "feast.serving.ServingService");

  private final OnlineFeatureClient client;
  private final Executor blocking;

  /** {@code blocking} runs the Redis PING of each check: gRPC's threads must not wait on Redis. */
  HealthService(OnlineFeatureClient client, Executor blocking) {
    this.client = client;
    this.blocking = blocking;
  }

  @Override
  public void check(HealthCheckRequest request, StreamObserver<HealthCheckResponse> out) {
    if (!SERVICES.contains(request.getService())) {
      out.onError(Status.NOT_FOUND.withDescription("unknown service '" + request.getService() + "'")
          .asRuntimeException());
      return;
    }
    try {
      blocking.execute(() -> {
        ServingStatus status = client.ping() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
        out.onNext(HealthCheckResponse.newBuilder().setStatus(status).build());
        out.onCompleted();
      });
    } catch (RejectedExecutionException e) {
      out.onError(Status.UNAVAILABLE.withDescription("the server is shutting down").asRuntimeException());
    }
  }
}
