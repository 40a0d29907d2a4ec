package io.recsys.infra.stack.internal;

import io.recsys.infra.stack.LocalStackException;
import java.io.File;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real redis-server child process on 127.0.0.1, without persistence. The binary is {@code $REDIS_SERVER}, or
 * {@code redis-server} on the PATH, or /usr/bin/redis-server (Debian's package, which {@code ./run} installs).
 */
public final class RedisServerProcess implements AutoCloseable {

  private final Process process;

  private RedisServerProcess(Process process) {
    this.process = process;
  }

  public long pid() {
    return process.pid();
  }

  /** The redis-server binary to use, or an exception that says how to get one. */
  public static Path locateBinary() {
    String explicit = System.getenv("REDIS_SERVER");
    if (explicit != null && !explicit.isBlank()) {
      Path p = Path.of(explicit);
      if (Files.isExecutable(p)) {
        return p;
      }
      throw new LocalStackException("REDIS_SERVER=" + explicit + " is not an executable file");
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, "redis-server");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    for (String p : List.of("/usr/bin/redis-server", "/usr/local/bin/redis-server")) {
      if (Files.isExecutable(Path.of(p))) {
        return Path.of(p);
      }
    }
    throw new LocalStackException("redis-server was not found on the PATH. Install it (./run does this: "
        + "apt-get install redis-server) or set REDIS_SERVER to the binary.");
  }

  public static RedisServerProcess start(Path dir, int port) throws IOException, InterruptedException {
    Path binary = locateBinary();
    Files.createDirectories(dir);
    Process p = new ProcessBuilder(binary.toString(), "--port", String.valueOf(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", dir.toAbsolutePath().toString(), "--daemonize", "no",
        "--protected-mode", "no", "--logfile", dir.resolve("redis.log").toAbsolutePath().toString())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("redis.out").toFile())
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new LocalStackException("redis-server exited with " + p.exitValue() + "; see " + dir.resolve("redis.log"));
      }
      try (Socket s = new Socket("127.0.0.1", port)) {
        return new RedisServerProcess(p);
      } catch (IOException notYet) {
        Thread.sleep(20);
      }
    }
    p.destroyForcibly();
    throw new LocalStackException("redis-server did not listen on 127.0.0.1:" + port + " within 20 s");
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
  }
}
