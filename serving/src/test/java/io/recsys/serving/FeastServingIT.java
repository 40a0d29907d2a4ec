package io.recsys.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.feast.FeastClient;
import dev.feast.Row;
import feast.proto.serving.ServingAPIProto.FieldStatus;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesRequest;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponse;
import feast.proto.serving.ServingAPIProto.FeatureList;
import feast.proto.serving.ServingServiceGrpc;
import feast.proto.types.ValueProto.RepeatedValue;
import feast.proto.types.ValueProto.Value;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.health.v1.HealthProto.HealthCheckRequest;
import io.grpc.health.v1.HealthProto.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.recsys.feast.FeastKeyCodec;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.infra.stack.LocalStack;
import io.recsys.infra.stack.LocalStackExtension;
import io.recsys.infra.stack.internal.RedisServerProcess;
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.redisson.Redisson;
import org.redisson.api.RScript;
import org.redisson.api.RedissonClient;
import org.redisson.client.RedisException;
import org.redisson.client.codec.ByteArrayCodec;
import org.redisson.config.Config;

/**
 * Serving code written against the official Feast Java client ({@code dev.feast.FeastClient} 0.38.0) works
 * unchanged against our gRPC server, in-process and as the plain {@code java -jar} a user deploys; both read
 * what the jobs' writer put in a real redis-server.
 */
@ExtendWith(LocalStackExtension.class)
class FeastServingIT {

  static final FeatureDefinitions DEFS = FeatureDefinitions.load();
  // Event times relative to now: the server reads with the real clock (TTL checks).
  static final Instant NOW = Instant.now().truncatedTo(ChronoUnit.SECONDS);
  static final String U1 = "grpc-u1-" + System.nanoTime();
  static final String U2 = "grpc-u2-" + System.nanoTime();
  static final String ITEM = "grpc-item-" + System.nanoTime();
  static final String U3 = "grpc-u3-" + System.nanoTime(); // a stored null
  static final String U4 = "grpc-u4-" + System.nanoTime(); // a stored value that is not a Value

  static FeatureServer server;

  static OnlineRow row(String view, String key, Instant t, List<?> values) {
    FeatureView v = DEFS.view(view);
    return OnlineRow.encode(DEFS.project(), DEFS.entities().get(v.entity()), v, key, t, values);
  }

