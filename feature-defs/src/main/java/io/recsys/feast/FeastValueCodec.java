package io.recsys.feast;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.WireFormat;
import feast.proto.types.ValueProto;
import feast.proto.types.ValueProto.Value;
import io.recsys.features.ValueType;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.Collection;
import java.util.List;

/**
 * Feature values and timestamps of Feast's Redis online store: serialized {@code feast.types.Value} (the
 * protobuf classes of dev.feast:feast-datatypes) and {@code google.protobuf.Timestamp}. A null value is the
 * empty Value, as Feast writes a missing one. Stateless and thread-safe.
 */
public final class FeastValueCodec {

  private FeastValueCodec() {}

  /** The Value of a Java object for a features.yaml dtype (numbers widen or narrow to the dtype). */
  public static Value toValue(ValueType type, Object v) {
    if (v == null) {
      return Value.getDefaultInstance();
    }
    Value.Builder b = Value.newBuilder();
    switch (type) {
      case INT64 -> b.setInt64Val(((Number) v).longValue());
      case INT32 -> b.setInt32Val(((Number) v).intValue());
      case DOUBLE -> b.setDoubleVal(((Number) v).doubleValue());
      case FLOAT -> b.setFloatVal(((Number) v).floatValue());
      case STRING -> b.setStringVal(v.toString());
      case BOOL -> b.setBoolVal((Boolean) v);
      case UNIX_TIMESTAMP -> b.setUnixTimestampVal(v instanceof Instant i ? i.getEpochSecond() : ((Number) v).longValue());
      case STRING_LIST -> {
        ValueProto.StringList.Builder l = ValueProto.StringList.newBuilder();
        for (Object o : list(v)) {
          l.addVal(String.valueOf(o));
        }
        b.setStringListVal(l);
      }
      case INT64_LIST -> {
        ValueProto.Int64List.Builder l = ValueProto.Int64List.newBuilder();
        for (Object o : list(v)) {
          l.addVal(((Number) o).longValue());
        }
        b.setInt64ListVal(l);
      }
      case DOUBLE_LIST -> {
        ValueProto.DoubleList.Builder l = ValueProto.DoubleList.newBuilder();
        for (Object o : list(v)) {
          l.addVal(((Number) o).doubleValue());
        }
        b.setDoubleListVal(l);
      }
    }
    return b.build();
  }

  /** Serialized Value bytes, what Feast stores in a feature field. */
  public static byte[] encode(ValueType type, Object v) {
    return toValue(type, v).toByteArray();
  }

  /** A stored Value, or the empty Value for null/empty bytes. */
  public static Value decode(byte[] bytes) {
    if (bytes == null || bytes.length == 0) {
      return Value.getDefaultInstance();
    }
    try {
      return Value.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("not a serialized feast.types.Value (" + bytes.length + " bytes)", e);
    }
  }

  /**
   * Whether stored Value bytes are the empty Value (a stored null: no field of Value's {@code val} oneof), checked
   * without parsing them into a Value: the wire format is walked field by field, and a field that Value does not
   * know (by number and wire type) is skipped, as a parser keeps it aside. Strings are not checked for UTF-8.
   * For servers that pass the bytes on as they are.
   *
   * @throws IllegalArgumentException when the bytes are not protobuf's wire format (as {@link #decode} throws)
   */
  public static boolean isNull(byte[] bytes) {
    if (bytes == null || bytes.length == 0) {
      return true;
    }
    CodedInputStream in = CodedInputStream.newInstance(bytes);
    boolean set = false;
    try {
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        Descriptors.FieldDescriptor field = VALUE_FIELDS.findFieldByNumber(WireFormat.getTagFieldNumber(tag));
        set |= field != null && WireFormat.getTagWireType(tag) == field.getLiteType().getWireType();
        if (!in.skipField(tag)) {
          throw new InvalidProtocolBufferException("end-group tag outside a group");
        }
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("not a serialized feast.types.Value (" + bytes.length + " bytes)", e);
    }
    return !set;
  }

  private static final Descriptors.Descriptor VALUE_FIELDS = Value.getDescriptor();

