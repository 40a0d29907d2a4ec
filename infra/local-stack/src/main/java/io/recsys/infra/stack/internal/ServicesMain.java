package io.recsys.infra.stack.internal;

import io.recsys.infra.stack.StackState;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The child JVM of the embedded stack: starts Kafka (KRaft), S3Proxy and redis-server, writes
 * {@code stack.json}, and runs until its standard input closes (its parent died or closed it) or, when
 * detached, until it is signalled. Every service is stopped on the way out.
 */
@Command(name = "recsys-services", mixinStandardHelpOptions = true)
public final class ServicesMain implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(ServicesMain.class);

  @Option(names = "--dir", required = true) Path dir;
  @Option(names = "--nonce", required = true) String nonce;
  @Option(names = "--kafka-port", required = true) int kafkaPort;
  @Option(names = "--controller-port", required = true) int controllerPort;
  @Option(names = "--s3-port", required = true) int s3Port;
  @Option(names = "--redis-port", required = true) int redisPort;
  @Option(names = "--access-key", defaultValue = "recsys") String accessKey;
  @Option(names = "--secret-key", defaultValue = "recsys-local-secret") String secretKey;
  @Option(names = "--bucket", defaultValue = "lake") String bucket;
  @Option(names = "--partitions", defaultValue = "2") int partitions;
  @Option(names = "--detached", description = "Ignore standard input; run until signalled.") boolean detached;

  private final Deque<AutoCloseable> running = new ArrayDeque<>();

  public static void main(String[] args) {
    System.exit(new CommandLine(new ServicesMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Files.createDirectories(dir);
    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(this::stopAll, "stack-shutdown"));
    long t0 = System.nanoTime();
    try {
      running.push(RedisServerProcess.start(dir.resolve("redis"), redisPort));
      running.push(S3ProxyServer.start(dir.resolve("s3"), s3Port, accessKey, secretKey, bucket));
      running.push(KafkaKraftServer.start(dir.resolve("kafka"), kafkaPort, controllerPort, partitions));
    } catch (Exception e) {
      LOG.error("The local stack failed to start", e);
      System.err.println("local stack: " + e.getMessage());
      stopAll();
      return 1;
    }
    new StackState(nonce, ProcessHandle.current().pid(), "127.0.0.1:" + kafkaPort,
        "redis://127.0.0.1:" + redisPort, "http://127.0.0.1:" + s3Port, accessKey, secretKey, bucket).write(dir);
    LOG.info("local stack up in {} ms", (System.nanoTime() - t0) / 1_000_000);
    System.out.println("READY " + nonce);
    System.out.flush();
    if (!detached) {
      Thread watcher = new Thread(() -> {
        try (InputStream in = System.in) {
          while (in.read() >= 0) {
            // the parent writes nothing; EOF means it has gone
          }
        } catch (Exception ignored) {
          // a broken pipe means the same as EOF
        }
        stop.countDown();
      }, "parent-watcher");
      watcher.setDaemon(true);
      watcher.start();
    }
    stop.await();
    return 0;
  }

  private synchronized void stopAll() {
    while (!running.isEmpty()) {
      AutoCloseable c = running.pop();
      try {
        c.close();
      } catch (Exception e) {
        LOG.warn("stopping {} failed: {}", c.getClass().getSimpleName(), e.toString());
      }
    }
    try {
      Files.deleteIfExists(dir.resolve(StackState.FILE));
    } catch (Exception ignored) {
      // best effort: a stale file is detected by its nonce/pid
    }
  }
}
