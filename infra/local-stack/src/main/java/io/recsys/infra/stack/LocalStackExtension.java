package io.recsys.infra.stack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }
}
