package io.recsys.feast;

import com.google.common.hash.Hashing;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Keys and hash fields of Feast's Redis online store, byte for byte as Feast 0.4x-0.6x writes them with
 * {@code entity_key_serialization_version: 3}.
 *
 * <ul>
 *   <li>Key: {@code uint32 LE count}, then per join key (sorted by name) {@code uint32 LE type=STRING(2)},
 *       {@code uint32 LE length}, UTF-8 name; then per value {@code uint32 LE value type}, {@code uint32 LE
 *       length}, value bytes (UTF-8 for strings, 8 bytes LE for int64, 4 bytes LE for int32); then the project
 *       name in UTF-8. One Redis hash per entity key holds every view of that entity.
 *   <li>Feature field: murmur3_32 (seed 0) of {@code "view:feature"}, as 4 little-endian bytes.
 *   <li>Timestamp field: {@code "_ts:view"} in UTF-8; its value is a serialized google.protobuf.Timestamp.
 * </ul>
 *
 * Pinned by golden vectors that Feast's Python SDK writes (feature-defs/tests/test_feast_repo.py). Stateless
 * and thread-safe; a key costs one small array copy.
 */
public final class FeastKeyCodec {

  /** feast.types.ValueType.Enum numbers used in the key encoding. */
  static final int STRING = 2;
  static final int INT32 = 3;
  static final int INT64 = 4;

  private FeastKeyCodec() {}

  /** The Redis key of a single-join-key entity whose value is a string (user_id, item_id). */
  public static byte[] redisKey(String project, String joinKey, String value) {
    byte[] name = joinKey.getBytes(StandardCharsets.UTF_8);
    byte[] val = value.getBytes(StandardCharsets.UTF_8);
    byte[] proj = project.getBytes(StandardCharsets.UTF_8);
    ByteBuffer buf = ByteBuffer.allocate(4 + 8 + name.length + 8 + val.length + proj.length)
        .order(ByteOrder.LITTLE_ENDIAN);
    buf.putInt(1).putInt(STRING).putInt(name.length).put(name);
    buf.putInt(STRING).putInt(val.length).put(val);
    buf.put(proj);
    return buf.array();
  }

  /**
   * The Redis key of an entity with any number of join keys. Values are String, Long or Integer; join keys are
   * sorted by name with their values, as Feast does.
   */
  public static byte[] redisKey(String project, List<String> joinKeys, List<Object> values) {
    if (joinKeys.size() != values.size()) {
      throw new IllegalArgumentException(joinKeys.size() + " join keys but " + values.size() + " values");
    }
    Integer[] order = new Integer[joinKeys.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> joinKeys.get(a).compareTo(joinKeys.get(b)));
    ByteArrayOutputStream out = new ByteArrayOutputStream(64);
    writeInt(out, order.length);
    for (int i : order) {
      byte[] name = joinKeys.get(i).getBytes(StandardCharsets.UTF_8);
      writeInt(out, STRING);
      writeInt(out, name.length);
      out.writeBytes(name);
    }
    for (int i : order) {
      Object v = values.get(i);
      byte[] bytes;
      int type;
      if (v instanceof String s) {
        type = STRING;
        bytes = s.getBytes(StandardCharsets.UTF_8);
      } else if (v instanceof Long l) {
        type = INT64;
        bytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(l).array();
      } else if (v instanceof Integer n) {
        type = INT32;
        bytes = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(n).array();
      } else {
        throw new IllegalArgumentException("entity value of join key '" + joinKeys.get(i) + "' is "
            + (v == null ? "null" : v.getClass().getSimpleName()) + "; Feast keys take String, Long or Integer");
      }
      writeInt(out, type);
      writeInt(out, bytes.length);
      out.writeBytes(bytes);
    }
    out.writeBytes(project.getBytes(StandardCharsets.UTF_8));
    return out.toByteArray();
  }

  /** The hash field of a feature: murmur3_32 (seed 0) of "view:feature", little-endian. */
  @SuppressWarnings("UnstableApiUsage")
  public static byte[] featureField(String view, String feature) {
    // Guava's HashCode.asBytes() of a 32-bit hash is little-endian, which is what Feast stores.
    return Hashing.murmur3_32_fixed().hashString(view + ":" + feature, StandardCharsets.UTF_8).asBytes();
  }

  /** The hash field holding a view's event timestamp: "_ts:view". */
  public static byte[] timestampField(String view) {
    return ("_ts:" + view).getBytes(StandardCharsets.UTF_8);
  }

  private static void writeInt(ByteArrayOutputStream out, int v) {
    out.write(v);
    out.write(v >>> 8);
    out.write(v >>> 16);
    out.write(v >>> 24);
  }
}
