package io.recsys.contract;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The schema file is a real JSON Schema (2020-12) and a full validator agrees with EventParser's reading of it:
 * valid events pass both; contract violations the schema can express fail both.
 */
class EventSchemaTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final JsonSchema SCHEMA = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012)
      .getSchema(EventSchemaTest.class.getResourceAsStream(EventSchema.V1_RESOURCE));
  final EventParser parser = new EventParser(ParserConfig.DEFAULT);

  static boolean validatorAccepts(String json) throws Exception {
    JsonNode node = JSON.readTree(json);
    return SCHEMA.validate(node).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(EventType.class)
  void validEventsPassTheValidatorToo(EventType type) throws Exception {
    String json = EventParserTest.validOf(type);
    assertThat(validatorAccepts(json)).as(json).isTrue();
    assertThat(parser.parse(json.getBytes(), EventParserTest.NOW)).isInstanceOf(ParseOutcome.Valid.class);
  }

  @Test
  void violationsFailBoth() throws Exception {
    String base = EventParserTest.validOf(EventType.ADD_TO_CART);
    List<String> bad = List.of(
        base.replace("\"user_id\":\"u1\",", ""),
        base.replace("\"user_id\":\"u1\"", "\"user_id\":1"),
        base.replace("add_to_cart", "teleport"),
        base.replace("\"schema_version\":1", "\"schema_version\":3"),
        base.replace("\"quantity\":2", "\"quantity\":0"),
        base.replace("\"price\":9.5", "\"price\":-2"),
        base.replace(",\"item_id\":\"i1\"", ""),
        EventParserTest.validOf(EventType.SEARCH).replace(",\"query\":\"red shoes\"", ""),
        EventParserTest.validOf(EventType.RATING).replace("4.5", "6"));
    for (String json : bad) {
      assertThat(validatorAccepts(json)).as("validator on " + json).isFalse();
      assertThat(parser.parse(json.getBytes(), EventParserTest.NOW)).as("parser on " + json)
          .isInstanceOf(ParseOutcome.Rejected.class);
    }
  }

  @Test
  void schemaReadsTheRulesOfTheFile() {
    EventSchema s = EventSchema.v1();
    assertThat(s.version()).isEqualTo(1);
    assertThat(s.required()).containsExactly("event_id", "schema_version", "event_type", "user_id", "event_time");
    assertThat(s.requiredFor(EventType.PURCHASE)).containsExactly("item_id", "price", "quantity");
    assertThat(s.requiredFor(EventType.PAGE_VIEW)).isEmpty();
    assertThat(s.field("event_time").kinds()).containsExactlyInAnyOrder(EventSchema.Kind.STRING, EventSchema.Kind.INTEGER);
  }
}
