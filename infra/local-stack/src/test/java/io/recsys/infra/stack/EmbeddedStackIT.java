package io.recsys.infra.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded stack's three services answer as the real things they are, and go away when closed. */
class EmbeddedStackIT {

  private static final int TOPICS_RIGHT_AFTER_CREATION = 30;

  @Test
  void servesKafkaRedisAndS3AndStopsEverything(@TempDir Path dir) throws Exception {
    EmbeddedStack stack = EmbeddedStack.start(dir);
    long pid = stack.pid();
    try {
      stack.createTopic("t", 2);
      try (KafkaProducer<String, String> p = new KafkaProducer<>(Map.of("bootstrap.servers", stack.kafkaBootstrap()),
          new StringSerializer(), new StringSerializer())) {
        p.send(new ProducerRecord<>("t", "k", "hello")).get();
      }
      try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Map.of("bootstrap.servers", stack.kafkaBootstrap(),
          "group.id", "g", "auto.offset.reset", "earliest"), new StringDeserializer(), new StringDeserializer())) {
        c.subscribe(List.of("t"));
        ConsumerRecords<String, String> got = ConsumerRecords.empty();
        for (int i = 0; i < 50 && got.isEmpty(); i++) {
          got = c.poll(Duration.ofMillis(200));
        }
        assertThat(got.iterator().next().value()).isEqualTo("hello");
      }

      URI redis = URI.create(stack.redisUri());
      assertThat(redisCommand(redis.getHost(), redis.getPort(), "*1\r\n$4\r\nPING\r\n")).isEqualTo("+PONG");
      assertThat(redisCommand(redis.getHost(), redis.getPort(), "*1\r\n$4\r\nINFO\r\n")).startsWith("$");
      // an entity hash wider than 128 fields is a hash table, which HMGET reads without a scan per field
      assertThat(redisCommand(redis.getHost(), redis.getPort(), resp(wideHset("wide", 200)))).isEqualTo(":200");
      assertThat(redisCommand(redis.getHost(), redis.getPort(), resp(List.of("HSET", "narrow", "f", "v"))))
          .isEqualTo(":1");
      assertThat(redisBulk(redis, List.of("OBJECT", "ENCODING", "wide"))).isEqualTo("hashtable");
      assertThat(redisBulk(redis, List.of("OBJECT", "ENCODING", "narrow"))).isEqualTo("listpack");

      // S3Proxy speaks S3: the lake bucket lists, and a request signed with unknown credentials is refused
      HttpClient http = HttpClient.newHttpClient();
      HttpResponse<String> list = http.send(HttpRequest.newBuilder(
          URI.create(stack.s3().endpoint() + "/" + stack.s3().bucket())).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(list.body()).contains("<ListBucketResult").contains("<Name>" + stack.s3().bucket() + "</Name>");
      HttpResponse<String> forged = http.send(HttpRequest.newBuilder(
          URI.create(stack.s3().endpoint() + "/" + stack.s3().bucket()))
          .header("x-amz-date", "20260101T000000Z")
          .header("Authorization", "AWS4-HMAC-SHA256 Credential=nobody/20260101/us-east-1/s3/aws4_request, "
              + "SignedHeaders=host;x-amz-date, Signature=0000")
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(forged.statusCode()).isEqualTo(403);
    } finally {
      stack.close();
    }
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(portOpen(stack.kafkaBootstrap())).isFalse();
    assertThat(portOpen(URI.create(stack.redisUri()).getHost() + ":" + URI.create(stack.redisUri()).getPort())).isFalse();
  }

