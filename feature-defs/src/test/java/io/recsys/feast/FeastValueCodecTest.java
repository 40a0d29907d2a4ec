package io.recsys.feast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import feast.proto.types.ValueProto.DoubleList;
import feast.proto.types.ValueProto.Null;
import feast.proto.types.ValueProto.Value;
import io.recsys.features.ValueType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class FeastValueCodecTest {

  /** isNull must say what parsing says: the empty Value is the one whose oneof is not set. */
  @Test
  void isNullAgreesWithParsingOnEveryKindOfStoredValue() throws Exception {
    List<byte[]> stored = List.of(
        new byte[0],
        Value.getDefaultInstance().toByteArray(),
        FeastValueCodec.encode(ValueType.INT64, 0L),
        FeastValueCodec.encode(ValueType.INT64, 42L),
        FeastValueCodec.encode(ValueType.DOUBLE, 0.0),
        FeastValueCodec.encode(ValueType.STRING, ""),
        FeastValueCodec.encode(ValueType.STRING, "books"),
        FeastValueCodec.encode(ValueType.BOOL, false),
        FeastValueCodec.encode(ValueType.INT64, null),
        Value.newBuilder().setNullVal(Null.NULL).build().toByteArray(),
        Value.newBuilder().setDoubleListVal(DoubleList.getDefaultInstance()).build().toByteArray(),
        Value.newBuilder().setBytesVal(ByteString.EMPTY).build().toByteArray(),
        field(100, 7),                       // a field Value does not have: kept aside, nothing set
        field(3, 7),                         // int32_val's number with a length-delimited wire type: unknown too
        concat(field(100, 7), FeastValueCodec.encode(ValueType.INT64, 5L)));

    for (byte[] bytes : stored) {
      boolean parsedUnset = Value.parseFrom(bytes).getValCase() == Value.ValCase.VAL_NOT_SET;
      assertThat(FeastValueCodec.isNull(bytes)).as("%s", HexFormat.of().formatHex(bytes)).isEqualTo(parsedUnset);
    }
    assertThat(FeastValueCodec.isNull(null)).isTrue();
  }

  /** The fast read of stored bytes must give what parsing the Value gives, for every kind of Value. */
  @Test
  void toJavaOfStoredBytesIsWhatTheParsedValueGives() throws Exception {
    List<byte[]> stored = List.of(
        new byte[0],
        FeastValueCodec.encode(ValueType.INT64, 0L),
        FeastValueCodec.encode(ValueType.INT64, -7L),
        FeastValueCodec.encode(ValueType.INT64, Long.MAX_VALUE),
        FeastValueCodec.encode(ValueType.INT32, -300),
        FeastValueCodec.encode(ValueType.DOUBLE, 0.125),
        FeastValueCodec.encode(ValueType.DOUBLE, Double.NaN),
        FeastValueCodec.encode(ValueType.FLOAT, -2.5f),
        FeastValueCodec.encode(ValueType.BOOL, true),
        FeastValueCodec.encode(ValueType.BOOL, false),
        FeastValueCodec.encode(ValueType.STRING, ""),
        FeastValueCodec.encode(ValueType.STRING, "électronique"),
        FeastValueCodec.encode(ValueType.STRING_LIST, List.of("i1", "i2")),
        FeastValueCodec.encode(ValueType.INT64_LIST, List.of(1L, 2L)),
        FeastValueCodec.encode(ValueType.DOUBLE_LIST, List.of(0.5)),
        Value.newBuilder().setUnixTimestampVal(1_764_000_000L).build().toByteArray(),
        Value.newBuilder().setBytesVal(ByteString.copyFrom(new byte[] {9, 8})).build().toByteArray(),
        Value.newBuilder().setNullVal(Null.NULL).build().toByteArray(),
        field(100, 7),                                                  // unknown field only: null
        concat(FeastValueCodec.encode(ValueType.INT64, 5L), field(100, 2)), // a scalar and an unknown field
        concat(FeastValueCodec.encode(ValueType.INT64, 5L), FeastValueCodec.encode(ValueType.STRING, "last")),
        field(Value.INT64_VAL_FIELD_NUMBER, 3));                         // int64's number, wrong wire type

    for (byte[] bytes : stored) {
      assertThat(FeastValueCodec.toJava(bytes)).as("%s", HexFormat.of().formatHex(bytes))
          .isEqualTo(FeastValueCodec.toJava(Value.parseFrom(bytes)));
    }
    assertThat(FeastValueCodec.toJava((byte[]) null)).isNull();
    // a string that is not UTF-8 is refused as the parser refuses it
    byte[] notUtf8 = {0x12, 0x02, (byte) 0xC3, 0x28};
    assertThatThrownBy(() -> FeastValueCodec.toJava(notUtf8)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a serialized feast.types.Value");
  }

  @Test
  void isNullRefusesBytesThatAreNotAValue() {
    byte[] truncated = FeastValueCodec.encode(ValueType.STRING, "truncated");
    byte[] cut = Arrays.copyOf(truncated, truncated.length - 3);
    assertThatThrownBy(() -> FeastValueCodec.isNull(cut))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a serialized feast.types.Value");
    assertThatThrownBy(() -> FeastValueCodec.decode(cut)).isInstanceOf(IllegalArgumentException.class);
  }

  private static byte[] field(int number, int length) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    out.writeByteArray(number, new byte[length]);
    out.flush();
    return bytes.toByteArray();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
