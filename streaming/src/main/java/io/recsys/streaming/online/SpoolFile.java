package io.recsys.streaming.online;

import io.recsys.spark.RowBytes;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.zip.CRC32;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.util.SerializableConfiguration;

/**
 * One spooled micro-batch of an {@link OfflineLogSpool}: its rows in Spark's own binary row format
 * ({@link UnsafeRow}: fixed-width slots, then the variable-length values; the format of Spark's shuffles and state
 * stores), so that reading them back into Spark is no parse at all.
 *
 * <pre>
 * int magic ("RSP1"), int format version (1), int n, n bytes: the rows' schema (Spark's JSON of it, UTF-8),
 * long rows, then per row: int size, size bytes (the UnsafeRow), then long: CRC-32 of every byte after the count
 * </pre>
 *
 * Written by the driver from the records the Redis write brings back ({@link Record}: a row's bytes, made on the
 * executors), read by the append's task ({@link #read}); a file whose magic, count or CRC does not match fails
 * the read with its name.
 */
final class SpoolFile {

  static final int MAGIC = 0x52535031;
  static final int VERSION = 1;

  private SpoolFile() {}

  /** Writes a file of {@code records} (each {@link Record}'s bytes of a row of {@code schema}). */
  static void write(OutputStream to, StructType schema, List<byte[]> records) throws IOException {
    DataOutputStream out = new DataOutputStream(new BufferedOutputStream(to, 1 << 16));
    byte[] json = schema.json().getBytes(StandardCharsets.UTF_8);
    out.writeInt(MAGIC);
    out.writeInt(VERSION);
    out.writeInt(json.length);
    out.write(json);
    out.writeLong(records.size());
    CRC32 crc = new CRC32();
    byte[] size = new byte[4];
    for (byte[] r : records) {
      ByteBuffer.wrap(size).putInt(r.length);
      out.write(size);
      out.write(r);
      crc.update(size);
      crc.update(r);
    }
    out.writeLong(crc.getValue());
    out.flush();
  }

  /** The schema in a file's header; {@code name} for the error. */
  static StructType schema(DataInputStream in, String name) throws IOException {
    if (in.readInt() != MAGIC) {
      throw new IOException("spool file " + name + " is not an offline-log spool file (wrong magic number)");
    }
    int version = in.readInt();
    if (version != VERSION) {
      throw new IOException("spool file " + name + " has format version " + version + ", this version reads "
          + VERSION);
    }
    int n = in.readInt();
    if (n < 0 || n > (1 << 24)) {
      throw new IOException("spool file " + name + " is damaged (schema of " + n + " bytes)");
    }
    byte[] json = in.readNBytes(n);
    if (json.length != n) {
      throw new IOException("spool file " + name + " is damaged (ends in its header)");
    }
    DataType type = DataType.fromJson(new String(json, StandardCharsets.UTF_8));
    if (!(type instanceof StructType s)) {
      throw new IOException("spool file " + name + " is damaged (its schema is not a struct)");
    }
    return s;
  }

  /**
   * The rows of the files at {@code paths}, read by one task; null for no paths. Files written with other schemas
   * (by a run of the job with other features) come as their own frames, united by column name.
   */
  static Dataset<Row> read(SparkSession spark, FileSystem fs, List<String> paths) throws IOException {
    Map<StructType, List<String>> bySchema = new LinkedHashMap<>();
    for (String p : paths) {
      try (DataInputStream in = new DataInputStream(fs.open(new Path(p)))) {
        bySchema.computeIfAbsent(schema(in, p), s -> new ArrayList<>()).add(p);
      }
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    SerializableConfiguration conf = new SerializableConfiguration(spark.sparkContext().hadoopConfiguration());
    Dataset<Row> out = null;
    for (Map.Entry<StructType, List<String>> group : bySchema.entrySet()) {
      var rows = jsc.parallelize(group.getValue(), 1).flatMap(new ReadRows(conf));
      Dataset<Row> frame = ((org.apache.spark.sql.classic.SparkSession) spark)
          .internalCreateDataFrame(rows.rdd(), group.getKey(), false);
      out = out == null ? frame : out.unionByName(frame, true);
    }
    return out;
  }

  /** A file's rows, on an executor: the file is read whole (one micro-batch) and its rows point into it. */
  static final class ReadRows implements FlatMapFunction<String, InternalRow> {
    private static final long serialVersionUID = 1L;
    private final SerializableConfiguration conf;

    ReadRows(SerializableConfiguration conf) {
      this.conf = conf;
    }

    @Override
    public Iterator<InternalRow> call(String file) throws IOException {
      Path path = new Path(file);
      byte[] bytes;
      try (FSDataInputStream raw = path.getFileSystem(conf.value()).open(path)) {
        bytes = raw.readAllBytes();
      }
      java.io.ByteArrayInputStream header = new java.io.ByteArrayInputStream(bytes);
      DataInputStream in = new DataInputStream(header);
      int fields = schema(in, file).size();
      long count = in.readLong();
      return rows(bytes, bytes.length - header.available(), count, fields, file);
    }
  }

  /** The rows of a whole file's {@code bytes}, the first at {@code start}, checked against the count and CRC. */
  static Iterator<InternalRow> rows(byte[] bytes, int start, long count, int fields, String name)
      throws IOException {
    int end = bytes.length - 8;
    if (count < 0 || end < start) {
      throw new IOException("spool file " + name + " is damaged (ends before its rows)");
    }
    CRC32 crc = new CRC32();
    crc.update(bytes, start, end - start);
    if (crc.getValue() != ByteBuffer.wrap(bytes, end, 8).getLong()) {
      throw new IOException("spool file " + name + " is damaged (its CRC does not match its rows)");
    }
    ByteBuffer buf = ByteBuffer.wrap(bytes, 0, end);
    buf.position(start);
    long n = 0;
    while (buf.hasRemaining()) {
      if (buf.remaining() < 4) {
        throw new IOException("spool file " + name + " is damaged (a row's size is cut)");
      }
      int size = buf.getInt();
      if (size < 0 || size > buf.remaining()) {
        throw new IOException("spool file " + name + " is damaged (a row of " + size + " bytes)");
      }
      buf.position(buf.position() + size);
      n++;
    }
    if (n != count) {
      throw new IOException("spool file " + name + " is damaged (" + n + " rows, its header says " + count + ")");
    }
    return new Iterator<>() {
      private int at = start;

      @Override
      public boolean hasNext() {
        return at < end;
      }

      @Override
      public InternalRow next() {
        if (at >= end) {
          throw new NoSuchElementException();
        }
        int size = ByteBuffer.wrap(bytes, at, 4).getInt();
        UnsafeRow row = new UnsafeRow(fields);
        row.pointTo(bytes, Platform.BYTE_ARRAY_OFFSET + at + 4, size);
        at += 4 + size;
        return row;
      }
    };
  }

  /**
   * A row's record: the struct of its columns as an {@link UnsafeRow}'s bytes ({@link RowBytes}, its encoder
   * kept per task thread).
   */
  static final class Record implements UDF1<Row, byte[]> {
    private static final long serialVersionUID = 1L;
    private transient StructType schema;
    private transient RowBytes codec;

    @Override
    public byte[] call(Row row) {
      StructType s = row.schema(); // the same object for every row of the struct
      if (s != schema) {
        codec = RowBytes.of(s);
        schema = s;
      }
      return codec.encode(row);
    }
  }
}