  /**
   * A topic takes writes as soon as {@code createTopic} returns, even from an idempotent producer with several
   * requests in flight. Kafka 3.9's broker accepts any first sequence number from a producer it has no state for,
   * so when the first request reaches a partition the broker has not opened yet (retriable, retried) and the second
   * reaches it just after, the first request's records can never be written and expire (KAFKA-15591; this is how CI
   * once lost 674 records). Many small batches sent right after creation, to many new topics, make that race likely.
   */
  @Test
  void aNewTopicTakesPipelinedIdempotentWritesRightAfterCreation(@TempDir Path dir) throws Exception {
    try (EmbeddedStack stack = EmbeddedStack.start(dir);
        KafkaProducer<String, String> p = new KafkaProducer<>(Map.of("bootstrap.servers", stack.kafkaBootstrap(),
            "enable.idempotence", "true", "acks", "all", "linger.ms", "0", "batch.size", "2048",
            "request.timeout.ms", "5000", "delivery.timeout.ms", "15000"), new StringSerializer(),
            new StringSerializer())) {
      String value = "x".repeat(200);
      for (int t = 0; t < TOPICS_RIGHT_AFTER_CREATION; t++) {
        String topic = "fresh-" + t;
        stack.createTopic(topic, 2);
        AtomicReference<Exception> error = new AtomicReference<>();
        AtomicLong acked = new AtomicLong();
        for (int i = 0; i < 2_000; i++) {
          p.send(new ProducerRecord<>(topic, "k" + i, value), (meta, e) -> {
            if (e != null) {
              error.compareAndSet(null, e);
            } else {
              acked.incrementAndGet();
            }
          });
        }
        p.flush();
        assertThat(error.get()).as("the first send error on " + topic).isNull();
        assertThat(acked.get()).as("records acknowledged on " + topic).isEqualTo(2_000);
      }
    }
  }

  @Test
  void aDetachedStackIsFoundByStatusAndStoppedByDown(@TempDir Path dir) throws Exception {
    StackState st = EmbeddedStack.startDetached(dir);
    try {
      assertThat(EmbeddedStack.attach(dir)).get().extracting(EmbeddedStack::kafkaBootstrap).isEqualTo(st.kafka());
      assertThat(portOpen(st.kafka())).isTrue();
    } finally {
      assertThat(EmbeddedStack.stopDetached(dir)).isTrue();
    }
    assertThat(EmbeddedStack.attach(dir)).isEmpty();
    assertThat(portOpen(st.kafka())).isFalse();
    assertThat(EmbeddedStack.stopDetached(dir)).as("nothing left to stop").isFalse();
  }

  @Test
  void containersAreOptInAndFallBackToEmbeddedWithoutDocker(@TempDir Path dir) {
    boolean docker = LocalStacks.dockerAnswers();
    try (LocalStack stack = LocalStacks.start(dir, "containers", LocalStacks::dockerAnswers)) {
      assertThat(stack.kind()).isEqualTo(docker ? "containers" : "embedded");
      stack.createTopic("fallback", 1);
    }
    try (LocalStack stack = LocalStacks.start(dir.resolve("default"), "embedded", () -> true)) {
      assertThat(stack.kind()).as("the embedded stack is the default even where Docker runs").isEqualTo("embedded");
    }
  }

  @Test
  void anUnknownStackKindIsRejectedWithTheChoices(@TempDir Path dir) {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> LocalStacks.start(dir, "kubernetes", () -> false))
        .isInstanceOf(LocalStackException.class).hasMessageContaining("use embedded or containers");
  }

  private static List<String> wideHset(String key, int fields) {
    List<String> args = new java.util.ArrayList<>(List.of("HSET", key));
    for (int i = 0; i < fields; i++) {
      args.add("f" + i);
      args.add("v" + i);
    }
    return args;
  }

  private static String resp(List<String> args) {
    StringBuilder b = new StringBuilder("*").append(args.size()).append("\r\n");
    args.forEach(a -> b.append('$').append(a.length()).append("\r\n").append(a).append("\r\n"));
    return b.toString();
  }

  /** The value of a bulk-string reply. */
  private static String redisBulk(URI redis, List<String> args) throws Exception {
    try (Socket s = new Socket(redis.getHost(), redis.getPort())) {
      s.getOutputStream().write(resp(args).getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
      String header = in.readLine();
      assertThat(header).as("a bulk-string reply to " + args).startsWith("$");
      return in.readLine();
    }
  }

  private static String redisCommand(String host, int port, String resp) throws Exception {
    try (Socket s = new Socket(host, port)) {
      OutputStream out = s.getOutputStream();
      out.write(resp.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
    }
  }

  private static boolean portOpen(String hostPort) {
    String[] hp = hostPort.split(":");
    try (Socket s = new Socket(hp[0], Integer.parseInt(hp[1]))) {
      return true;
    } catch (Exception e) {
      return false;
    }
  }
}
