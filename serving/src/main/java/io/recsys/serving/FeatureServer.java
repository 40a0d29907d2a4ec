package io.recsys.serving;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.recsys.features.FeatureDefinitions;
import io.recsys.online.OnlineStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Feast-compatible feature server: {@code feast.serving.ServingService} (GetOnlineFeatures,
 * GetFeastServingInfo) and {@code grpc.health.v1.Health} over gRPC, reading the Redis online store that the
 * streaming and batch jobs write in Feast's layout. Serving code keeps using {@code dev.feast.FeastClient}.
 *
 * <pre>
 * java -jar serving/target/recsys-feature-server.jar --redis redis://redis:6379 --port 6566
 * ./run serve                      # against the local stack's Redis
 * </pre>
 *
 * Embeddable too: {@link #start} returns a running server, {@link #close} stops it.
 */
@Command(name = "feature-server", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Feast-compatible gRPC feature server over the Redis online store.")
public final class FeatureServer implements Callable<Integer>, AutoCloseable {

  // Not static: main() picks the logging configuration before the first logger exists.
  private final Logger log = LoggerFactory.getLogger(FeatureServer.class);

  /** Feast's default gRPC serving port. */
  public static final int DEFAULT_PORT = 6566;
  public static final int DEFAULT_METRICS_PORT = 9466;

  @Option(names = "--redis", description = "Online store, host:port or redis://host:port (env RECSYS_REDIS).")
  String redis = System.getenv("RECSYS_REDIS");
  @Option(names = "--features", description = "Definitions file (env RECSYS_FEATURES; default: the built-in "
      + "features.yaml). Must be the file the jobs write with.")
  Path features = System.getenv("RECSYS_FEATURES") == null ? null : Path.of(System.getenv("RECSYS_FEATURES"));
  @Option(names = "--host", description = "Address to listen on (default 0.0.0.0).")
  String host = "0.0.0.0";
  @Option(names = "--port", description = "gRPC port (default 6566, Feast's; 0 picks a free one).")
  int port = DEFAULT_PORT;
  @Option(names = "--metrics-port", description = "Prometheus /metrics port (default 9466; -1 turns it off).")
  int metricsPort = DEFAULT_METRICS_PORT;
  @Option(names = "--io-threads", description = "Network threads, shared by gRPC and the Redis connections "
      + "(default: the number of cores). A lookup is read from Redis on the thread that received the call.")
  int ioThreads = Runtime.getRuntime().availableProcessors();

  private Server server;
  private EventLoopGroup loops;
  private ExecutorService blocking;
  private OnlineFeatureClient client;
  private ServingMetrics metrics;
  private int boundMetricsPort = -1;

  public static void main(String[] args) {
    if (System.getProperty("log4j2.configurationFile") == null) {
      System.setProperty("log4j2.configurationFile", "recsys-server-log4j2.properties");
    }
    System.exit(new CommandLine(new FeatureServer()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    try {
      start();
    } catch (IllegalArgumentException | UncheckedIOException e) {
      System.err.println("feature-server: " + e.getMessage());
      close();
      return 2;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      close();
      stopped.countDown();
    }, "feature-server-shutdown"));
    System.out.printf("feature server listening on %s:%d (gRPC feast.serving.ServingService, "
        + "recsys.serving.v1.RecommendationService, grpc.health.v1.Health)"
        + "%s; Redis %s%n", host, port(), boundMetricsPort < 0 ? "" : ", metrics on :" + boundMetricsPort + "/metrics",
        redis);
    stopped.await();
    return 0;
  }

  /** A server on the given Redis with the built-in definitions, a free port and no metrics endpoint. */
  public static FeatureServer start(String redis, FeatureDefinitions definitions, int port) {
    FeatureServer s = new FeatureServer();
    s.redis = redis;
    s.port = port;
    s.metricsPort = -1;
    s.host = "127.0.0.1";
    try {
      s.start(definitions);
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
    return s;
  }

  /** Starts with the options set; fails with a clear message when Redis or the definitions are wrong. */
  public FeatureServer start() {
    if (features != null && !Files.isRegularFile(features)) {
      throw new IllegalArgumentException("--features " + features + " is not a file");
    }
    return start(features == null ? FeatureDefinitions.load() : FeatureDefinitions.load(features));
  }

  private FeatureServer start(FeatureDefinitions definitions) {
    if (redis == null || redis.isBlank()) {
      throw new IllegalArgumentException("no Redis given: pass --redis host:port or set RECSYS_REDIS");
    }
    if (ioThreads < 1) {
      throw new IllegalArgumentException("--io-threads " + ioThreads + ": give 1 or more");
    }
    // One set of event loops for gRPC and Redis, and Redis connections on every loop (OnlineStore): a lookup
    // sends its HMGETs on the loop that received the call, and that loop reads the replies and sends the answer.
    // With gRPC and Redisson on loops of their own, a call crossed threads twice; on 2 cores the one-thread path
    // cut FeastClient's 1 x 250 p99 by about a sixth in alternating runs (BENCHMARKS.md).
    loops = new MultiThreadIoEventLoopGroup(ioThreads, new DefaultThreadFactory("feature-server-io", true),
        NioIoHandler.newFactory());
    OnlineStore store;
    try {
      store = OnlineStore.connect(redis, loops);
    } catch (RuntimeException e) {
      Throwable why = e;
      while (why.getCause() != null) {
        why = why.getCause(); // Redisson's reason, without the ExecutionException around it
      }
      throw new IllegalArgumentException("cannot connect to Redis at " + redis + " ("
          + (why.getMessage() == null ? why : why.getMessage()) + "); start it (./run stack up) or fix --redis", e);
    }
    client = new OnlineFeatureClient(store, definitions, Clock.systemUTC());
    if (!client.ping()) {
      throw new IllegalArgumentException("Redis at " + redis + " does not answer; start it (./run stack up) or "
          + "fix --redis");
    }
    client.redisAdvice().ifPresent(log::warn);
    metrics = new ServingMetrics();
    if (metricsPort >= 0) {
      boundMetricsPort = metrics.serve(metricsPort);
    }
    String version = "recsys " + versionOf() + " (Feast serving API, Redis online store, project "
        + definitions.project() + ")";
    // Handlers run on the event loops, without a hand-off to an executor: GetOnlineFeatures does not block (it
    // answers when Redis replies, on the same loop). The handlers that do block on Redis (recommendations,
    // health) move their work to `blocking` themselves; a blocking read on a loop would wait for a reply that
    // only that loop can read, and OnlineStore refuses it.
    blocking = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "feature-server-blocking");
      t.setDaemon(true);
      return t;
    });
    try {
      server = NettyServerBuilder.forAddress(new InetSocketAddress(host, port))
          .bossEventLoopGroup(loops)
          .workerEventLoopGroup(loops)
          .channelType(NioServerSocketChannel.class)
          .directExecutor()
          .addService(new FeastServingService(client, metrics, version))
          .addService(new RecommendationGrpcService(new Recommender(client), metrics, blocking))
          .addService(new HealthService(client, blocking))
          .build()
          .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
    }
    log.info("feature server on {}:{}, project {}, {} views, {} I/O threads", host, server.getPort(),
        definitions.project(), definitions.views().size(), ioThreads);
    return this;
  }

  private static String versionOf() {
    String v = FeatureServer.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  /** The gRPC port the server listens on. */
  public int port() {
    return server.getPort();
  }

  /** The metrics port, or -1 when off. */
  public int metricsPort() {
    return boundMetricsPort;
  }

  @Override
  public void close() {
    if (server != null) {
      server.shutdown();
      try {
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
          server.shutdownNow();
        }
      } catch (InterruptedException e) {
        server.shutdownNow();
        Thread.currentThread().interrupt();
      }
      server = null;
    }
    if (blocking != null) {
      blocking.shutdownNow();
      blocking = null;
    }
    if (metrics != null) {
      metrics.close();
      metrics = null;
    }
    if (client != null) {
      client.close();
      client = null;
    }
    if (loops != null) {
      loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
      loops = null;
    }
  }
}
