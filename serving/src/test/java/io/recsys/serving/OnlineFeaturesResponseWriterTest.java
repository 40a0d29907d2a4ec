package io.recsys.serving;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import feast.proto.serving.ServingAPIProto.FeatureList;
import feast.proto.serving.ServingAPIProto.FieldStatus;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponse;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponse.FeatureVector;
import feast.proto.serving.ServingAPIProto.GetOnlineFeaturesResponseMetadata;
import feast.proto.types.ValueProto.Int64List;
import feast.proto.types.ValueProto.Null;
import feast.proto.types.ValueProto.StringList;
import feast.proto.types.ValueProto.Value;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The response the feature server writes from stored bytes against the one Feast's generated classes build from
 * the same columns: the bytes must be identical, so every Feast client parses it as it parses Feast's own.
 */
class OnlineFeaturesResponseWriterTest {

  private static final List<Value> VALUES = List.of(
      Value.getDefaultInstance(),
      Value.newBuilder().setInt64Val(0).build(),
      Value.newBuilder().setInt64Val(-1).build(),
      Value.newBuilder().setInt64Val(Long.MAX_VALUE).build(),
      Value.newBuilder().setInt32Val(300).build(),
      Value.newBuilder().setDoubleVal(0.25).build(),
      Value.newBuilder().setFloatVal(-3.5f).build(),
      Value.newBuilder().setBoolVal(true).build(),
      Value.newBuilder().setStringVal("électronique/téléphones").build(),
      Value.newBuilder().setStringVal("x".repeat(300)).build(),
      Value.newBuilder().setBytesVal(ByteString.copyFrom(new byte[] {0, 1, 2})).build(),
      Value.newBuilder().setUnixTimestampVal(1_700_000_000L).build(),
      Value.newBuilder().setNullVal(Null.NULL).build(),
      Value.newBuilder().setStringListVal(StringList.newBuilder().addVal("a").addVal("b")).build(),
      Value.newBuilder().setInt64ListVal(Int64List.newBuilder().addVal(7).addVal(1L << 40)).build());

  private static final List<Timestamp> TIMES = List.of(
      Timestamp.getDefaultInstance(),
      Timestamp.newBuilder().setSeconds(1_764_000_000L).build(),
      Timestamp.newBuilder().setSeconds(1_764_000_000L).setNanos(123_000_000).build());

  @ParameterizedTest(name = "{0} columns x {1} rows")
  @CsvSource({"1, 1", "2, 0", "3, 1", "251, 1", "5, 3", "40, 100"})
  void writesTheBytesOfFeastsOwnMessage(int columns, int rows) {
    Random random = new Random(31L * columns + rows);
    OnlineFeaturesResponseWriter writer = new OnlineFeaturesResponseWriter(columns, rows);
    FeatureList.Builder names = FeatureList.newBuilder();
    FeatureVector.Builder[] vectors = new FeatureVector.Builder[columns];
    for (int c = 0; c < columns; c++) {
      String name = c == 0 ? "user_id" : "view_" + (c % 7) + "__feature_" + c + (c % 5 == 0 ? "_é" : "");
      writer.name(c, name);
      names.addVal(name);
      vectors[c] = FeatureVector.newBuilder();
      for (int r = 0; r < rows; r++) {
        Value v = VALUES.get(random.nextInt(VALUES.size()));
        FieldStatus status = FieldStatus.forNumber(1 + random.nextInt(4)); // PRESENT .. OUTSIDE_MAX_AGE
        Timestamp t = TIMES.get(random.nextInt(TIMES.size()));
        byte[] timeBytes = t.getSerializedSize() == 0 ? OnlineFeaturesResponseWriter.empty() : t.toByteArray();
        writer.set(c, r, v.toByteArray(), status, timeBytes);
        vectors[c].addValues(v).addStatuses(status).addEventTimestamps(t);
      }
    }
    GetOnlineFeaturesResponse.Builder expected = GetOnlineFeaturesResponse.newBuilder()
        .setMetadata(GetOnlineFeaturesResponseMetadata.newBuilder().setFeatureNames(names));
    for (FeatureVector.Builder v : vectors) {
      expected.addResults(v);
    }

    byte[] written = writer.toByteArray();

    assertThat(written).isEqualTo(expected.build().toByteArray());
  }
}
