package io.recsys.streaming.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The streaming jobs' metrics, in a registry of their own, served in Prometheus text format on
 * {@code http://<driver>:<port>/metrics}. Updated on the driver only (by the progress listener and the
 * foreachBatch sink), so nothing here is shipped to executors.
 */
public final class StreamMetrics implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(StreamMetrics.class);

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final String query;
  private HTTPServer server;

  final Counter batches;
  final Counter inputRows;
  final Gauge batchInputRows;
  final Gauge processedRowsPerSecond;
  final Gauge inputRowsPerSecond;
  final Gauge batchDurationSeconds;
  final Gauge offsetsBehindLatest;
  final Gauge lastProgressSeconds;
  final Counter bronzeEvents;
  final Counter quarantined;
  final Counter onlineWritten;
  final Counter onlineStale;
  final Counter onlineLagSum;
  final Gauge onlineLagMax;
  final Counter onlineLateRows;

  public StreamMetrics(String query) {
    this.query = query;
    batches = Counter.builder().name("recsys_stream_batches_total")
        .help("Micro-batches completed").labelNames("query").register(registry);
    inputRows = Counter.builder().name("recsys_stream_input_rows_total")
        .help("Rows read from the source").labelNames("query").register(registry);
    batchInputRows = Gauge.builder().name("recsys_stream_batch_input_rows")
        .help("Rows in the last micro-batch").labelNames("query").register(registry);
    processedRowsPerSecond = Gauge.builder().name("recsys_stream_processed_rows_per_second")
        .help("Processing rate of the last micro-batch").labelNames("query").register(registry);
    inputRowsPerSecond = Gauge.builder().name("recsys_stream_input_rows_per_second")
        .help("Arrival rate during the last micro-batch").labelNames("query").register(registry);
    batchDurationSeconds = Gauge.builder().name("recsys_stream_batch_duration_seconds")
        .help("Wall time of the last micro-batch (trigger execution)").labelNames("query").register(registry);
    offsetsBehindLatest = Gauge.builder().name("recsys_stream_offsets_behind_latest")
        .help("Records in Kafka not yet processed, summed over partitions").labelNames("query").register(registry);
    lastProgressSeconds = Gauge.builder().name("recsys_stream_last_progress_timestamp_seconds")
        .help("When the last micro-batch finished (epoch seconds)").labelNames("query").register(registry);
    bronzeEvents = Counter.builder().name("recsys_bronze_events_total")
        .help("Valid events appended to bronze.events").register(registry);
    quarantined = Counter.builder().name("recsys_bronze_quarantined_total")
        .help("Records appended to bronze.quarantine, by reason").labelNames("reason").register(registry);
    onlineWritten = Counter.builder().name("recsys_online_rows_written_total")
        .help("Feature rows written to the online store, by view").labelNames("view").register(registry);
    onlineStale = Counter.builder().name("recsys_online_rows_stale_skipped_total")
        .help("Feature rows not written because Redis held a later _ts, by view").labelNames("view").register(registry);
    onlineLagSum = Counter.builder().name("recsys_online_freshness_lag_seconds_sum")
        .help("Sum over written rows of write time minus event time (divide by rows written for the mean)")
        .labelNames("view").register(registry);
    onlineLagMax = Gauge.builder().name("recsys_online_freshness_lag_seconds_max")
        .help("Largest write time minus event time in the last micro-batch, by view").labelNames("view")
        .register(registry);
    onlineLateRows = Counter.builder().name("recsys_online_late_rows_dropped_total")
        .help("Events a view dropped because they were later than its watermark (they are in bronze)")
        .labelNames("view").register(registry);
  }

  /** One micro-batch of a feature view's writes to the online store. */
  public void recordOnlineBatch(String view, long written, long stale, double lagSumSeconds, double lagMaxSeconds) {
    onlineWritten.labelValues(view).inc(written);
    onlineStale.labelValues(view).inc(stale);
    onlineLagSum.labelValues(view).inc(lagSumSeconds);
    if (written > 0) {
      onlineLagMax.labelValues(view).set(lagMaxSeconds);
    }
  }

  /** Rows written to the online store so far for a view (for tests and logs). */
  public double onlineWrittenTotal(String view) {
    return onlineWritten.labelValues(view).get();
  }

  /** Rows not written to the online store because Redis had newer values (for tests and logs). */
  public double onlineStaleTotal(String view) {
    return onlineStale.labelValues(view).get();
  }

  public void recordLateRows(String view, long rows) {
    onlineLateRows.labelValues(view).inc(rows);
  }

  /** Serves the metrics on {@code port} (0: any free port). Returns the port. */
  public int serve(int port) throws IOException {
    server = HTTPServer.builder().port(port).registry(registry).buildAndStart();
    LOG.info("metrics for {} on http://localhost:{}/metrics", query, server.getPort());
    return server.getPort();
  }

  public String query() {
    return query;
  }

  public void recordBronzeBatch(long validRows, Map<String, Long> quarantinedByReason) {
    bronzeEvents.inc(validRows);
    quarantinedByReason.forEach((reason, n) -> quarantined.labelValues(reason).inc(n));
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
  }
}
