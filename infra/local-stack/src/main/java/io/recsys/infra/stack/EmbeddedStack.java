package io.recsys.infra.stack;

import io.recsys.infra.stack.internal.ServicesMain;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stack without Docker: a child JVM runs a Kafka KRaft node and S3Proxy from the jars of this module and
 * starts redis-server. Nothing of those services is loaded into the caller's JVM (their libraries clash with
 * Spark's). Start-up takes a few seconds.
 *
 * <p>Owned stacks ({@link #start}) end with their parent: the child watches its standard input and stops when
 * the parent closes it or dies, even by SIGKILL. Detached stacks ({@link #startDetached}, for
 * {@code ./run stack up}) run until {@link #stopDetached}.
 */
public final class EmbeddedStack implements LocalStack {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedStack.class);
  private static final String CLASSPATH_RESOURCE = "/META-INF/recsys/services.classpath";

  private final StackState state;
  private final Process process; // null when attached to a detached stack

  private EmbeddedStack(StackState state, Process process) {
    this.state = state;
    this.process = process;
  }

  /** Starts a stack owned by this JVM, its files under {@code dir}. */
  public static EmbeddedStack start(Path dir) {
    return launch(dir, false);
  }

  /** Starts a stack that outlives this JVM; returns once it is ready. */
  public static StackState startDetached(Path dir) {
    EmbeddedStack s = launch(dir, true);
    return s.state;
  }

  /** Connects to the detached stack running in {@code dir}, if there is one alive. */
  public static Optional<EmbeddedStack> attach(Path dir) {
    try {
      StackState st = StackState.read(dir);
      if (st == null || !ProcessHandle.of(st.pid()).map(ProcessHandle::isAlive).orElse(false)) {
        return Optional.empty();
      }
      return Optional.of(new EmbeddedStack(st, null));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Stops the detached stack in {@code dir}; returns false if none was running. */
  public static boolean stopDetached(Path dir) {
    Optional<EmbeddedStack> s = attach(dir);
    if (s.isEmpty()) {
      return false;
    }
    ProcessHandle.of(s.get().state.pid()).ifPresent(h -> {
      h.destroy();
      h.onExit().orTimeout(30, TimeUnit.SECONDS).exceptionally(t -> {
        h.destroyForcibly();
        return h;
      }).join();
    });
    return true;
  }

  /** Start attempts: a port taken between choosing it and binding it is retried with fresh ports. */
  private static final int ATTEMPTS = 3;

  private static EmbeddedStack launch(Path dir, boolean detached) {
    FreePorts ports = new FreePorts();
    LocalStackException last = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        return launchOnce(dir, detached, ports);
      } catch (LocalStackException e) {
        last = e;
        if (!portTrouble(e.getMessage())) {
          throw e;
        }
        LOG.warn("embedded stack attempt {}/{} failed on a port ({}); retrying with fresh ports", attempt,
            ATTEMPTS, e.getMessage());
      }
    }
    throw last;
  }

  /** Whether a start failure reads like a port that someone else took in the meantime. */
  static boolean portTrouble(String message) {
    String m = message.toLowerCase(java.util.Locale.ROOT);
    return m.contains("address already in use") || m.contains("bindexception")
        || m.contains("socketserver acceptors") || m.contains("failed to bind");
  }

  private static EmbeddedStack launchOnce(Path dir, boolean detached, FreePorts ports) {
    String nonce = UUID.randomUUID().toString();
    try {
      Files.createDirectories(dir);
      Files.deleteIfExists(dir.resolve(StackState.FILE));
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.add("-Xmx768m");
      cmd.add("-XX:+UseSerialGC");
      cmd.add("-Dlog4j2.configurationFile=recsys-services-log4j2.properties");
      cmd.add("-Drecsys.stack.dir=" + dir.toAbsolutePath());
      cmd.add("-cp");
      cmd.add(servicesClasspath());
      cmd.add(ServicesMain.class.getName());
      cmd.addAll(List.of("--dir", dir.toAbsolutePath().toString(), "--nonce", nonce,
          "--kafka-port", String.valueOf(ports.next()), "--controller-port", String.valueOf(ports.next()),
          "--s3-port", String.valueOf(ports.next()), "--redis-port", String.valueOf(ports.next())));
      if (detached) {
        cmd.add("--detached");
      }
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      if (detached) {
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      }
      long t0 = System.nanoTime();
      Process p = pb.start();
      String failure = awaitReady(p, nonce);
      if (failure != null) {
        p.destroyForcibly();
        try {
          p.waitFor(30, TimeUnit.SECONDS); // its redis-server child must let go of the directory first
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        throw new LocalStackException("The embedded stack did not start: " + failure
            + " (log: " + dir.resolve("services.log") + ")");
      }
      StackState st = StackState.read(dir);
      LOG.info("embedded stack up in {} ms: kafka {}, redis {}, s3 {}", (System.nanoTime() - t0) / 1_000_000,
          st.kafka(), st.redis(), st.s3Endpoint());
      return new EmbeddedStack(st, detached ? null : p);
    } catch (IOException e) {
      throw new LocalStackException("Cannot start the embedded stack in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Reads the child's output until READY; returns null when ready, else what went wrong. */
  private static String awaitReady(Process p, String nonce) throws IOException {
    InputStream out = p.getInputStream();
    BufferedReader r = new BufferedReader(new InputStreamReader(out, StandardCharsets.UTF_8));
    StringBuilder seen = new StringBuilder();
    String line;
    while ((line = r.readLine()) != null) {
      if (line.equals("READY " + nonce)) {
        Thread drain = new Thread(() -> {
          try {
            out.transferTo(java.io.OutputStream.nullOutputStream());
          } catch (IOException ignored) {
            // the child has ended
          }
        }, "stack-output");
        drain.setDaemon(true);
        drain.start();
        return null;
      }
      seen.append(line).append(' ');
    }
    return seen.toString().isBlank() ? "the services JVM exited" : seen.toString().trim();
  }

  /** The child's classpath: this module's classes and the service jars listed at build time. */
  static String servicesClasspath() {
    try (InputStream in = EmbeddedStack.class.getResourceAsStream(CLASSPATH_RESOURCE)) {
      if (in == null) {
        throw new LocalStackException(CLASSPATH_RESOURCE + " is missing: build the project with ./run build");
      }
      String deps = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
      String self = Path.of(EmbeddedStack.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .toString();
      return self + File.pathSeparator + deps;
    } catch (IOException | URISyntaxException e) {
      throw new LocalStackException("Cannot read the services classpath: " + e.getMessage(), e);
    }
  }

  public long pid() {
    return state.pid();
  }

  @Override
  public String kind() {
    return "embedded";
  }

  @Override
  public String kafkaBootstrap() {
    return state.kafka();
  }

  @Override
  public String redisUri() {
    return state.redis();
  }

  @Override
  public S3Endpoint s3() {
    return state.s3();
  }

  @Override
  public void createTopic(String name, int partitions) {
    Topics.create(kafkaBootstrap(), name, partitions);
  }

  @Override
  public void close() {
    if (process == null) {
      return; // attached to a detached stack: not ours to stop
    }
    try {
      process.getOutputStream().close();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        LOG.warn("the embedded stack did not stop within 30 s; killing it");
        process.destroyForcibly().waitFor();
      }
    } catch (IOException e) {
      process.destroyForcibly();
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
