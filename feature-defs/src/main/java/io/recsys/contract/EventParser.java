package io.recsys.contract;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.IOException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Turns the value of one Kafka record into a valid {@link Event} or a {@link ReasonCode} with a human-readable
 * detail. The one parser of the project: bronze ingestion, online features and quarantine replay all use it, so
 * a record is judged the same way everywhere.
 *
 * <p>It streams over the JSON once (no tree), never throws on bad input, and depends only on the record's bytes
 * and its Kafka timestamp, so parsing a record again gives the same outcome. When a record has several faults
 * the reported one follows a fixed precedence: oversize, empty, malformed JSON, wrong type, missing required
 * field, unsupported schema version, unknown event type, missing field required by the type, invalid value,
 * event time out of range.
 *
 * <p>Instances are immutable and thread-safe; build one per executor from a serializable {@link ParserConfig}.
 */
public final class EventParser {

  private static final JsonFactory JSON =
      JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private final ParserConfig config;
  private final EventSchema schema;
  /**
   * The numbers of the fields the parser reads, resolved once: looking each name up per record was a sixth of
   * the parser's samples in a profile of the bronze job (BENCHMARKS.md, ingest notes).
   */
  private final int[] required;
  private final Map<EventType, int[]> requiredByType = new java.util.EnumMap<>(EventType.class);
  private final int eventId;
  private final int schemaVersion;
  private final int eventType;
  private final int userId;
  private final int sessionId;
  private final int itemId;
  private final int category;
  private final int price;
  private final int quantity;
  private final int rating;
  private final int query;
  private final int eventTime;
  private final int context;

  public EventParser(ParserConfig config) {
    this(config, EventSchema.v1());
  }

  EventParser(ParserConfig config, EventSchema schema) {
    this.config = config;
    this.schema = schema;
    required = indexes(schema.required());
    for (EventType t : EventType.values()) {
      requiredByType.put(t, indexes(schema.requiredFor(t)));
    }
    eventId = index("event_id");
    schemaVersion = index("schema_version");
    eventType = index("event_type");
    userId = index("user_id");
    sessionId = index("session_id");
    itemId = index("item_id");
    category = index("category");
    price = index("price");
    quantity = index("quantity");
    rating = index("rating");
    query = index("query");
    eventTime = index("event_time");
    context = index("context");
  }

  private int index(String name) {
    int i = schema.indexOf(name);
    if (i < 0) {
      throw new IllegalArgumentException("The event schema has no field " + name + ", which the parser reads");
    }
    return i;
  }

  private int[] indexes(java.util.List<String> names) {
    return names.stream().mapToInt(this::index).toArray();
  }

  public ParserConfig config() {
    return config;
  }

  /**
   * Parses one record value.
   *
   * @param value the record's value bytes (may be null for a tombstone)
   * @param kafkaTimestampMillis the record's Kafka timestamp, the reference for the future-skew check
   */
  public ParseOutcome parse(byte[] value, long kafkaTimestampMillis) {
    try {
      return parseOrThrow(value, kafkaTimestampMillis);
    } catch (RuntimeException bug) {
      // A defect here must not stop ingestion nor lose the record: it is quarantined under its own reason.
      return reject(ReasonCode.PARSER_ERROR, bug.toString());
    }
  }

