package io.recsys.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

class EventParserTest {

  static final long NOW = Instant.parse("2026-11-20T12:00:00Z").toEpochMilli();
  final EventParser parser = new EventParser(ParserConfig.DEFAULT);

  static String valid(String type, String extra) {
    return "{\"event_id\":\"e1\",\"schema_version\":1,\"event_type\":\"" + type + "\",\"user_id\":\"u1\","
        + "\"event_time\":\"2026-11-20T11:59:00Z\"" + extra + "}";
  }

  static String validOf(EventType t) {
    return switch (t) {
      case PAGE_VIEW -> valid("page_view", ",\"item_id\":\"i1\",\"context\":{\"device\":\"ios\",\"page\":\"home\"}");
      case CLICK -> valid("click", ",\"item_id\":\"i1\",\"session_id\":\"s1\"");
      case ADD_TO_CART -> valid("add_to_cart", ",\"item_id\":\"i1\",\"price\":9.5,\"quantity\":2");
      case REMOVE_FROM_CART -> valid("remove_from_cart", ",\"item_id\":\"i1\",\"quantity\":1");
      case PURCHASE -> valid("purchase", ",\"item_id\":\"i1\",\"price\":10,\"quantity\":3,\"category\":\"shoes\"");
      case RATING -> valid("rating", ",\"item_id\":\"i1\",\"rating\":4.5");
      case SEARCH -> valid("search", ",\"query\":\"red shoes\"");
    };
  }

  ParseOutcome parse(String json) {
    return parser.parse(json == null ? null : json.getBytes(StandardCharsets.UTF_8), NOW);
  }

  ParseOutcome.Rejected rejected(String json) {
    ParseOutcome o = parse(json);
    assertThat(o).isInstanceOf(ParseOutcome.Rejected.class);
    return (ParseOutcome.Rejected) o;
  }

  @ParameterizedTest
  @EnumSource(EventType.class)
  void acceptsAValidEventOfEachType(EventType type) {
    ParseOutcome o = parse(validOf(type));
    assertThat(o).isInstanceOf(ParseOutcome.Valid.class);
    Event e = ((ParseOutcome.Valid) o).event();
    assertThat(e.eventType()).isEqualTo(type);
    assertThat(e.eventId()).isEqualTo("e1");
    assertThat(e.userId()).isEqualTo("u1");
    assertThat(e.eventTimeMillis()).isEqualTo(Instant.parse("2026-11-20T11:59:00Z").toEpochMilli());
  }

  @Test
  void keepsEveryFieldWithItsType() {
    Event e = ((ParseOutcome.Valid) parse(valid("purchase",
        ",\"item_id\":\"i9\",\"price\":10,\"quantity\":3,\"category\":\"shoes\",\"session_id\":\"s7\","
            + "\"context\":{\"device\":\"web\",\"ab\":7,\"beta\":true,\"gone\":null}"))).event();
    assertThat(e.price()).isEqualTo(10.0);
    assertThat(e.quantity()).isEqualTo(3);
    assertThat(e.itemId()).isEqualTo("i9");
    assertThat(e.category()).isEqualTo("shoes");
    assertThat(e.sessionId()).isEqualTo("s7");
    assertThat(e.rating()).isNull();
    assertThat(e.context()).containsExactly(Map.entry("device", "web"), Map.entry("ab", "7"), Map.entry("beta", "true"));
  }

