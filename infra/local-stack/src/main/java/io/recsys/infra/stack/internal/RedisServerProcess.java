package io.recsys.infra.stack.internal;

import io.recsys.infra.stack.LocalStackException;
import java.io.File;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real redis-server child process on 127.0.0.1, without persistence. The binary is {@code $REDIS_SERVER}, or
 * {@code redis-server} on the PATH, or /usr/bin/redis-server (Debian's package, which {@code ./run} installs).
 */
public final class RedisServerProcess implements AutoCloseable {

  /**
   * Settings the online store wants from any Redis (the containers and compose file pass them too). Feast's
   * layout keeps every feature of an entity in one hash; a hash stays a listpack, which HMGET scans once per
   * field asked for, until it has more than hash-max-listpack-entries fields (512 by default). Measured with
   * redis-benchmark on one 250-field hash: HMGET of the 250 fields took 575 us per call in Redis as a listpack
   * and 26 us as a hash table (INFO commandstats). With 128, hashes of up to 128 fields stay compact listpacks
   * and wider ones are hash tables; see README, "Redis for the online store".
   */
  public static final List<String> ONLINE_STORE_SETTINGS = List.of("--hash-max-listpack-entries", "128");

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
    List<String> cmd = new ArrayList<>(List.of(binary.toString(), "--port", String.valueOf(port),
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toAbsolutePath().toString(),
        "--daemonize", "no", "--protected-mode", "no", "--logfile", dir.resolve("redis.log").toAbsolutePath()
        .toString()));
    cmd.addAll(ONLINE_STORE_SETTINGS);
    Process p = new ProcessBuilder(cmd)
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