  @BeforeAll
  static void writeAndStart(LocalStack stack) {
    try (OnlineStore store = OnlineStore.connect(stack.redisUri())) {
      List<Object> withNull = new ArrayList<>(List.of(0L, 0L, 0L));
      withNull.add(null);
      store.write(List.of(
          row("user_activity_1h", U1, NOW.minusSeconds(60), List.of(3L, 2L, 1L, 0L)),
          row("user_recent_items", U1, NOW.minusSeconds(30), List.of(List.of("i9", "i4"), List.of("i2"))),
          // seven hours old: user_activity_1h's TTL is 6h
          row("user_activity_1h", U2, NOW.minus(Duration.ofHours(7)), List.of(1L, 0L, 0L, 0L)),
          row("item_popularity", ITEM, NOW.minusSeconds(10), List.of(40L, 2L, 0.05)),
          row("user_activity_1h", U3, NOW.minusSeconds(60), withNull),
          row("user_activity_1h", U4, NOW.minusSeconds(60), List.of(5L, 0L, 0L, 0L))),
          Duration.ofDays(2).toMillis(), 100);
    }
    server = FeatureServer.start(stack.redisUri(), DEFS, 0);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void theFeastJavaClientReadsFeaturesWithTheirStatuses() throws Exception {
    try (FeastClient feast = FeastClient.create("127.0.0.1", server.port())) {
      assertThat(feast.getFeastServingInfo().getVersion()).contains("recsys").contains(DEFS.project());

      List<Row> rows = feast.getOnlineFeatures(
          List.of("user_activity_1h:views", "user_activity_1h:purchases", "user_recent_items:last_viewed_items"),
          List.of(Row.create().set("user_id", U1), Row.create().set("user_id", U2),
              Row.create().set("user_id", "nobody-" + System.nanoTime())));

      assertThat(rows).hasSize(3);
      Row r1 = rows.get(0);
      assertThat(r1.getString("user_id")).isEqualTo(U1);
      assertThat(r1.getLong("views")).isEqualTo(3L);
      assertThat(r1.getLong("purchases")).isEqualTo(0L);
      assertThat(r1.getFields().get("last_viewed_items").getStringListVal().getValList()).containsExactly("i9", "i4");
      assertThat(r1.getStatus("views")).isEqualTo(FieldStatus.PRESENT);
      assertThat(r1.getStatus("last_viewed_items")).isEqualTo(FieldStatus.PRESENT);

      Row r2 = rows.get(1);
      assertThat(r2.getStatus("views")).isEqualTo(FieldStatus.OUTSIDE_MAX_AGE);
      assertThat(r2.getStatus("last_viewed_items")).isEqualTo(FieldStatus.NOT_FOUND);
      assertThat(rows.get(2).getStatuses()).containsEntry("views", FieldStatus.NOT_FOUND)
          .containsEntry("purchases", FieldStatus.NOT_FOUND);
    }
  }

  @Test
  void oneRequestCanAskForViewsOfTwoEntitiesAndGetsFeastsColumnarResponse() {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    try {
      GetOnlineFeaturesResponse response = ServingServiceGrpc.newBlockingStub(channel).getOnlineFeatures(
          GetOnlineFeaturesRequest.newBuilder()
              .setFeatures(FeatureList.newBuilder()
                  .addVal("user_activity_1h:views").addVal("item_popularity:conversion_24h"))
              .putEntities("user_id", strings(U1))
              .putEntities("item_id", strings(ITEM))
              .setFullFeatureNames(true)
              .build());
      assertThat(response.getMetadata().getFeatureNames().getValList())
          .containsExactly("user_id", "item_id", "user_activity_1h__views", "item_popularity__conversion_24h");
      assertThat(response.getResults(2).getValues(0).getInt64Val()).isEqualTo(3L);
      assertThat(response.getResults(3).getValues(0).getDoubleVal()).isEqualTo(0.05);
      assertThat(response.getResults(3).getEventTimestamps(0).getSeconds())
          .isEqualTo(NOW.minusSeconds(10).getEpochSecond());
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void badRequestsGetAClearStatusAndTheServerKeepsServing() throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    try {
      var stub = ServingServiceGrpc.newBlockingStub(channel);
      assertThatThrownBy(() -> stub.getOnlineFeatures(request(List.of("no_such_view:x"), "user_id", strings(U1))))
          .isInstanceOf(StatusRuntimeException.class)
          .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getCode())
              .isEqualTo(Status.Code.INVALID_ARGUMENT))
          .hasMessageContaining("unknown feature view 'no_such_view'");
      // same short name in two views without full_feature_names: Feast's rule
      assertThatThrownBy(() -> stub.getOnlineFeatures(
          request(List.of("user_activity_1h:views", "user_activity_24h:views"), "user_id", strings(U1))))
          .hasMessageContaining("full_feature_names");
      // the entity key missing, and given as a number
      assertThatThrownBy(() -> stub.getOnlineFeatures(
          request(List.of("user_activity_1h:views"), "item_id", strings(ITEM))))
          .hasMessageContaining("join key 'user_id'");
      assertThatThrownBy(() -> stub.getOnlineFeatures(request(List.of("user_activity_1h:views"), "user_id",
          RepeatedValue.newBuilder().addVal(Value.newBuilder().setInt64Val(42)).build())))
          .hasMessageContaining("INT64_VAL");
      assertThatThrownBy(() -> stub.getOnlineFeatures(GetOnlineFeaturesRequest.newBuilder()
          .setFeatureService("recommendation_v1").putEntities("user_id", strings(U1)).build()))
          .satisfies(e -> assertThat(((StatusRuntimeException) e).getStatus().getCode())
              .isEqualTo(Status.Code.NOT_FOUND));

      GetOnlineFeaturesResponse ok = stub.getOnlineFeatures(
          request(List.of("user_activity_1h:views"), "user_id", strings(U1)));
      assertThat(ok.getResults(1).getValues(0).getInt64Val()).isEqualTo(3L);
      assertThat(HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.getDefaultInstance()).getStatus())
          .isEqualTo(ServingStatus.SERVING);
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void aStoredNullIsNullValueAndABrokenStoredValueGetsDataLossNamingIt(LocalStack stack) {
    // U4's views overwritten with a truncated Value (a string that says 5 bytes follow, and 1 does)
    byte[] key = FeastKeyCodec.redisKey(DEFS.project(), "user_id", U4);
    Config config = new Config();
    config.useSingleServer().setAddress(stack.redisUri());
    RedissonClient redis = Redisson.create(config);
    try {
      redis.getScript(ByteArrayCodec.INSTANCE).eval(RScript.Mode.READ_WRITE,
          "return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])", RScript.ReturnType.INTEGER,
          List.<Object>of(key), FeastKeyCodec.featureField("user_activity_1h", "views"), new byte[] {0x12, 0x05, 0x61});
    } finally {
      redis.shutdown();
    }
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    try {
      var stub = ServingServiceGrpc.newBlockingStub(channel);
      GetOnlineFeaturesResponse nulls = stub.getOnlineFeatures(
          request(List.of("user_activity_1h:views", "user_activity_1h:purchases"), "user_id", strings(U3)));
      assertThat(nulls.getResults(1).getStatuses(0)).isEqualTo(FieldStatus.PRESENT);
      assertThat(nulls.getResults(1).getValues(0).getInt64Val()).isEqualTo(0L);
      assertThat(nulls.getResults(2).getStatuses(0)).isEqualTo(FieldStatus.NULL_VALUE);
      assertThat(nulls.getResults(2).getValues(0).getValCase()).isEqualTo(Value.ValCase.VAL_NOT_SET);
      assertThat(nulls.getResults(2).getEventTimestamps(0).getSeconds())
          .isEqualTo(NOW.minusSeconds(60).getEpochSecond());

      assertThatThrownBy(() -> stub.getOnlineFeatures(
          request(List.of("user_activity_1h:clicks", "user_activity_1h:views"), "user_id", strings(U4))))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
              .isEqualTo(Status.Code.DATA_LOSS))
          .hasMessageContaining("user_activity_1h:views for user_id=" + U4)
          .hasMessageContaining("not a serialized feast.types.Value");
      // the other features of that row, and the server, are fine
      GetOnlineFeaturesResponse clicks = stub.getOnlineFeatures(
          request(List.of("user_activity_1h:clicks"), "user_id", strings(U4)));
      assertThat(clicks.getResults(1).getStatuses(0)).isEqualTo(FieldStatus.PRESENT);
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void thePlainJavaJarServesTheFeastClientAndReportsHealthAndMetrics(LocalStack stack) throws Exception {
    Path jar = Path.of("target", "recsys-feature-server.jar");
    assertThat(jar).exists();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-jar", jar.toString(), "--redis", stack.redisUri(), "--port", "0",
        "--host", "127.0.0.1", "--metrics-port", "0").redirectErrorStream(true).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      Pattern listening = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+).*metrics on :(\\d+)/metrics");
      Matcher m = null;
      StringBuilder seen = new StringBuilder();
      for (String line; (line = out.readLine()) != null; ) {
        seen.append(line).append('\n');
        Matcher candidate = listening.matcher(line);
        if (candidate.find()) {
          m = candidate;
          break;
        }
      }
      assertThat(m).as("server output:\n%s", seen).isNotNull();
      int port = Integer.parseInt(m.group(1));
      int metricsPort = Integer.parseInt(m.group(2));
      Thread drain = new Thread(() -> out.lines().forEach(l -> { }));
      drain.setDaemon(true);
      drain.start();

      try (FeastClient feast = FeastClient.create("127.0.0.1", port)) {
        List<Row> rows = feast.getOnlineFeatures(List.of("item_popularity:views_24h", "item_popularity:conversion_24h"),
            List.of(Row.create().set("item_id", ITEM)));
        assertThat(rows.get(0).getLong("views_24h")).isEqualTo(40L);
        assertThat(rows.get(0).getDouble("conversion_24h")).isEqualTo(0.05);
      }
      String metrics = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      assertThat(metrics).contains("recsys_serving_lookup_seconds_count{method=\"GetOnlineFeatures\",outcome=\"ok\"} 1");
      assertThat(metrics).contains("recsys_serving_entity_rows_total 1");
    } finally {
      p.destroy(); // SIGTERM: the shutdown hook stops the server
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(p.exitValue()).isIn(0, 143);
  }

