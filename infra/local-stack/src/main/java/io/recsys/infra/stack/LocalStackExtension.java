package io.recsys.infra.stack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives tests a {@link LocalStack} parameter (in constructors, {@code @BeforeAll} and
 * test methods). One stack per test JVM, started on first use and stopped when the JVM's test run ends.
 *
 * <pre>{@code
 * @ExtendWith(LocalStackExtension.class)
 * class BronzeIngestIT {
 *   @Test void lands(LocalStack stack) { ... stack.kafkaBootstrap() ... }
 * }
 * }</pre>
 */
public final class LocalStackExtension implements ParameterResolver {

  /** System property: a folder where the stack's log is kept when the test run ends. */
  public static final String LOG_DIR_PROPERTY = "recsys.stack.logDir";

  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LocalStackExtension.class);

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext c) {
    return p.getParameter().getType() == LocalStack.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext c) {
    return c.getRoot().getStore(NS).getOrComputeIfAbsent(Holder.class, k -> new Holder(), Holder.class).stack;
  }

  /** Closed by JUnit when the root context closes, i.e. at the end of the test JVM's run. */
  private static final class Holder implements ExtensionContext.Store.CloseableResource {
    final Path dir;
    final LocalStack stack;

    Holder() {
      try {
        dir = Files.createTempDirectory("recsys-stack-");
      } catch (IOException e) {
        throw new LocalStackException("Cannot create a directory for the test stack: " + e.getMessage(), e);
      }
      stack = LocalStacks.start(dir);
    }

    @Override
    public void close() throws IOException {
      stack.close();
      try {
        keepLog();
      } finally {
        try (var files = Files.walk(dir)) {
          files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
      }
    }

    /**
     * Copies the stack's own log (broker, S3Proxy, redis) to the folder named by the system property
     * {@code recsys.stack.logDir}, if set, before the stack's folder is deleted: when a test fails on a timeout,
     * the broker's side of it is there to read.
     */
    private void keepLog() throws IOException {
      String keep = System.getProperty(LOG_DIR_PROPERTY);
      Path log = dir.resolve("services.log");
      if (keep == null || keep.isBlank() || !Files.exists(log)) {
        return;
      }
      Path target = Path.of(keep);
      Files.createDirectories(target);
      Files.copy(log, target.resolve("services-" + ProcessHandle.current().pid() + ".log"),
          StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
