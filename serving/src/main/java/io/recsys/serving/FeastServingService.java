package io.recsys.serving;

import feast.proto.serving.ServingAPIProto.FieldStatus;
import feast.proto.serving.ServingAPIProto.GetFeastServingInfoRequest;
import feast.proto.serving.ServingAPIProto.GetFeastServingInfoResponse;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesRequest;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponse;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponse.FeatureVector;
import feast.proto.serving.ServingServiceGrpc;
import feast.proto.types.ValueProto.RepeatedValue;
import feast.proto.types.ValueProto.Value;
import io.grpc.BindableService;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.recsys.feast.FeastValueCodec;
import io.recsys.features.Entity;
import io.recsys.serving.OnlineFeatureClient.Plan;
import io.recsys.serving.OnlineFeatureClient.Ref;
import io.recsys.serving.OnlineFeatureClient.StoredValue;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.redisson.client.RedisException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feast's {@code feast.serving.ServingService} over the Redis online store, so serving code that uses
 * {@code dev.feast.FeastClient} (or any Feast gRPC client) works unchanged.
 *
 * <p>The response is Feast's: one column per requested join key (echoed) and per feature, each column a
 * {@link FeatureVector} with one value, status and event timestamp per entity row. Feature names are "feature"
 * or, with {@code full_feature_names}, "view__feature"; as in Feast, two requested features with the same short
 * name need {@code full_feature_names}. Statuses are PRESENT, NULL_VALUE (stored null), NOT_FOUND and
 * OUTSIDE_MAX_AGE (older than the view's TTL). Views of several entities can be asked for in one request; each
 * entity costs one pipelined Redis round trip.
 *
 * <p>Bad requests get INVALID_ARGUMENT or NOT_FOUND with a message naming the problem; an unreachable Redis gets
 * UNAVAILABLE; a stored value that is not a serialized Value gets DATA_LOSS naming the feature and the entity.
 * Nothing a client sends stops the server.
 *
 * <p>Stored values are passed on as Redis returns them, not parsed: the response is written as bytes by
 * {@link OnlineFeaturesResponseWriter}, and only their wire format is walked (for the NULL_VALUE status).
 */
final class FeastServingService implements BindableService {

  private static final Logger LOG = LoggerFactory.getLogger(FeastServingService.class);

  /**
   * GetOnlineFeatures as Feast's stub declares it, with the response marshalled from the bytes that
   * {@link OnlineFeaturesResponseWriter} wrote (the request is parsed by Feast's own marshaller). On the wire it is
   * Feast's method: same name, same messages.
   */
  private static final MethodDescriptor<GetOnlineFeaturesRequest, byte[]> GET_ONLINE_FEATURES =
      ServingServiceGrpc.getGetOnlineFeaturesMethod().toBuilder(
          ServingServiceGrpc.getGetOnlineFeaturesMethod().getRequestMarshaller(), new SerializedResponse()).build();

  private final OnlineFeatureClient client;
  private final ServingMetrics metrics;
  private final String version;

  FeastServingService(OnlineFeatureClient client, ServingMetrics metrics, String version) {
    this.client = client;
    this.metrics = metrics;
    this.version = version;
  }

  /** Feast's ServingService: its two methods, GetOnlineFeatures with the response written as bytes. */
  @Override
  public ServerServiceDefinition bindService() {
    ServiceDescriptor feast = ServingServiceGrpc.getServiceDescriptor();
    MethodDescriptor<GetFeastServingInfoRequest, GetFeastServingInfoResponse> info =
        ServingServiceGrpc.getGetFeastServingInfoMethod();
    if (feast.getMethods().size() != 2) {
      throw new IllegalStateException("Feast's ServingService has " + feast.getMethods() + "; this server serves "
          + info.getFullMethodName() + " and " + GET_ONLINE_FEATURES.getFullMethodName() + " (feast-serving-client "
          + "0.38)");
    }
    ServiceDescriptor service = ServiceDescriptor.newBuilder(feast.getName())
        .setSchemaDescriptor(feast.getSchemaDescriptor())
        .addMethod(info)
        .addMethod(GET_ONLINE_FEATURES)
        .build();
    return ServerServiceDefinition.builder(service)
        .addMethod(info, ServerCalls.asyncUnaryCall(this::getFeastServingInfo))
        .addMethod(GET_ONLINE_FEATURES, ServerCalls.asyncUnaryCall(this::getOnlineFeatures))
        .build();
  }

  /** A response that is bytes already: sent as they are (gRPC reads a ByteArrayInputStream's length). */
  private static final class SerializedResponse implements MethodDescriptor.Marshaller<byte[]> {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  void getFeastServingInfo(GetFeastServingInfoRequest request,
      StreamObserver<GetFeastServingInfoResponse> out) {
    out.onNext(GetFeastServingInfoResponse.newBuilder().setVersion(version).build());
    out.onCompleted();
  }

  /**
   * Checks the request and resolves its features on the calling thread (gRPC's transport thread: the server
   * runs handlers without a hand-off, {@link FeatureServer}), sends the Redis reads without waiting for them,
   * and answers from Redisson's I/O thread when the replies are in. No thread waits on Redis.
   */
  void getOnlineFeatures(GetOnlineFeaturesRequest request, StreamObserver<byte[]> out) {
    long start = System.nanoTime();
    CompletionStage<byte[]> answer;
    try {
      answer = answer(request);
    } catch (RuntimeException e) {
      fail(out, e, start);
      return;
    }
    answer.whenComplete((response, error) -> {
      if (error != null) {
        fail(out, error instanceof CompletionException && error.getCause() != null ? error.getCause() : error,
            start);
        return;
      }
      try {
        out.onNext(response);
        out.onCompleted();
      } catch (RuntimeException e) {
        fail(out, e, start);
        return;
      }
      metrics.lookup("GetOnlineFeatures", "ok", System.nanoTime() - start);
    });
  }

  /** Maps a failure to the gRPC status the class comment names, answers with it and records the outcome. */
  private void fail(StreamObserver<byte[]> out, Throwable error, long start) {
    String outcome;
    Status status;
    if (error instanceof IllegalArgumentException) {
      outcome = "invalid_argument";
      status = Status.INVALID_ARGUMENT.withDescription(error.getMessage());
    } else if (error instanceof NotFound) {
      outcome = "not_found";
      status = Status.NOT_FOUND.withDescription(error.getMessage());
    } else if (error instanceof CorruptValue) {
      outcome = "data_loss";
      LOG.error("GetOnlineFeatures: {}", error.getMessage());
      status = Status.DATA_LOSS.withDescription(error.getMessage());
    } else if (error instanceof RedisException) {
      outcome = "unavailable";
      LOG.warn("GetOnlineFeatures: online store read failed: {}", error.toString());
      status = Status.UNAVAILABLE.withDescription("online store read failed: " + error.getMessage()).withCause(error);
    } else {
      outcome = "internal";
      LOG.error("GetOnlineFeatures failed", error);
      status = Status.INTERNAL.withDescription(error.toString()).withCause(error);
    }
    try {
      out.onError(status.asRuntimeException());
    } catch (RuntimeException e) {
      LOG.debug("GetOnlineFeatures: could not send the error (the call is gone): {}", e.toString());
    }
    metrics.lookup("GetOnlineFeatures", outcome, System.nanoTime() - start);
  }

  private static final class NotFound extends RuntimeException {
    NotFound(String message) {
      super(message);
    }
  }

  /** A stored value that is not a serialized Value: the store's data is bad, not the request. */
  private static final class CorruptValue extends RuntimeException {
    CorruptValue(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * The response to a request, serialized (a {@link GetOnlineFeaturesResponse}). Bad requests throw here
   * (IllegalArgumentException, NotFound); the Redis reads are sent before this returns, and the stage completes
   * when they are in.
   */
  CompletionStage<byte[]> answer(GetOnlineFeaturesRequest request) {
    if (request.getKindCase() == GetOnlineFeaturesRequest.KindCase.FEATURE_SERVICE) {
      throw new NotFound("feature service '" + request.getFeatureService() + "' is not defined: features.yaml "
          + "defines feature views only; ask for features as \"view:feature\"");
    }
    List<String> names = request.getFeatures().getValList();
    if (names.isEmpty()) {
      throw new IllegalArgumentException("no features requested; set features to a list of \"view:feature\"");
    }
    Shape shape = shape(names, request.getFullFeatureNames());
    if (!request.getRequestContextMap().isEmpty()) {
      throw new IllegalArgumentException("request_context is for on-demand feature views, which this server "
          + "does not have; remove it");
    }

    // The number of rows, and the join keys' values as strings (the online keys).
    Map<String, RepeatedValue> entities = request.getEntitiesMap();
    int rows = -1;
    for (Map.Entry<String, RepeatedValue> e : entities.entrySet()) {
      int n = e.getValue().getValCount();
      if (rows >= 0 && n != rows) {
        throw new IllegalArgumentException("entity columns differ in length: '" + e.getKey() + "' has " + n
            + " values, another has " + rows);
      }
      rows = n;
    }
    List<Group> groups = shape.groups();
    List<List<String>> keyValues = new ArrayList<>(groups.size());
    for (Group group : groups) {
      Entity entity = group.entity();
      RepeatedValue column = entities.get(entity.joinKey());
      if (column == null) {
        throw new IllegalArgumentException("features of entity " + entity.name() + " need its join key '"
            + entity.joinKey() + "' in entities; got " + entities.keySet());
      }
      keyValues.add(keys(entity, column));
    }
    int rowCount = Math.max(rows, 0);

    // One round trip per entity, all sent at once.
    List<CompletableFuture<List<List<StoredValue>>>> reads = new ArrayList<>(groups.size());
    for (int g = 0; g < groups.size(); g++) {
      reads.add(client.lookupAsync(keyValues.get(g), groups.get(g).plan()).toCompletableFuture());
    }
    List<String> columnNames = shape.columnNames();
    int joinKeys = groups.size(); // the join keys' columns come first, as Feast sends them
    List<Ref> refs = shape.refs();
    return CompletableFuture.allOf(reads.toArray(new CompletableFuture<?>[0])).thenApply(done -> {
      OnlineFeaturesResponseWriter response = new OnlineFeaturesResponseWriter(columnNames.size(), rowCount);
      for (int c = 0; c < columnNames.size(); c++) {
        response.name(c, columnNames.get(c));
      }
      for (int c = 0; c < joinKeys; c++) {
        List<Value> keys = entities.get(columnNames.get(c)).getValList();
        for (int row = 0; row < rowCount; row++) {
          response.set(c, row, keys.get(row).toByteArray(), FieldStatus.PRESENT, OnlineFeaturesResponseWriter.empty());
        }
      }
      Instant lastTime = null; // the values of a view row share their Instant: its Timestamp is written once
      byte[] lastTimestamp = null;
      for (int g = 0; g < groups.size(); g++) {
        int[] indexes = groups.get(g).indexes();
        List<List<StoredValue>> group = reads.get(g).join();
        for (int row = 0; row < group.size(); row++) {
          List<StoredValue> values = group.get(row);
          for (int i = 0; i < indexes.length; i++) {
            StoredValue v = values.get(i);
            Instant t = v.eventTime();
            if (t != lastTime) {
              lastTime = t;
              lastTimestamp = t == null ? OnlineFeaturesResponseWriter.empty() : FeastValueCodec.encodeTimestamp(t);
            }
            FieldStatus status;
            try {
              status = status(v);
            } catch (IllegalArgumentException e) {
              throw new CorruptValue("the online store's value of " + refs.get(indexes[i]).ref() + " for "
                  + groups.get(g).entity().joinKey() + "=" + keyValues.get(g).get(row) + " is " + e.getMessage()
                  + "; write it again (materialize the view, or replay its events)", e);
            }
            response.set(joinKeys + indexes[i], row, v.bytes(), status, lastTimestamp);
          }
        }
      }
      byte[] bytes = response.toByteArray();
      metrics.served(rowCount, refs.size());
      return bytes;
    });
  }

  /**
   * What a list of feature names resolves to, whatever the entity rows: the references; per entity (in the order
   * of its first feature) the indexes of its references and the plan of its Redis read; and the response's column
   * names (the entities' join keys, then the features). Serving code sends the same list call after call, so it is
   * built once per distinct list and cached: a call then costs one look-up of its list instead of resolving 250
   * names, planning the read and checking the names for clashes again.
   */
  private record Shape(List<Ref> refs, List<Group> groups, List<String> columnNames) {}

  private record Group(Entity entity, int[] indexes, Plan plan) {}

  private static final int SHAPE_CACHE_LIMIT = 1024;
  private final Map<List<String>, Shape> shapes = new ConcurrentHashMap<>();
  private final Map<List<String>, Shape> fullNameShapes = new ConcurrentHashMap<>();

  /** The cached {@link Shape} of the names; throws for bad names (nothing is cached then). */
  private Shape shape(List<String> names, boolean fullFeatureNames) {
    Map<List<String>, Shape> cache = fullFeatureNames ? fullNameShapes : shapes;
    Shape shape = cache.get(names);
    if (shape == null) {
      shape = buildShape(names, fullFeatureNames);
      if (cache.size() >= SHAPE_CACHE_LIMIT) {
        cache.clear();
      }
      cache.put(List.copyOf(names), shape);
    }
    return shape;
  }

  private Shape buildShape(List<String> names, boolean fullFeatureNames) {
    List<Ref> refs = client.resolve(names);
    // Grouped by index: Ref records hash their whole view, which is too slow for a map key.
    Map<String, List<Integer>> byEntity = new LinkedHashMap<>();
    for (int i = 0; i < refs.size(); i++) {
      byEntity.computeIfAbsent(refs.get(i).view().entity(), e -> new ArrayList<>()).add(i);
    }
    List<String> columnNames = new ArrayList<>();
    List<Group> groups = new ArrayList<>();
    for (Map.Entry<String, List<Integer>> e : byEntity.entrySet()) {
      Entity entity = client.definitions().entities().get(e.getKey());
      List<Integer> indexes = e.getValue();
      List<String> groupNames = indexes.size() == names.size() ? names : indexes.stream().map(names::get).toList();
      groups.add(new Group(entity, indexes.stream().mapToInt(Integer::intValue).toArray(), client.plan(groupNames)));
      columnNames.add(entity.joinKey());
    }
    Map<String, String> seen = new HashMap<>();
    for (Ref r : refs) {
      String name = fullFeatureNames ? r.view().name() + "__" + r.feature().name() : r.feature().name();
      String earlier = seen.putIfAbsent(name, r.ref());
      if (earlier != null) {
        throw new IllegalArgumentException("'" + earlier + "' and '" + r.ref() + "' would both be named '" + name
            + "'; set full_feature_names to get \"view__feature\" names (Feast's rule)");
      }
      columnNames.add(name);
    }
    return new Shape(refs, List.copyOf(groups), List.copyOf(columnNames));
  }

  /** The online key of each value: Feast keys string entities by the string, so other kinds are refused. */
  private static List<String> keys(Entity entity, RepeatedValue column) {
    List<String> out = new ArrayList<>(column.getValCount());
    for (Value v : column.getValList()) {
      switch (v.getValCase()) {
        case STRING_VAL -> out.add(v.getStringVal());
        case VAL_NOT_SET -> throw new IllegalArgumentException("entity '" + entity.joinKey()
            + "' has an empty (null) value; every entity row needs a key");
        default -> throw new IllegalArgumentException("entity '" + entity.joinKey() + "' is " + entity.valueType()
            + " but a value is " + v.getValCase() + " (" + FeastValueCodec.toJava(v) + "); send it as a string, e.g. "
            + "Row.create().set(\"" + entity.joinKey() + "\", \"42\")");
      }
    }
    return out;
  }

  private static FieldStatus status(StoredValue v) {
    return switch (v.status()) {
      case PRESENT -> FeastValueCodec.isNull(v.bytes()) ? FieldStatus.NULL_VALUE : FieldStatus.PRESENT;
      case NOT_FOUND -> FieldStatus.NOT_FOUND;
      case OUTSIDE_MAX_AGE -> FieldStatus.OUTSIDE_MAX_AGE;
    };
  }
}
