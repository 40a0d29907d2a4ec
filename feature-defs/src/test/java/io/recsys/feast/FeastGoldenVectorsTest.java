package io.recsys.feast;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.ValueType;
import java.io.InputStream;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Our codec against the bytes Feast's own Python RedisOnlineStore wrote (golden-v3.json, produced and checked by
 * feature-defs/tests/test_feast_repo.py): every key, field and value must be identical.
 */
class FeastGoldenVectorsTest {

  private static final HexFormat HEX = HexFormat.of();
  private static JsonNode golden;

  @BeforeAll
  static void load() throws Exception {
    try (InputStream in = FeastGoldenVectorsTest.class.getResourceAsStream("/io/recsys/feast/golden-v3.json")) {
      golden = new ObjectMapper().readTree(in);
    }
  }

  @Test
  void encodesEveryHashExactlyAsFeastWroteIt() {
    String project = golden.get("project").asText();
    Map<String, Map<String, String>> ours = new TreeMap<>();
    for (JsonNode w : golden.get("writes")) {
      String view = w.get("view").asText();
      String key = HEX.formatHex(FeastKeyCodec.redisKey(project, w.get("join_key").asText(),
          w.get("entity_value").asText()));
      Map<String, String> hash = ours.computeIfAbsent(key, k -> new TreeMap<>());
      hash.put(HEX.formatHex(FeastKeyCodec.timestampField(view)),
          HEX.formatHex(FeastValueCodec.encodeTimestamp(OffsetDateTime.parse(w.get("event_timestamp").asText()).toInstant())));
      for (Iterator<Map.Entry<String, JsonNode>> it = w.get("features").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> f = it.next();
        ValueType type = ValueType.valueOf(f.getValue().get("dtype").asText());
        hash.put(HEX.formatHex(FeastKeyCodec.featureField(view, f.getKey())),
            HEX.formatHex(FeastValueCodec.encode(type, javaValue(f.getValue().get("value")))));
      }
    }
    Map<String, Map<String, String>> feast = new TreeMap<>();
    golden.get("hashes").fields().forEachRemaining(h -> {
      Map<String, String> fields = new TreeMap<>();
      h.getValue().fields().forEachRemaining(f -> fields.put(f.getKey(), f.getValue().asText()));
      feast.put(h.getKey(), fields);
    });
    assertThat(feast).isNotEmpty();
    assertThat(ours).isEqualTo(feast);
  }

  @Test
  void multiKeyEncodingOfOneStringKeyEqualsTheFastPath() {
    assertThat(FeastKeyCodec.redisKey("recsys", List.of("user_id"), List.of("u-1")))
        .isEqualTo(FeastKeyCodec.redisKey("recsys", "user_id", "u-1"));
  }

  @Test
  void decodesWhatItEncodes() {
    assertThat(FeastValueCodec.toJava(FeastValueCodec.decode(FeastValueCodec.encode(ValueType.STRING_LIST,
        List.of("a", "é"))))).isEqualTo(List.of("a", "é"));
    assertThat(FeastValueCodec.toJava(FeastValueCodec.decode(FeastValueCodec.encode(ValueType.INT64, 7)))).isEqualTo(7L);
    assertThat(FeastValueCodec.toJava(FeastValueCodec.decode(new byte[0]))).isNull();
  }

  @Test
  void featureFieldsOfTheDefinitionsAreDistinct() {
    FeatureDefinitions defs = FeatureDefinitions.load();
    List<String> fields = new ArrayList<>();
    defs.views().values().forEach(v -> v.features().forEach(f ->
        fields.add(HEX.formatHex(FeastKeyCodec.featureField(v.name(), f.name())))));
    assertThat(fields).doesNotHaveDuplicates();
  }

  private static Object javaValue(JsonNode v) {
    if (v == null || v.isNull()) {
      return null;
    }
    if (v.isArray()) {
      List<Object> out = new ArrayList<>();
      v.forEach(e -> out.add(javaValue(e)));
      return out;
    }
    if (v.isBoolean()) {
      return v.asBoolean();
    }
    if (v.isIntegralNumber()) {
      return v.asLong();
    }
    if (v.isNumber()) {
      return v.asDouble();
    }
    return v.asText();
  }
}
