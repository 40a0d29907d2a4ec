package io.recsys.features;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.recsys.contract.EventSchema;
import io.recsys.contract.EventType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Every entity and feature view, read from the one definitions file ({@code feature-defs/features.yaml}, on the
 * classpath as {@link #RESOURCE}). Loading validates everything a job would otherwise discover late: unknown
 * aggregations, windows, value types, entities, columns and keys, slides that do not divide their window, ratios
 * of missing features. Each error names the file, the view, the feature and the fix.
 */
public record FeatureDefinitions(String project, Map<String, Entity> entities, Map<String, FeatureView> views) {

  public static final String RESOURCE = "/io/recsys/features/features.yaml";

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Pattern DURATION = Pattern.compile("(\\d+)(s|m|h|d)");
  private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]*");
  private static final Set<String> VIEW_KEYS =
      Set.of("entity", "source", "schedule", "window", "slide", "gap", "ttl", "filter", "features", "description");
  /** Event fields a feature may aggregate beyond the contract's: amount = price x quantity (1 when absent). */
  public static final Set<String> DERIVED_COLUMNS = Set.of("amount");
  /** Sources of schedule: model views: the jobs that publish a model's output. */
  public static final List<String> MODEL_SOURCES = List.of("als");
  private static final Set<String> FEATURE_KEYS =
      Set.of("agg", "column", "n", "k", "numerator", "denominator", "filter", "dtype", "description");

  public FeatureDefinitions {
    entities = Map.copyOf(entities);
    views = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(views));
  }

  /** The definitions packaged with the code. */
  public static FeatureDefinitions load() {
    try (InputStream in = FeatureDefinitions.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new FeatureDefinitionException(RESOURCE + " is not on the classpath: build feature-defs");
      }
      return parse("features.yaml", YAML.readTree(in));
    } catch (IOException e) {
      throw new FeatureDefinitionException("features.yaml: cannot be read: " + e.getMessage(), e);
    }
  }

  /** The definitions in a file of the user's. */
  public static FeatureDefinitions load(Path file) {
    try {
      return parse(file.toString(), YAML.readTree(Files.readAllBytes(file)));
    } catch (IOException e) {
      throw new FeatureDefinitionException(file + ": not valid YAML: " + firstLine(e.getMessage()), e);
    }
  }

  public FeatureView view(String name) {
    FeatureView v = views.get(name);
    if (v == null) {
      throw new FeatureDefinitionException("No feature view '" + name + "'. Views: " + views.keySet());
    }
    return v;
  }

  static FeatureDefinitions parse(String file, JsonNode root) {
    if (root == null || !root.isObject()) {
      throw new FeatureDefinitionException(file + ": expected a mapping with version, project, entities, views");
    }
    if (root.path("version").asInt(-1) != 1) {
      throw new FeatureDefinitionException(file + ": version must be 1 (this code reads version 1 of the format)");
    }
    String project = text(root, "project", file + ": project");
    requireName(project, file + ": project");
    Map<String, Entity> entities = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.path("entities").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      entities.put(e.getKey(), entity(file, e.getKey(), e.getValue()));
    }
    if (entities.isEmpty()) {
      throw new FeatureDefinitionException(file + ": no entities. Define at least one under 'entities:'");
    }
    Map<String, FeatureView> views = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.path("views").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      views.put(e.getKey(), view(file, e.getKey(), e.getValue(), entities));
    }
    if (views.isEmpty()) {
      throw new FeatureDefinitionException(file + ": no feature views. Define at least one under 'views:'");
    }
    return new FeatureDefinitions(project, entities, views);
  }

  private static Entity entity(String file, String name, JsonNode n) {
    String where = file + ": entity " + name;
    requireName(name, where);
    String joinKey = text(n, "join_key", where);
    if (EventSchema.v1().field(joinKey) == null) {
      throw new FeatureDefinitionException(where + ": join_key '" + joinKey + "' is not a field of the event "
          + "contract. Use one of " + contractColumns());
    }
    ValueType type = valueType(where, text(n, "dtype", where));
    return new Entity(name, joinKey, type, n.path("description").asText(""));
  }

  private static FeatureView view(String file, String name, JsonNode n, Map<String, Entity> entities) {
    String where = file + ": view " + name;
    requireName(name, where);
    checkKeys(where, n, VIEW_KEYS);
    String entity = text(n, "entity", where);
    if (!entities.containsKey(entity)) {
      throw new FeatureDefinitionException(where + ": unknown entity '" + entity + "'. Use one of "
          + entities.keySet() + " or define it under 'entities:'");
    }
    String source = text(n, "source", where);
    String scheduleText = n.path("schedule").asText("streaming");
    FeatureView.Schedule schedule = switch (scheduleText) {
      case "streaming" -> FeatureView.Schedule.STREAMING;
      case "nightly" -> FeatureView.Schedule.NIGHTLY;
      case "model" -> FeatureView.Schedule.MODEL;
      default -> throw new FeatureDefinitionException(where + ": unknown schedule '" + scheduleText
          + "'. Use streaming (the default: the online-features job), nightly (whole days, the gold job) or model "
          + "(what a model job publishes, source: " + String.join(" or ", MODEL_SOURCES) + ")");
    };
    if (schedule == FeatureView.Schedule.MODEL) {
      return modelView(where, name, entity, source, n);
    }
    if (!source.equals("events")) {
      throw new FeatureDefinitionException(where + ": unknown source '" + source + "'. The only source is 'events' "
          + "(contract v1 events from Kafka, or bronze/silver for backfills)"
          + (MODEL_SOURCES.contains(source) ? "; a model's output needs schedule: model" : ""));
    }
    String windowText = text(n, "window", where);
    Duration window = null;
    Duration slide = null;
    Duration gap = null;
    if (windowText.equals("session")) {
      gap = duration(where, "gap", text(n, "gap", where, "A session window needs one, e.g. gap: 30m"));
      if (n.has("slide")) {
        throw new FeatureDefinitionException(where + ": a session window has no slide. Remove 'slide'");
      }
    } else {
      window = duration(where, "window", windowText);
      slide = n.has("slide") ? duration(where, "slide", n.get("slide").asText()) : window;
      if (slide.compareTo(window) > 0 || window.toMillis() % slide.toMillis() != 0) {
        throw new FeatureDefinitionException(where + ": slide " + n.get("slide").asText() + " must divide window "
            + windowText + ". Use a slide such as " + suggestSlide(window));
      }
      if (n.has("gap")) {
        throw new FeatureDefinitionException(where + ": 'gap' is for session windows only. Remove it, or use window: session");
      }
    }
    if (schedule == FeatureView.Schedule.NIGHTLY && (window == null || window.toMillis() % 86_400_000L != 0
        || n.has("slide"))) {
      throw new FeatureDefinitionException(where + ": a nightly view covers whole days as of a date: use a window "
          + "in days (e.g. 30d), no slide and no session");
    }
    Duration ttl = duration(where, "ttl", text(n, "ttl", where));
    Set<EventType> viewFilter = eventTypes(where, n.path("filter"));

    List<Feature> features = features(where, n,
        (fwhere, featureName, f) -> feature(fwhere, featureName, f, viewFilter));
    Map<String, Feature> byName = features.stream().collect(Collectors.toMap(Feature::name, f -> f));
    for (Feature f : features) {
      if (f.aggregation() == Aggregation.RATIO) {
        for (String part : List.of(f.numerator(), f.denominator())) {
          Feature other = byName.get(part);
          if (other == null || other.aggregation() == Aggregation.RATIO) {
            throw new FeatureDefinitionException(where + ", feature " + f.name() + ": ratio refers to '" + part
                + "', which is not a non-ratio feature of this view. Use one of " + features.stream()
                    .filter(x -> x.aggregation() != Aggregation.RATIO).map(Feature::name).toList());
          }
        }
      }
    }
    return new FeatureView(name, entity, source, window, slide, gap, ttl, viewFilter, List.copyOf(features),
        schedule);
  }

  /**
   * A view of what a model job publishes: an entity, a source naming the job, a TTL and typed features, each a
   * column of the published rows; no window, filter or aggregation, because nothing here is computed from events.
   */
  private static FeatureView modelView(String where, String name, String entity, String source, JsonNode n) {
    if (!MODEL_SOURCES.contains(source)) {
      throw new FeatureDefinitionException(where + ": a schedule: model view needs a model source: "
          + String.join(" or ", MODEL_SOURCES) + ", not '" + source + "'");
    }
    for (String key : List.of("window", "slide", "gap", "filter")) {
      if (n.has(key)) {
        throw new FeatureDefinitionException(where + ": a model's output has no '" + key + "'. Remove it");
      }
    }
    Duration ttl = duration(where, "ttl", text(n, "ttl", where));
    List<Feature> features = features(where, n, (fwhere, featureName, f) -> {
      requireName(featureName, fwhere);
      if (!f.isObject()) {
        throw new FeatureDefinitionException(fwhere + ": expected a mapping such as {dtype: STRING_LIST}");
      }
      checkKeys(fwhere, f, Set.of("dtype", "description"));
      return new Feature(featureName, Aggregation.PUBLISHED, null, 0, valueType(fwhere, text(f, "dtype", fwhere)),
          Set.of(), null, null);
    });
    return new FeatureView(name, entity, source, null, null, null, ttl, Set.of(), List.copyOf(features),
        FeatureView.Schedule.MODEL);
  }

  /** How one entry of a view's {@code features:} becomes a Feature (where, name, its YAML node). */
  private interface FeatureReader {
    Feature read(String where, String name, JsonNode node);
  }

  /** The view's features, in file order; at least one. */
  private static List<Feature> features(String where, JsonNode view, FeatureReader reader) {
    JsonNode fs = view.path("features");
    if (!fs.isObject() || fs.isEmpty()) {
      throw new FeatureDefinitionException(where + ": no features. Add at least one under 'features:'");
    }
    List<Feature> features = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = fs.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      features.add(reader.read(where + ", feature " + e.getKey(), e.getKey(), e.getValue()));
    }
    return features;
  }

  private static Feature feature(String where, String name, JsonNode n, Set<EventType> viewFilter) {
    requireName(name, where);
    if (!n.isObject()) {
      throw new FeatureDefinitionException(where + ": expected a mapping such as {agg: count, dtype: INT64}");
    }
    checkKeys(where, n, FEATURE_KEYS);
    String aggText = text(n, "agg", where);
    Aggregation agg = Arrays.stream(Aggregation.values()).filter(a -> a.wireName().equals(aggText)).findFirst()
        .orElseThrow(() -> new FeatureDefinitionException(where + ": unknown aggregation '" + aggText + "'. Use one of "
            + Arrays.stream(Aggregation.values()).map(Aggregation::wireName).toList()));
    if (agg == Aggregation.PUBLISHED) {
      throw new FeatureDefinitionException(where + ": 'published' is for the features of a schedule: model view, "
          + "which take no agg. Use an aggregation such as count");
    }
    ValueType type = valueType(where, text(n, "dtype", where));
    if (!agg.valueTypes().contains(type)) {
      throw new FeatureDefinitionException(where + ": " + aggText + " cannot produce dtype " + type + ". Use one of "
          + agg.valueTypes());
    }
    String column = null;
    if (agg.needsColumn()) {
      column = text(n, "column", where, aggText + " aggregates an event field, e.g. column: item_id");
      if ((EventSchema.v1().field(column) == null && !DERIVED_COLUMNS.contains(column)) || column.equals("context")) {
        throw new FeatureDefinitionException(where + ": column '" + column + "' is not a field of the event contract. "
            + "Use one of " + contractColumns());
      }
    } else if (n.has("column")) {
      throw new FeatureDefinitionException(where + ": " + aggText + " takes no column. Remove 'column'");
    }
    int size = 0;
    if (agg == Aggregation.LAST_N || agg == Aggregation.TOP_K) {
      String key = agg == Aggregation.LAST_N ? "n" : "k";
      size = n.path(key).asInt(0);
      if (size < 1 || size > 1000) {
        throw new FeatureDefinitionException(where + ": " + aggText + " needs " + key + " between 1 and 1000, e.g. "
            + key + ": 10");
      }
    }
    String numerator = null;
    String denominator = null;
    if (agg == Aggregation.RATIO) {
      numerator = text(n, "numerator", where, "A ratio names two features of the view");
      denominator = text(n, "denominator", where, "A ratio names two features of the view");
    }
    Set<EventType> filter = eventTypes(where, n.path("filter"));
    if (!viewFilter.isEmpty()) {
      if (filter.isEmpty()) {
        filter = viewFilter;
      } else if (!viewFilter.containsAll(filter)) {
        throw new FeatureDefinitionException(where + ": filter " + names(filter) + " reaches outside the view's filter "
            + names(viewFilter) + ". Add the types to the view's filter or remove them here");
      }
    }
    return new Feature(name, agg, column, size, type, Set.copyOf(filter), numerator, denominator);
  }

  private static void checkKeys(String where, JsonNode n, Set<String> known) {
    for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!known.contains(key)) {
        throw new FeatureDefinitionException(where + ": unknown key '" + key + "'. Known keys: " + known.stream().sorted().toList());
      }
    }
  }

  private static Set<EventType> eventTypes(String where, JsonNode list) {
    if (list.isMissingNode() || list.isNull()) {
      return Set.of();
    }
    if (!list.isArray()) {
      throw new FeatureDefinitionException(where + ": filter must be a list of event types, e.g. [page_view, click]");
    }
    Set<EventType> out = EnumSet.noneOf(EventType.class);
    for (JsonNode t : list) {
      EventType type = EventType.fromWireName(t.asText());
      if (type == null) {
        throw new FeatureDefinitionException(where + ": unknown event type '" + t.asText() + "' in filter. Use "
            + Arrays.stream(EventType.values()).map(EventType::wireName).toList());
      }
      out.add(type);
    }
    return out;
  }

  private static Duration duration(String where, String key, String text) {
    Matcher m = DURATION.matcher(text.trim());
    if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
      throw new FeatureDefinitionException(where + ": " + key + " '" + text + "' is not a duration. Write a positive "
          + "number and a unit: 30s, 5m, 1h, 7d" + (key.equals("window") ? ", or window: session" : ""));
    }
    long v = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(v);
      case "m" -> Duration.ofMinutes(v);
      case "h" -> Duration.ofHours(v);
      default -> Duration.ofDays(v);
    };
  }

  private static ValueType valueType(String where, String text) {
    try {
      return ValueType.valueOf(text.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new FeatureDefinitionException(where + ": unknown dtype '" + text + "'. Use one of "
          + Arrays.toString(ValueType.values()));
    }
  }

  private static String text(JsonNode n, String key, String where) {
    return text(n, key, where, "Add it");
  }

  private static String text(JsonNode n, String key, String where, String fix) {
    JsonNode v = n.path(key);
    if (v.isMissingNode() || v.isNull() || v.asText().isBlank()) {
      throw new FeatureDefinitionException(where + ": missing '" + key + "'. " + fix);
    }
    return v.asText();
  }

  private static void requireName(String name, String where) {
    if (!NAME.matcher(name).matches()) {
      throw new FeatureDefinitionException(where + ": '" + name + "' is not a valid name. Use lower case letters, "
          + "digits and _, starting with a letter (Feast and Redis field names are built from it)");
    }
  }

  private static String suggestSlide(Duration window) {
    long minutes = window.toMinutes();
    return minutes >= 60 ? "5m or 1h" : minutes >= 5 ? "1m" : "the window itself";
  }

  private static List<String> contractColumns() {
    EventSchema s = EventSchema.v1();
    List<String> cols = new ArrayList<>();
    for (int i = 0; i < s.size(); i++) {
      if (!s.field(i).name().equals("context")) {
        cols.add(s.field(i).name());
      }
    }
    return cols;
  }

  private static String names(Set<EventType> types) {
    return types.stream().map(EventType::wireName).sorted().toList().toString();
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