  private ParseOutcome parseOrThrow(byte[] value, long kafkaTimestampMillis) {
    if (value == null || value.length == 0) {
      return reject(ReasonCode.EMPTY_PAYLOAD, "the record has no value");
    }
    if (value.length > config.maxPayloadBytes()) {
      return reject(ReasonCode.OVERSIZE_PAYLOAD,
          "the value has " + value.length + " bytes, the limit is " + config.maxPayloadBytes());
    }
    Object[] values = new Object[schema.size()];
    String wrongType;
    try (JsonParser p = JSON.createParser(value)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return reject(ReasonCode.MALFORMED_JSON, "the value is not a JSON object");
      }
      wrongType = readFields(p, values);
      if (p.nextToken() != null) {
        return reject(ReasonCode.MALFORMED_JSON, "content after the end of the JSON object");
      }
    } catch (JsonProcessingException e) {
      return reject(ReasonCode.MALFORMED_JSON, e.getOriginalMessage());
    } catch (IOException e) {
      return reject(ReasonCode.MALFORMED_JSON, String.valueOf(e.getMessage()));
    }
    if (wrongType != null) {
      return reject(ReasonCode.WRONG_TYPE, wrongType);
    }
    return validate(values, kafkaTimestampMillis);
  }

  /** Reads the top-level fields; returns the first wrong-type message, continuing so syntax errors still win. */
  private String readFields(JsonParser p, Object[] values) throws IOException {
    String wrongType = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      JsonToken token = p.nextToken();
      int index = schema.indexOf(name);
      if (index < 0 || token == JsonToken.VALUE_NULL) {
        p.skipChildren(); // unknown optional fields are tolerated; null means absent
        continue;
      }
      EventSchema.Field field = schema.field(index);
      Object v = readValue(p, token, field);
      if (v == null) {
        p.skipChildren();
        if (wrongType == null) {
          wrongType = name + " must be " + field.kinds().toString().toLowerCase(java.util.Locale.ROOT)
              + ", got " + describe(token);
        }
      } else if (v instanceof String s && s.startsWith("\u0000wrong:")) {
        if (wrongType == null) {
          wrongType = s.substring(7);
        }
      } else {
        values[index] = v;
      }
    }
    return wrongType;
  }

  /** The value in the field's Java type, or null if the token's JSON type is not allowed for the field. */
  private Object readValue(JsonParser p, JsonToken token, EventSchema.Field field) throws IOException {
    var kinds = field.kinds();
    switch (token) {
      case VALUE_STRING:
        return kinds.contains(EventSchema.Kind.STRING) ? p.getText() : null;
      case VALUE_NUMBER_INT:
        if (kinds.contains(EventSchema.Kind.INTEGER)) {
          if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            return Double.valueOf(Double.POSITIVE_INFINITY); // beyond any bound: reported as an invalid value
          }
          return Long.valueOf(p.getLongValue());
        }
        return kinds.contains(EventSchema.Kind.NUMBER) ? Double.valueOf(p.getDoubleValue()) : null;
      case VALUE_NUMBER_FLOAT:
        return kinds.contains(EventSchema.Kind.NUMBER) ? Double.valueOf(p.getDoubleValue()) : null;
      case START_OBJECT:
        return kinds.contains(EventSchema.Kind.OBJECT) ? readContext(p, field.name()) : null;
      default:
        return null;
    }
  }

  /** A flat object of scalars, kept as strings; a nested object or array is a wrong type. */
  private static Object readContext(JsonParser p, String fieldName) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    String wrong = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String key = p.currentName();
      JsonToken t = p.nextToken();
      if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
        p.skipChildren();
        if (wrong == null) {
          wrong = "\u0000wrong:" + fieldName + "." + key + " must be a string, number or boolean, got " + describe(t);
        }
      } else if (t != JsonToken.VALUE_NULL) {
        out.put(key, p.getText());
      }
    }
    return wrong != null ? wrong : out;
  }

  private ParseOutcome validate(Object[] v, long kafkaTimestampMillis) {
    for (int i : required) {
      if (v[i] == null) {
        return reject(ReasonCode.MISSING_REQUIRED_FIELD, "missing required field " + schema.field(i).name());
      }
    }
    long version = (Long) v[schemaVersion];
    if (version != schema.version()) {
      return reject(ReasonCode.UNSUPPORTED_SCHEMA_VERSION,
          "schema_version " + version + " is not supported; this parser implements version " + schema.version());
    }
    String typeName = (String) v[eventType];
    EventType type = EventType.fromWireName(typeName);
    if (type == null) {
      return reject(ReasonCode.UNKNOWN_EVENT_TYPE, "unknown event_type '" + abbreviate(typeName) + "'");
    }
    for (int i : requiredByType.get(type)) {
      if (v[i] == null) {
        return reject(ReasonCode.MISSING_REQUIRED_FIELD,
            "missing field " + schema.field(i).name() + ", required for " + typeName);
      }
    }
    for (int i = 0; i < v.length; i++) {
      if (v[i] != null) {
        String problem = checkBounds(schema.field(i), v[i]);
        if (problem != null) {
          return reject(ReasonCode.INVALID_VALUE, problem);
        }
      }
    }
    Object rawTime = v[eventTime];
    long time;
    if (rawTime instanceof Long millis) {
      time = millis;
    } else if (rawTime instanceof String text) {
      Long parsed = parseIsoMillis(text);
      if (parsed == null) {
        return reject(ReasonCode.INVALID_VALUE, "event_time '" + abbreviate(text) + "' is not ISO-8601");
      }
      time = parsed;
    } else {
      return reject(ReasonCode.INVALID_VALUE, "event_time is out of the range of epoch milliseconds");
    }
    if (time < config.minEventTimeMillis()) {
      return reject(ReasonCode.EVENT_TIME_OUT_OF_RANGE, "event_time " + Instant.ofEpochMilli(time)
          + " is before the earliest accepted time " + Instant.ofEpochMilli(config.minEventTimeMillis()));
    }
    if (time > kafkaTimestampMillis + config.maxFutureSkewMillis()) {
      return reject(ReasonCode.EVENT_TIME_OUT_OF_RANGE, "event_time " + Instant.ofEpochMilli(time)
          + " is more than " + config.maxFutureSkewMillis() / 1000 + " s after the record's Kafka timestamp "
          + Instant.ofEpochMilli(kafkaTimestampMillis));
    }
    @SuppressWarnings("unchecked")
    Map<String, String> ctx = (Map<String, String>) v[context];
    return new ParseOutcome.Valid(new Event(
        (String) v[eventId], (int) version, type, (String) v[userId], (String) v[sessionId], (String) v[itemId],
        (String) v[category], (Double) v[price], toInt(v[quantity]), (Double) v[rating], (String) v[query], time,
        ctx == null ? Map.of() : ctx));
  }

  private static String checkBounds(EventSchema.Field f, Object value) {
    if (value instanceof String s) {
      if (f.minLength() != null && s.length() < f.minLength()) {
        return f.name() + " must not be empty";
      }
      if (f.maxLength() != null && s.length() > f.maxLength()) {
        return f.name() + " has " + s.length() + " characters, the limit is " + f.maxLength();
      }
    } else if (value instanceof Number n) {
      double d = n.doubleValue();
      if (Double.isInfinite(d) || (f.minimum() != null && d < f.minimum())
          || (f.maximum() != null && d > f.maximum())) {
        return f.name() + " is " + n + ", allowed " + (f.minimum() == null ? "-inf" : fmt(f.minimum()))
            + ".." + (f.maximum() == null ? "+inf" : fmt(f.maximum()));
      }
    }
    return null;
  }

  /** ISO-8601 instant or offset date-time; a local date-time without offset is taken as UTC. */
  static Long parseIsoMillis(String text) {
    long fast = parseUtcFast(text);
    if (fast != Long.MIN_VALUE) {
      return fast;
    }
    try {
      return OffsetDateTime.parse(text).toInstant().toEpochMilli();
    } catch (DateTimeParseException notOffset) {
      try {
        return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC).toEpochMilli();
      } catch (DateTimeParseException notLocal) {
        return null;
      }
    }
  }

  /**
   * The shape almost every producer sends, {@code yyyy-MM-ddTHH:mm:ss[.fraction]Z}, without java.time's parser
   * (measured at about 1 us of the parser's 2.5 us per record). Returns Long.MIN_VALUE for anything else, which
   * then goes through java.time; field ranges are checked here the same way.
   */
  static long parseUtcFast(String t) {
    int n = t.length();
    if (n < 20 || t.charAt(n - 1) != 'Z' || t.charAt(4) != '-' || t.charAt(7) != '-' || t.charAt(10) != 'T'
        || t.charAt(13) != ':' || t.charAt(16) != ':') {
      return Long.MIN_VALUE;
    }
    int year = digits(t, 0, 4);
    int month = digits(t, 5, 2);
    int day = digits(t, 8, 2);
    int hour = digits(t, 11, 2);
    int minute = digits(t, 14, 2);
    int second = digits(t, 17, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59
        || second < 0 || second > 59 || day > java.time.YearMonth.of(year, month).lengthOfMonth()) {
      return Long.MIN_VALUE;
    }
    int millis = 0;
    if (n > 20) {
      if (t.charAt(19) != '.' || n - 21 < 1 || n - 21 > 9) {
        return Long.MIN_VALUE;
      }
      int frac = digits(t, 20, n - 21);
      if (frac < 0) {
        return Long.MIN_VALUE;
      }
      millis = n - 21 >= 3 ? frac / pow10(n - 21 - 3) : frac * pow10(3 - (n - 21));
    }
    long days = java.time.LocalDate.of(year, month, day).toEpochDay();
    return ((days * 24 + hour) * 60 + minute) * 60_000L + second * 1000L + millis;
  }

  private static int digits(String s, int from, int count) {
    int v = 0;
    for (int i = from; i < from + count; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }

  private static int pow10(int e) {
    int v = 1;
    for (int i = 0; i < e; i++) {
      v *= 10;
    }
    return v;
  }

  private static Integer toInt(Object o) {
    return o == null ? null : Integer.valueOf(((Long) o).intValue());
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }

  private static String describe(JsonToken t) {
    return switch (t) {
      case VALUE_STRING -> "a string";
      case VALUE_NUMBER_INT -> "an integer";
      case VALUE_NUMBER_FLOAT -> "a decimal number";
      case VALUE_TRUE, VALUE_FALSE -> "a boolean";
      case START_OBJECT -> "an object";
      case START_ARRAY -> "an array";
      default -> t.toString();
    };
  }

  private static String abbreviate(String s) {
    return s.length() <= 64 ? s : s.substring(0, 61) + "...";
  }

  private static ParseOutcome reject(ReasonCode reason, String detail) {
    return new ParseOutcome.Rejected(reason, detail);
  }
}
