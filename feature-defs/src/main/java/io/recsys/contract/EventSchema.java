package io.recsys.contract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The event contract as read from the versioned JSON Schema file {@code event-v1.schema.json}: field types,
 * required fields, the event type enum, value bounds and the requirements per event type. The parser
 * enforces exactly what this file says, so the file is the one place the contract changes.
 *
 * <p>Only the subset of JSON Schema that the file uses is interpreted: {@code type}, {@code required},
 * {@code enum}, {@code minLength}/{@code maxLength}, {@code minimum}/{@code maximum}, and {@code allOf} entries of
 * the form "if event_type is one of X then require Y". A test checks the file against a full JSON Schema
 * validator so that both readings agree.
 */
public final class EventSchema {

  /** JSON kinds a field may have. */
  public enum Kind { STRING, INTEGER, NUMBER, OBJECT }

  /** One top-level field of the contract. Bounds are {@code null} when the schema sets none. */
  public record Field(String name, Set<Kind> kinds, Integer minLength, Integer maxLength, Double minimum,
      Double maximum) {}

  /** The resource path of contract v1. */
  public static final String V1_RESOURCE = "/io/recsys/contract/event-v1.schema.json";

  private static final EventSchema V1 = load(V1_RESOURCE);

  private final int version;
  private final Map<String, Field> fields;
  private final Field[] byIndex;
  private final Map<String, Integer> indexOf;
  private final List<String> required;
  private final Map<EventType, List<String>> requiredByType;

  private EventSchema(int version, Map<String, Field> fields, List<String> required,
      Map<EventType, List<String>> requiredByType) {
    this.version = version;
    this.fields = Map.copyOf(fields);
    this.byIndex = fields.values().toArray(Field[]::new);
    Map<String, Integer> idx = new java.util.HashMap<>();
    for (int i = 0; i < byIndex.length; i++) {
      idx.put(byIndex[i].name(), i);
    }
    this.indexOf = Map.copyOf(idx);
    this.required = List.copyOf(required);
    this.requiredByType = Map.copyOf(requiredByType);
  }

  /** Contract v1, loaded once per JVM. */
  public static EventSchema v1() {
    return V1;
  }

  public int version() {
    return version;
  }

  /** The field of that name, or {@code null} for a field the contract does not know (tolerated). */
  public Field field(String name) {
    return fields.get(name);
  }

  /** How many top-level fields the contract defines; they are numbered 0..size-1. */
  public int size() {
    return byIndex.length;
  }

  /** The number of a field, or -1 for a field the contract does not know. */
  public int indexOf(String name) {
    Integer i = indexOf.get(name);
    return i == null ? -1 : i;
  }

  /** The field numbered {@code i}. */
  public Field field(int i) {
    return byIndex[i];
  }

  /** Fields every event must carry. */
  public List<String> required() {
    return required;
  }

  /** Fields an event of this type must carry besides {@link #required()}. */
  public List<String> requiredFor(EventType type) {
    return requiredByType.getOrDefault(type, List.of());
  }

  static EventSchema load(String resource) {
    try (InputStream in = EventSchema.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("Event schema " + resource + " is not on the classpath");
      }
      return parse(new ObjectMapper().readTree(in), resource);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read event schema " + resource, e);
    }
  }

  private static EventSchema parse(JsonNode root, String source) {
    int version = root.path("x-schema-version").asInt(-1);
    if (version < 1) {
      throw new IllegalStateException(source + ": x-schema-version must be a positive integer");
    }
    Map<String, Field> fields = new LinkedHashMap<>();
    root.path("properties").fields().forEachRemaining(e -> fields.put(e.getKey(), field(e.getKey(), e.getValue())));

    List<String> required = strings(root.path("required"));
    for (String name : required) {
      if (!fields.containsKey(name)) {
        throw new IllegalStateException(source + ": required field " + name + " has no property definition");
      }
    }
    checkEnumMatches(root.path("properties").path("event_type"), source);

    Map<EventType, List<String>> byType = new EnumMap<>(EventType.class);
    for (JsonNode rule : root.path("allOf")) {
      JsonNode typeCondition = rule.path("if").path("properties").path("event_type");
      List<String> types = typeCondition.has("const")
          ? List.of(typeCondition.get("const").asText()) : strings(typeCondition.path("enum"));
      List<String> then = strings(rule.path("then").path("required"));
      if (types.isEmpty() || then.isEmpty()) {
        throw new IllegalStateException(source + ": allOf entries must be 'if event_type in [...] then required [...]'");
      }
      for (String wire : types) {
        EventType type = EventType.fromWireName(wire);
        if (type == null) {
          throw new IllegalStateException(source + ": allOf names unknown event type " + wire);
        }
        List<String> list = byType.computeIfAbsent(type, t -> new ArrayList<>());
        then.stream().filter(f -> !list.contains(f)).forEach(list::add);
      }
    }
    byType.replaceAll((t, l) -> List.copyOf(l));
    return new EventSchema(version, fields, required, byType);
  }

  private static void checkEnumMatches(JsonNode eventTypeProperty, String source) {
    Set<String> inFile = new LinkedHashSet<>(strings(eventTypeProperty.path("enum")));
    Set<String> inCode = new LinkedHashSet<>();
    for (EventType t : EventType.values()) {
      inCode.add(t.wireName());
    }
    if (!inFile.equals(inCode)) {
      throw new IllegalStateException(source + ": event_type enum " + inFile + " differs from EventType " + inCode);
    }
  }

  private static Field field(String name, JsonNode spec) {
    Set<Kind> kinds = new LinkedHashSet<>();
    JsonNode type = spec.path("type");
    for (String t : type.isArray() ? strings(type) : List.of(type.asText())) {
      kinds.add(Kind.valueOf(t.toUpperCase(java.util.Locale.ROOT)));
    }
    return new Field(name, Set.copyOf(kinds),
        spec.has("minLength") ? spec.get("minLength").asInt() : null,
        spec.has("maxLength") ? spec.get("maxLength").asInt() : null,
        spec.has("minimum") ? spec.get("minimum").asDouble() : null,
        spec.has("maximum") ? spec.get("maximum").asDouble() : null);
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
