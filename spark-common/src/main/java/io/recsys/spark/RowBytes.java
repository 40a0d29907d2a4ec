package io.recsys.spark;

import java.util.HashMap;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.encoders.ExpressionEncoder;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.types.StructType;

/**
 * Rows of one schema as the bytes of Spark's binary row ({@link UnsafeRow}) and back, through Spark's encoder for
 * the schema, built once per thread and schema: making one generates its code, which took 3% of a six-view job's
 * CPU when each task made its own, and about 12% when Spark built its state variables' encoders per task
 * (BENCHMARKS.md, freshness notes). Task threads are pooled, so they last. One per thread: the serializer writes
 * every row into the same buffer, and {@link #decode} reads through one row.
 */
public final class RowBytes {

  private static final ThreadLocal<Map<StructType, RowBytes>> CODECS = ThreadLocal.withInitial(HashMap::new);
  private final ExpressionEncoder<Row> encoder;
  private final ExpressionEncoder.Serializer<Row> serializer;
  private final UnsafeRow reader;
  private ExpressionEncoder.Deserializer<Row> deserializer;

  private RowBytes(StructType schema) {
    encoder = ExpressionEncoder.apply(schema, true);
    serializer = encoder.createSerializer();
    reader = new UnsafeRow(schema.size());
  }

  /** The calling thread's codec for {@code schema}. */
  public static RowBytes of(StructType schema) {
    return CODECS.get().computeIfAbsent(schema, RowBytes::new);
  }

  /** The row's bytes, a copy of its own. */
  public byte[] encode(Row row) {
    // the serializer's row is its buffer, used again for the next: copy it out
    return ((UnsafeRow) serializer.apply(row)).copy().getBytes();
  }

  /** The row {@link #encode} made these bytes from. */
  public Row decode(byte[] bytes) {
    if (deserializer == null) { // only when asked for: writers of records never read them back
      deserializer = encoder.resolveAndBind(encoder.resolveAndBind$default$1(), encoder.resolveAndBind$default$2())
          .createDeserializer();
    }
    reader.pointTo(bytes, bytes.length);
    return deserializer.apply(reader);
  }
}
