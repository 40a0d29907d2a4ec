package io.recsys.app.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.feast.FeastClient;
import feast.proto.serving.ServingAPIProto.FieldStatus;
import io.recsys.app.bench.OnlineBenchmark.Latency;
import io.recsys.app.bench.OnlineBenchmark.Lookup;
import io.recsys.features.FeatureDefinitions;
import io.recsys.serving.OnlineFeatureClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The lookup benchmarks' clients, each run in a JVM of its own, as serving code runs: without the benchmark's
 * Spark session, its heap and its threads beside it. The gRPC server is the deployed artifact
 * ({@code java -jar serving/target/recsys-feature-server.jar}) in a third JVM. {@link #main} runs one
 * measurement and prints it as the last line of its output, in JSON; the parent ({@link OnlineBenchmark})
 * starts these processes one after the other.
 *
 * <pre>
 * LookupProcess client REDIS FEATURES_FILE THREADS ENTITIES FEATURES SECONDS
 * LookupProcess feast  HOST:PORT FEATURES SECONDS
 * LookupProcess feast-info HOST:PORT SECONDS
 * </pre>
 *
 * Every run first warms up for {@link #WARM_UP} in its JVM ({@link #GRPC_WARM_UP} for FeastClient, whose calls
 * warm the server up too), then measures: a serving process runs for hours, and on 2 cores the JIT was still
 * compiling the gRPC, Netty and protobuf paths seconds after start (FeastClient 1 x 250 after 1,000 warm-up calls,
 * about 1.4 s: p50 0.94 ms, p99 7.3 ms; after 6,000 calls: p50 0.60 ms, p99 2.7 ms).
 */
public final class LookupProcess {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SERVER_JAR = "serving/target/recsys-feature-server.jar";
  private static final Pattern LISTENING = Pattern.compile("listening on [^ ]*:(\\d+)");

  /** How long each run of our client calls before it measures. */
  static final Duration WARM_UP = Duration.ofSeconds(10);

  /**
   * How long each FeastClient run calls before it measures. Two new JVMs warm up here, the client's and the
   * server's, and 10 s was not enough on 2 cores: in the 8 s after it, the two JVMs' C2 compiler threads still
   * used 2.6 s of CPU (per-thread CPU time from /proc), beside the calls being measured; after 60 s they used
   * 0.14 s.
   */
  static final Duration GRPC_WARM_UP = Duration.ofSeconds(60);

  private LookupProcess() {}

  public static void main(String[] args) throws Exception {
    Lookup result = switch (args[0]) {
      case "client" -> ourClient(args[1], Path.of(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
          Integer.parseInt(args[5]), Duration.ofSeconds(Long.parseLong(args[6])));
      case "feast" -> feastClient(args[1], Integer.parseInt(args[2]), Duration.ofSeconds(Long.parseLong(args[3])));
      case "feast-info" -> feastInfo(args[1], Duration.ofSeconds(Long.parseLong(args[2])));
      default -> throw new IllegalArgumentException("unknown lookup run " + args[0]);
    };
    System.out.println(JSON.writeValueAsString(result));
  }

  // ---------------------------------------------------------------------------------------------------------
  // in the child JVM

  /** Our client: threads x (calls of `entities` random users x `features`), after the warm-up (same calls). */
  static Lookup ourClient(String redis, Path definitions, int threads, int entities, int features, Duration time)
      throws Exception {
    List<String> refs = OnlineBenchmark.wideRefs(features);
    try (OnlineFeatureClient client = new OnlineFeatureClient(redis, FeatureDefinitions.load(definitions))) {
      runCalls(client, refs, threads, entities, WARM_UP);
      return runCalls(client, refs, threads, entities, time);
    }
  }

  private static Lookup runCalls(OnlineFeatureClient client, List<String> refs, int threads, int entities,
      Duration time) throws Exception {
    long[][] lat = new long[threads][];
    int[] counts = new int[threads];
    CountDownLatch done = new CountDownLatch(threads);
    long until = System.nanoTime() + time.toNanos();
    long t0 = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      int me = t;
      Thread th = new Thread(() -> {
        SplittableRandom rnd = new SplittableRandom(me);
        long[] l = new long[1 << 20];
        int n = 0;
        List<String> users = new ArrayList<>(entities);
        while (System.nanoTime() < until && n < l.length) {
          users.clear();
          for (int i = 0; i < entities; i++) {
            users.add("bench-u" + rnd.nextInt(OnlineBenchmark.ENTITIES));
          }
          long s = System.nanoTime();
          var got = client.get(users, refs);
          l[n++] = System.nanoTime() - s;
          if (got.get(0).get(refs.get(0)).status() != OnlineFeatureClient.Status.PRESENT) {
            throw new IllegalStateException("bench row missing for " + users.get(0));
          }
        }
        lat[me] = l;
        counts[me] = n;
        done.countDown();
      }, "bench-lookup-" + t);
      th.start();
    }
    done.await();
    double secs = (System.nanoTime() - t0) / 1e9;
    int total = Arrays.stream(counts).sum();
    long[] all = new long[total];
    int k = 0;
    for (int t = 0; t < threads; t++) {
      System.arraycopy(lat[t], 0, all, k, counts[t]);
      k += counts[t];
    }
    return new Lookup("our Java client (OnlineFeatureClient.get)", threads, entities, refs.size(),
        Latency.of(all, total), total / secs, (double) total * entities / secs);
  }

  /** dev.feast.FeastClient against a gRPC server: 1 row x `features`, one thread, after the warm-up. */
  static Lookup feastClient(String server, int features, Duration time) throws Exception {
    List<String> refs = OnlineBenchmark.wideRefs(features);
    int colon = server.lastIndexOf(':');
    try (FeastClient feast = FeastClient.create(server.substring(0, colon),
        Integer.parseInt(server.substring(colon + 1)))) {
      SplittableRandom rnd = new SplittableRandom(3);
      feastCalls(feast, refs, rnd, GRPC_WARM_UP, new long[1 << 20]);
      long[] lat = new long[1 << 20];
      long t0 = System.nanoTime();
      int calls = feastCalls(feast, refs, rnd, time, lat);
      double secs = (System.nanoTime() - t0) / 1e9;
      return new Lookup("dev.feast.FeastClient -> our gRPC server (java -jar)", 1, 1, features,
          Latency.of(lat, calls), calls / secs, calls / secs);
    }
  }

  /**
   * dev.feast.FeastClient's GetFeastServingInfo against the same server, one thread, after the warm-up: the gRPC
   * round trip with nothing in it (no request fields, no Redis, a one-field reply), the floor under every
   * FeastClient call on this machine.
   */
  static Lookup feastInfo(String server, Duration time) throws Exception {
    int colon = server.lastIndexOf(':');
    try (FeastClient feast = FeastClient.create(server.substring(0, colon),
        Integer.parseInt(server.substring(colon + 1)))) {
      infoCalls(feast, GRPC_WARM_UP, new long[1 << 20]);
      long[] lat = new long[1 << 20];
      long t0 = System.nanoTime();
      int calls = infoCalls(feast, time, lat);
      double secs = (System.nanoTime() - t0) / 1e9;
      return new Lookup(FEAST_INFO, 1, 1, 0, Latency.of(lat, calls), calls / secs, calls / secs);
    }
  }

  static final String FEAST_INFO = "dev.feast.FeastClient GetFeastServingInfo -> the same server (the gRPC round "
      + "trip alone: no features, no Redis)";

  private static int infoCalls(FeastClient feast, Duration time, long[] lat) {
    long until = System.nanoTime() + time.toNanos();
    int n = 0;
    while (System.nanoTime() < until && n < lat.length) {
      long s = System.nanoTime();
      var info = feast.getFeastServingInfo();
      lat[n++] = System.nanoTime() - s;
      if (info.getVersion().isEmpty()) {
        throw new IllegalStateException("GetFeastServingInfo answered without a version");
      }
    }
    return n;
  }

  /** Calls for `time` (or until `lat` is full), one random user per call; returns how many. */
  private static int feastCalls(FeastClient feast, List<String> refs, SplittableRandom rnd, Duration time,
      long[] lat) {
    long until = System.nanoTime() + time.toNanos();
    int n = 0;
    while (System.nanoTime() < until && n < lat.length) {
      var row = List.of(dev.feast.Row.create().set("user_id", "bench-u" + rnd.nextInt(OnlineBenchmark.ENTITIES)));
      long s = System.nanoTime();
      var got = feast.getOnlineFeatures(refs, row);
      lat[n++] = System.nanoTime() - s;
      if (got.get(0).getStatus("f000") != FieldStatus.PRESENT) {
        throw new IllegalStateException("bench row missing through the gRPC server");
      }
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------------------------
  // in the parent JVM

  /** Runs one measurement in a new JVM on this JVM's classpath and returns what it printed last. */
  static Lookup inChild(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(java(), "-Dcom.google.protobuf.use_unsafe_pre22_gencode=true",
        "-Dlog4j2.configurationFile=recsys-log4j2.properties", "-cp", System.getProperty("java.class.path"),
        LookupProcess.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("lookup run " + String.join(" ", args) + " failed:\n" + out);
    }
    String last = out.strip().lines().reduce((a, b) -> b).orElse("");
    return JSON.readValue(last, Lookup.class);
  }

  /** The feature server as deployed, {@code java -jar}, on a free loopback port; close it to stop it. */
  static final class ServerProcess implements AutoCloseable {
    private final Process process;
    private final int port;

    ServerProcess(String redis, Path definitions) throws IOException {
      if (!Files.isRegularFile(Path.of(SERVER_JAR))) {
        throw new IllegalStateException(SERVER_JAR + " is missing: build first (./run build)");
      }
      process = new ProcessBuilder(java(), "-Dcom.google.protobuf.use_unsafe_pre22_gencode=true", "-jar",
          SERVER_JAR, "--redis", redis, "--features", definitions.toString(), "--host", "127.0.0.1", "--port", "0",
          "--metrics-port", "-1").redirectErrorStream(true).start();
      BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      StringBuilder seen = new StringBuilder();
      int found = -1;
      for (String line; found < 0 && (line = in.readLine()) != null; ) {
        seen.append(line).append('\n');
        Matcher m = LISTENING.matcher(line);
        if (m.find()) {
          found = Integer.parseInt(m.group(1));
        }
      }
      if (found < 0) {
        process.destroyForcibly();
        throw new IllegalStateException("the feature server did not start:\n" + seen);
      }
      port = found;
      Thread drain = new Thread(() -> {
        try {
          in.transferTo(java.io.Writer.nullWriter());
        } catch (IOException ignored) {
          // the server stopped
        }
      }, "feature-server-output");
      drain.setDaemon(true);
      drain.start();
    }

    String address() {
      return "127.0.0.1:" + port;
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
