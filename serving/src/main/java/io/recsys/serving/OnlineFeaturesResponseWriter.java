package io.recsys.serving;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import feast.proto.serving.ServingAPIProto.FeatureList;
import feast.proto.serving.ServingAPIProto.FieldStatus;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponse;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponse.FeatureVector;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponseMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Feast's {@link GetOnlineFeaturesResponse}, written straight to its bytes with protobuf's
 * {@link CodedOutputStream} from values that are serialized already: the {@code feast.types.Value} bytes as Redis
 * returns them, and one serialized {@code google.protobuf.Timestamp} per view row. The bytes are those the
 * generated classes write for the same response (field order, packed statuses; {@code
 * OnlineFeaturesResponseWriterTest} compares them), and any Feast client parses them.
 *
 * <p>Why not the generated builders: for one row of 250 features they parse 250 Values, build 250 {@link
 * FeatureVector}s (each with three lists) and size and write them again. That was about a third of the feature
 * server's CPU per call in a profile, and the server's CPU per call is the largest share of a lookup's CPU on the
 * machine (BENCHMARKS.md, the lookups notes).
 *
 * <p>One writer per response, on one thread: name each column, {@link #set} each cell, then {@link #toByteArray}.
 */
final class OnlineFeaturesResponseWriter {

  private static final int LENGTH_DELIMITED = WireFormat.WIRETYPE_LENGTH_DELIMITED;
  private static final byte[] EMPTY = new byte[0];

  private final int columns;
  private final int rows;
  private final String[] names;
  private final byte[][] values;
  private final int[] statuses;
  private final byte[][] timestamps;

  OnlineFeaturesResponseWriter(int columns, int rows) {
    this.columns = columns;
    this.rows = rows;
    this.names = new String[columns];
    this.values = new byte[columns * rows][];
    this.statuses = new int[columns * rows];
    this.timestamps = new byte[columns * rows][];
  }

  /** The column's name in the response's metadata. */
  void name(int column, String name) {
    names[column] = name;
  }

  /**
   * One cell: the serialized Value (empty for the empty Value), its status and the serialized event Timestamp
   * (empty for none, which Feast sends as the default Timestamp). The arrays are kept, not copied.
   */
  void set(int column, int row, byte[] value, FieldStatus status, byte[] timestamp) {
    int i = column * rows + row;
    values[i] = value;
    statuses[i] = status.getNumber();
    timestamps[i] = timestamp;
  }

  /** The response's bytes. Every column must be named and every cell set. */
  byte[] toByteArray() {
    int namesSize = 0;
    for (String name : names) {
      namesSize += CodedOutputStream.computeStringSize(FeatureList.VAL_FIELD_NUMBER, name);
    }
    int metadataSize = delimited(GetOnlineFeaturesResponseMetadata.FEATURE_NAMES_FIELD_NUMBER, namesSize);
    int total = delimited(GetOnlineFeaturesResponse.METADATA_FIELD_NUMBER, metadataSize);
    int[] columnSize = new int[columns];
    int[] statusesSize = new int[columns];
    for (int c = 0; c < columns; c++) {
      int size = 0;
      int packed = 0;
      for (int i = c * rows; i < (c + 1) * rows; i++) {
        size += delimited(FeatureVector.VALUES_FIELD_NUMBER, values[i].length)
            + delimited(FeatureVector.EVENT_TIMESTAMPS_FIELD_NUMBER, timestamps[i].length);
        packed += CodedOutputStream.computeEnumSizeNoTag(statuses[i]);
      }
      if (rows > 0) {
        size += delimited(FeatureVector.STATUSES_FIELD_NUMBER, packed);
      }
      columnSize[c] = size;
      statusesSize[c] = packed;
      total += delimited(GetOnlineFeaturesResponse.RESULTS_FIELD_NUMBER, size);
    }

    byte[] out = new byte[total];
    CodedOutputStream o = CodedOutputStream.newInstance(out);
    try {
      o.writeTag(GetOnlineFeaturesResponse.METADATA_FIELD_NUMBER, LENGTH_DELIMITED);
      o.writeUInt32NoTag(metadataSize);
      o.writeTag(GetOnlineFeaturesResponseMetadata.FEATURE_NAMES_FIELD_NUMBER, LENGTH_DELIMITED);
      o.writeUInt32NoTag(namesSize);
      for (String name : names) {
        o.writeString(FeatureList.VAL_FIELD_NUMBER, name);
      }
      for (int c = 0; c < columns; c++) {
        o.writeTag(GetOnlineFeaturesResponse.RESULTS_FIELD_NUMBER, LENGTH_DELIMITED);
        o.writeUInt32NoTag(columnSize[c]);
        // Field order as the generated code writes it: every value, the packed statuses, every timestamp.
        for (int i = c * rows; i < (c + 1) * rows; i++) {
          o.writeByteArray(FeatureVector.VALUES_FIELD_NUMBER, values[i]);
        }
        if (rows > 0) {
          o.writeTag(FeatureVector.STATUSES_FIELD_NUMBER, LENGTH_DELIMITED);
          o.writeUInt32NoTag(statusesSize[c]);
          for (int i = c * rows; i < (c + 1) * rows; i++) {
            o.writeEnumNoTag(statuses[i]);
          }
        }
        for (int i = c * rows; i < (c + 1) * rows; i++) {
          o.writeByteArray(FeatureVector.EVENT_TIMESTAMPS_FIELD_NUMBER, timestamps[i]);
        }
      }
      o.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new UncheckedIOException("the response's size was computed wrong", e); // a bug here, not bad input
    }
    return out;
  }

  /** No bytes: the empty Value, or no Timestamp. */
  static byte[] empty() {
    return EMPTY;
  }

  private static int delimited(int field, int length) {
    return CodedOutputStream.computeTagSize(field) + CodedOutputStream.computeUInt32SizeNoTag(length) + length;
  }
}
