package io.recsys.serving;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The feature server's metrics in Prometheus text format on {@code http://<host>:<port>/metrics}: lookup latency
 * per method and outcome (a histogram with sub-millisecond buckets), and the entity rows and feature values
 * served.
 */
final class ServingMetrics implements AutoCloseable {

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Histogram latency;
  private final Counter entityRows;
  private final Counter values;
  private HTTPServer server;

  ServingMetrics() {
    latency = Histogram.builder().name("recsys_serving_lookup_seconds")
        .help("Wall time of one online lookup request, Redis round trip included")
        .labelNames("method", "outcome")
        .classicUpperBounds(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
        .register(registry);
    entityRows = Counter.builder().name("recsys_serving_entity_rows_total")
        .help("Entity rows answered").register(registry);
    values = Counter.builder().name("recsys_serving_feature_values_total")
        .help("Feature values answered (entity rows x features)").register(registry);
  }

  void lookup(String method, String outcome, long nanos) {
    latency.labelValues(method, outcome).observe(nanos / 1e9);
  }

  void served(int rows, int features) {
    entityRows.inc(rows);
    values.inc((long) rows * features);
  }

  /** Serves /metrics on the port (0 picks a free one); returns the port. */
  int serve(int port) {
    try {
      server = HTTPServer.builder().port(port).registry(registry).buildAndStart();
      return server.getPort();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot serve metrics on port " + port + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
  }
}