  @Test
  void theJarRefusesToStartWithoutAReachableRedisAndSaysWhy() throws Exception {
    Path jar = Path.of("target", "recsys-feature-server.jar");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-jar", jar.toString(), "--redis", "127.0.0.1:1", "--port", "0",
        "--metrics-port", "-1").redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(output).isEqualTo(2);
    assertThat(output).contains("feature-server: cannot connect to Redis at 127.0.0.1:1");
  }

  /**
   * The server answers GetOnlineFeatures from Redisson's thread when Redis replies, and never waits on Redis on
   * gRPC's threads: a Redis that goes away must still get every call an answer (UNAVAILABLE, not a hang), the
   * health check must say NOT_SERVING, and lookups must work again once Redis is back.
   */
  @Test
  void whenRedisGoesAwayCallsGetUnavailableAndServingResumesWhenItIsBack(@TempDir Path dir) throws Exception {
    int port;
    try (ServerSocket free = new ServerSocket(0)) {
      port = free.getLocalPort();
    }
    String redis = "127.0.0.1:" + port;
    List<OnlineRow> rows = List.of(row("item_popularity", ITEM, NOW.minusSeconds(10), List.of(40L, 2L, 0.05)));
    GetOnlineFeaturesRequest views = request(List.of("item_popularity:views_24h"), "item_id", strings(ITEM));
    RedisServerProcess own = RedisServerProcess.start(dir.resolve("redis"), port);
    try (FeatureServer ownServer = FeatureServer.start(redis, DEFS, 0);
        OnlineFeatureClient direct = new OnlineFeatureClient(redis, DEFS)) {
      try (OnlineStore store = OnlineStore.connect(redis)) {
        store.write(rows, Duration.ofDays(2).toMillis(), 100);
      }
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", ownServer.port()).usePlaintext().build();
      try {
        var stub = ServingServiceGrpc.newBlockingStub(channel);
        var health = HealthGrpc.newBlockingStub(channel);
        assertThat(stub.getOnlineFeatures(views).getResults(1).getValues(0).getInt64Val()).isEqualTo(40L);

        own.close();
        own = null;
        assertThatThrownBy(() -> stub.withDeadlineAfter(120, TimeUnit.SECONDS).getOnlineFeatures(views))
            .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
              assertThat(e.getStatus().getDescription()).contains("online store read failed");
            });
        assertThat(health.withDeadlineAfter(120, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance())
            .getStatus()).isEqualTo(ServingStatus.NOT_SERVING);
        // our client's read of several entities (one pipeline) fails with Redis's exception, not a wrapper
        assertThatThrownBy(() -> direct.get(List.of(ITEM, ITEM + "-other"), List.of("item_popularity:views_24h")))
            .isInstanceOf(RedisException.class);

        own = RedisServerProcess.start(dir.resolve("redis-again"), port);
        try (OnlineStore store = OnlineStore.connect(redis)) {
          store.write(rows, Duration.ofDays(2).toMillis(), 100);
        }
        GetOnlineFeaturesResponse again = null;
        for (long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); again == null; ) {
          try {
            again = stub.withDeadlineAfter(60, TimeUnit.SECONDS).getOnlineFeatures(views);
          } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || System.nanoTime() > until) {
              throw e;
            }
            Thread.sleep(200); // Redisson reconnects in the background
          }
        }
        assertThat(again.getResults(1).getValues(0).getInt64Val()).isEqualTo(40L);
        assertThat(health.check(HealthCheckRequest.getDefaultInstance()).getStatus())
            .isEqualTo(ServingStatus.SERVING);
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    } finally {
      if (own != null) {
        own.close();
      }
    }
  }

  static GetOnlineFeaturesRequest request(List<String> refs, String key, RepeatedValue values) {
    return GetOnlineFeaturesRequest.newBuilder().setFeatures(FeatureList.newBuilder().addAllVal(refs))
        .putEntities(key, values).build();
  }

  static RepeatedValue strings(String... values) {
    RepeatedValue.Builder b = RepeatedValue.newBuilder();
    for (String v : values) {
      b.addVal(Value.newBuilder().setStringVal(v));
    }
    return b.build();
  }
}
