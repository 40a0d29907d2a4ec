package io.recsys.infra.stack;

import java.nio.file.Path;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the stack implementation. The embedded stack is the default. {@code RECSYS_STACK=containers} (or the
 * system property {@code recsys.stack}) asks for Testcontainers, which is used only if a Docker engine answers;
 * otherwise the embedded stack starts instead, with a warning, so a missing engine never fails a run.
 */
public final class LocalStacks {

  private static final Logger LOG = LoggerFactory.getLogger(LocalStacks.class);

  private LocalStacks() {}

  /** The implementation asked for: "embedded" (default) or "containers". */
  public static String requested() {
    String v = System.getProperty("recsys.stack", System.getenv().getOrDefault("RECSYS_STACK", "embedded"));
    return v.trim().toLowerCase(Locale.ROOT);
  }

  /** Starts the requested stack, files of the embedded one under {@code dir}. */
  public static LocalStack start(Path dir) {
    return start(dir, requested(), LocalStacks::dockerAnswers);
  }

  static LocalStack start(Path dir, String requested, BooleanSupplier dockerAnswers) {
    switch (requested) {
      case "embedded":
        return EmbeddedStack.start(dir);
      case "containers":
        if (dockerAnswers.getAsBoolean()) {
          LOG.info("starting the Testcontainers stack (Kafka, MinIO, Redis images)");
          return ContainersStack.start();
        }
        LOG.warn("RECSYS_STACK=containers but no Docker engine answers; using the embedded stack instead");
        return EmbeddedStack.start(dir);
      default:
        throw new LocalStackException("RECSYS_STACK=" + requested + " is not a stack; use embedded or containers");
    }
  }

  /** True if a Docker engine answers (Testcontainers' own detection, which never throws). */
  public static boolean dockerAnswers() {
    try {
      return org.testcontainers.DockerClientFactory.instance().isDockerAvailable();
    } catch (Throwable t) {
      LOG.debug("Docker detection failed", t);
      return false;
    }
  }
}