  /**
   * The plain Java value of stored Value bytes, as {@code toJava(decode(bytes))} gives it. A Value of one scalar
   * (INT64, DOUBLE, STRING, ...: what the windowed features store) is read straight from the bytes with
   * protobuf's {@link CodedInputStream}, without a Value message: parsing Values was over half of the lookup
   * threads' CPU in a profile of our client reading 100 entities x 50 features (BENCHMARKS.md, lookups notes).
   * Anything else (lists, several fields, unknown fields, malformed bytes) goes through the parser.
   *
   * @throws IllegalArgumentException when the bytes are not a serialized Value (as {@link #decode} throws)
   */
  public static Object toJava(byte[] bytes) {
    if (bytes == null || bytes.length == 0) {
      return null;
    }
    try {
      CodedInputStream in = CodedInputStream.newInstance(bytes);
      Object v = switch (in.readTag()) {
        case INT64 -> in.readInt64();
        case DOUBLE -> in.readDouble();
        case STRING -> in.readStringRequireUtf8();
        case INT32 -> in.readInt32();
        case FLOAT -> in.readFloat();
        case BOOL -> in.readBool();
        case UNIX_TIMESTAMP -> Instant.ofEpochSecond(in.readInt64());
        case BYTES -> in.readByteArray();
        default -> null;
      };
      if (v != null && in.isAtEnd()) {
        return v;
      }
    } catch (IOException | DateTimeException e) {
      // the parser below reads it the way a Value is read, or says what is wrong with it
    }
    return toJava(decode(bytes));
  }

  private static final int VARINT = WireFormat.WIRETYPE_VARINT;
  private static final int INT64 = Value.INT64_VAL_FIELD_NUMBER << 3 | VARINT;
  private static final int DOUBLE = Value.DOUBLE_VAL_FIELD_NUMBER << 3 | WireFormat.WIRETYPE_FIXED64;
  private static final int STRING = Value.STRING_VAL_FIELD_NUMBER << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;
  private static final int INT32 = Value.INT32_VAL_FIELD_NUMBER << 3 | VARINT;
  private static final int FLOAT = Value.FLOAT_VAL_FIELD_NUMBER << 3 | WireFormat.WIRETYPE_FIXED32;
  private static final int BOOL = Value.BOOL_VAL_FIELD_NUMBER << 3 | VARINT;
  private static final int UNIX_TIMESTAMP = Value.UNIX_TIMESTAMP_VAL_FIELD_NUMBER << 3 | VARINT;
  private static final int BYTES = Value.BYTES_VAL_FIELD_NUMBER << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;

  /** The plain Java value of a Value: Long, Integer, Double, Float, String, Boolean, List, or null. */
  public static Object toJava(Value v) {
    return switch (v.getValCase()) {
      case INT64_VAL -> v.getInt64Val();
      case INT32_VAL -> v.getInt32Val();
      case DOUBLE_VAL -> v.getDoubleVal();
      case FLOAT_VAL -> v.getFloatVal();
      case STRING_VAL -> v.getStringVal();
      case BOOL_VAL -> v.getBoolVal();
      case UNIX_TIMESTAMP_VAL -> Instant.ofEpochSecond(v.getUnixTimestampVal());
      case STRING_LIST_VAL -> List.copyOf(v.getStringListVal().getValList());
      case INT64_LIST_VAL -> List.copyOf(v.getInt64ListVal().getValList());
      case DOUBLE_LIST_VAL -> List.copyOf(v.getDoubleListVal().getValList());
      case INT32_LIST_VAL -> List.copyOf(v.getInt32ListVal().getValList());
      case FLOAT_LIST_VAL -> List.copyOf(v.getFloatListVal().getValList());
      case BOOL_LIST_VAL -> List.copyOf(v.getBoolListVal().getValList());
      case BYTES_VAL -> v.getBytesVal().toByteArray();
      default -> null;
    };
  }

  /** A serialized google.protobuf.Timestamp (seconds and nanos), what Feast stores in "_ts:view". */
  public static byte[] encodeTimestamp(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build().toByteArray();
  }

  /** The instant of a stored Timestamp; null for null or empty bytes. */
  public static Instant decodeTimestamp(byte[] bytes) {
    if (bytes == null || bytes.length == 0) {
      return null;
    }
    try {
      Timestamp ts = Timestamp.parseFrom(bytes);
      return Instant.ofEpochSecond(ts.getSeconds(), ts.getNanos());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("not a serialized google.protobuf.Timestamp (" + bytes.length + " bytes)", e);
    }
  }

  private static Collection<?> list(Object v) {
    if (v instanceof Collection<?> c) {
      return c;
    }
    if (v instanceof Object[] a) {
      return List.of(a);
    }
    throw new IllegalArgumentException("a list dtype needs a Collection or array, not " + v.getClass().getName());
  }
}