  @Test
  void toleratesUnknownFieldsAndNullOptionals() {
    ParseOutcome o = parse(valid("click", ",\"item_id\":\"i1\",\"new_field\":{\"a\":[1,2]},\"category\":null,\"x\":[]"));
    assertThat(o).isInstanceOf(ParseOutcome.Valid.class);
    assertThat(((ParseOutcome.Valid) o).event().category()).isNull();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "1763639940000|2025-11-20T11:59:00Z",
      "\"2026-11-20T11:59:00Z\"|2026-11-20T11:59:00Z",
      "\"2026-11-20T12:59:00+01:00\"|2026-11-20T11:59:00Z",
      "\"2026-11-20T11:59:00\"|2026-11-20T11:59:00Z",
      "\"2026-11-20T11:59:00.123Z\"|2026-11-20T11:59:00.123Z"})
  void readsEventTimeAsIsoOrEpochMillis(String raw, String expected) {
    String json = "{\"event_id\":\"e\",\"schema_version\":1,\"event_type\":\"page_view\",\"user_id\":\"u\","
        + "\"event_time\":" + raw + "}";
    Event e = ((ParseOutcome.Valid) parse(json)).event();
    assertThat(Instant.ofEpochMilli(e.eventTimeMillis())).isEqualTo(Instant.parse(expected));
  }

  @Test
  void emptyPayload() {
    assertThat(rejected(null).reason()).isEqualTo(ReasonCode.EMPTY_PAYLOAD);
    assertThat(rejected("").reason()).isEqualTo(ReasonCode.EMPTY_PAYLOAD);
  }

  @Test
  void oversizePayloadIsNotParsed() {
    String big = valid("page_view", ",\"pad\":\"" + "x".repeat(70_000) + "\"");
    ParseOutcome.Rejected r = rejected(big);
    assertThat(r.reason()).isEqualTo(ReasonCode.OVERSIZE_PAYLOAD);
    assertThat(r.detail()).contains("65536");
    // the same record passes with a larger limit: the limit is configuration, not a contract rule
    assertThat(new EventParser(new ParserConfig(200_000, 0, 3_600_000)).parse(big.getBytes(), NOW))
        .isInstanceOf(ParseOutcome.Valid.class);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"event_id\":\"e\"",
      "not json",
      "[1,2,3]",
      "{\"event_id\":\"e\",\"event_id\":\"f\",\"schema_version\":1}",
      "{\"event_id\":\"e\"} trailing",
      "\"just a string\""})
  void malformedJson(String json) {
    assertThat(rejected(json).reason()).isEqualTo(ReasonCode.MALFORMED_JSON);
  }

  @Test
  void invalidUtf8IsMalformed() {
    byte[] bytes = valid("page_view", ",\"category\":\"XX\"").getBytes(StandardCharsets.UTF_8);
    int i = new String(bytes, StandardCharsets.UTF_8).indexOf("XX");
    bytes[i] = (byte) 0xC3;
    bytes[i + 1] = (byte) 0x28;
    ParseOutcome o = parser.parse(bytes, NOW);
    assertThat(((ParseOutcome.Rejected) o).reason()).isEqualTo(ReasonCode.MALFORMED_JSON);
  }

  @Test
  void syntaxErrorWinsOverAnEarlierTypeError() {
    assertThat(rejected("{\"user_id\":5,\"x\":").reason()).isEqualTo(ReasonCode.MALFORMED_JSON);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "event_id", "schema_version", "event_type", "user_id", "event_time"})
  void missingRequiredField(String field) {
    String json = validOf(EventType.PAGE_VIEW).replaceFirst("\"" + field + "\":(\"[^\"]*\"|\\d+),?", "");
    ParseOutcome.Rejected r = rejected(json);
    assertThat(r.reason()).isEqualTo(ReasonCode.MISSING_REQUIRED_FIELD);
    assertThat(r.detail()).contains(field);
  }

  @Test
  void nullRequiredFieldCountsAsMissing() {
    assertThat(rejected(validOf(EventType.PAGE_VIEW).replace("\"user_id\":\"u1\"", "\"user_id\":null")).reason())
        .isEqualTo(ReasonCode.MISSING_REQUIRED_FIELD);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "click|item_id", "add_to_cart|item_id", "remove_from_cart|item_id", "rating|rating", "purchase|price",
      "purchase|quantity", "search|query"})
  void missingFieldRequiredByTheEventType(String type, String field) {
    String json = validOf(EventType.fromWireName(type)).replaceFirst(",\"" + field + "\":(\"[^\"]*\"|[\\d.]+)", "");
    ParseOutcome.Rejected r = rejected(json);
    assertThat(r.reason()).isEqualTo(ReasonCode.MISSING_REQUIRED_FIELD);
    assertThat(r.detail()).contains(field).contains(type);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "\"user_id\":\"u1\"|\"user_id\":123",
      "\"event_id\":\"e1\"|\"event_id\":[\"e1\"]",
      "\"schema_version\":1|\"schema_version\":\"1\"",
      "\"schema_version\":1|\"schema_version\":1.5",
      "\"event_time\":\"2026-11-20T11:59:00Z\"|\"event_time\":1.7e12",
      "\"event_time\":\"2026-11-20T11:59:00Z\"|\"event_time\":true",
      "\"quantity\":2|\"quantity\":2.5",
      "\"price\":9.5|\"price\":\"9.5\"",
      "\"event_id\":\"e1\"|\"event_id\":\"e1\",\"context\":\"mobile\"",
      "\"event_id\":\"e1\"|\"event_id\":\"e1\",\"context\":{\"device\":{\"os\":\"ios\"}}"})
  void wrongType(String from, String to) {
    ParseOutcome.Rejected r = rejected(validOf(EventType.ADD_TO_CART).replace(from, to));
    assertThat(r.reason()).isEqualTo(ReasonCode.WRONG_TYPE);
  }

  @Test
  void unknownEventType() {
    ParseOutcome.Rejected r = rejected(valid("teleport", ""));
    assertThat(r.reason()).isEqualTo(ReasonCode.UNKNOWN_EVENT_TYPE);
    assertThat(r.detail()).contains("teleport");
  }

  @Test
  void unsupportedSchemaVersion() {
    assertThat(rejected(validOf(EventType.CLICK).replace("\"schema_version\":1", "\"schema_version\":2")).reason())
        .isEqualTo(ReasonCode.UNSUPPORTED_SCHEMA_VERSION);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "\"price\":9.5|\"price\":-1",
      "\"quantity\":2|\"quantity\":0",
      "\"quantity\":2|\"quantity\":99999999999999999999999",
      "\"user_id\":\"u1\"|\"user_id\":\"\"",
      "\"event_time\":\"2026-11-20T11:59:00Z\"|\"event_time\":\"yesterday\"",
      "\"event_time\":\"2026-11-20T11:59:00Z\"|\"event_time\":\"2026-13-45T99:00:00Z\""})
  void invalidValue(String from, String to) {
    assertThat(rejected(validOf(EventType.ADD_TO_CART).replace(from, to)).reason())
        .isEqualTo(ReasonCode.INVALID_VALUE);
  }

  @Test
  void ratingOutOfBounds() {
    assertThat(rejected(validOf(EventType.RATING).replace("4.5", "7")).reason()).isEqualTo(ReasonCode.INVALID_VALUE);
  }

  @Test
  void eventTimeOutOfRange() {
    assertThat(rejected(validOf(EventType.CLICK).replace("2026-11-20T11:59:00Z", "1970-01-01T00:00:00Z")).reason())
        .isEqualTo(ReasonCode.EVENT_TIME_OUT_OF_RANGE);
    // more than an hour after the record's Kafka timestamp
    ParseOutcome.Rejected future = rejected(validOf(EventType.CLICK).replace("2026-11-20T11:59:00Z", "2026-11-20T13:01:00Z"));
    assertThat(future.reason()).isEqualTo(ReasonCode.EVENT_TIME_OUT_OF_RANGE);
    assertThat(future.detail()).contains("Kafka timestamp");
    // within the skew is fine
    assertThat(parse(validOf(EventType.CLICK).replace("2026-11-20T11:59:00Z", "2026-11-20T12:59:00Z")))
        .isInstanceOf(ParseOutcome.Valid.class);
  }

  @Test
  void sameBytesSameOutcome() {
    String json = validOf(EventType.PURCHASE);
    assertThat(parse(json)).isEqualTo(parse(json));
  }

  @Test
  void roundTripsThroughEventJson() {
    for (EventType t : EventType.values()) {
      Event e = ((ParseOutcome.Valid) parse(validOf(t))).event();
      assertThat(parser.parse(EventJson.toBytes(e), NOW)).isEqualTo(new ParseOutcome.Valid(e));
    }
  }
}
