package io.recsys.streaming.bronze;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.util.AccumulatorV2;

/**
 * Collects the rejected rows of a micro-batch while the valid ones are being written, so the batch is parsed
 * once. Bounded: past {@code maxRows} rows or {@code maxBytes} of raw payload it stops keeping rows and reports
 * {@link #overflowed()}, and the writer re-parses the batch for the quarantine instead (a mass bad-data incident
 * costs a second pass, never the driver's memory).
 *
 * <p>Spark applies each successful task's update once for the result stage that writes the files; the writer
 * still deduplicates on Kafka coordinates.
 */
final class RejectCollector extends AccumulatorV2<Row, List<Row>> {

  private static final long serialVersionUID = 1L;

  private final int maxRows;
  private final long maxBytes;
  private ArrayList<Row> rows = new ArrayList<>();
  private long bytes;
  private boolean overflowed;

  RejectCollector(int maxRows, long maxBytes) {
    this.maxRows = maxRows;
    this.maxBytes = maxBytes;
  }

  boolean overflowed() {
    return overflowed;
  }

  @Override
  public boolean isZero() {
    return rows.isEmpty() && !overflowed;
  }

  @Override
  public AccumulatorV2<Row, List<Row>> copy() {
    RejectCollector c = new RejectCollector(maxRows, maxBytes);
    c.rows = new ArrayList<>(rows);
    c.bytes = bytes;
    c.overflowed = overflowed;
    return c;
  }

  @Override
  public void reset() {
    rows = new ArrayList<>();
    bytes = 0;
    overflowed = false;
  }

  @Override
  public void add(Row row) {
    if (overflowed) {
      return;
    }
    long size = sizeOf(row);
    if (rows.size() >= maxRows || bytes + size > maxBytes) {
      overflow();
      return;
    }
    rows.add(row);
    bytes += size;
  }

  @Override
  public void merge(AccumulatorV2<Row, List<Row>> other) {
    RejectCollector o = (RejectCollector) other;
    if (overflowed || o.overflowed || rows.size() + o.rows.size() > maxRows || bytes + o.bytes > maxBytes) {
      overflow();
      return;
    }
    rows.addAll(o.rows);
    bytes += o.bytes;
  }

  @Override
  public List<Row> value() {
    return Collections.unmodifiableList(rows);
  }

  private void overflow() {
    overflowed = true;
    rows = new ArrayList<>();
    bytes = 0;
  }

  private static long sizeOf(Row r) {
    long n = 256;
    for (int i = 0; i < r.size(); i++) {
      Object v = r.get(i);
      if (v instanceof byte[] b) {
        n += b.length;
      } else if (v instanceof String s) {
        n += 2L * s.length();
      }
    }
    return n;
  }
}
