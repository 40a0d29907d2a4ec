package io.recsys.features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.recsys.contract.EventType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FeatureDefinitionsTest {

  @Test
  void theShippedFileDefinesTheInitialViews() {
    FeatureDefinitions d = FeatureDefinitions.load();
    assertThat(d.project()).isEqualTo("recsys");
    assertThat(d.entities()).containsOnlyKeys("user", "item");
    assertThat(d.entities().get("user").joinKey()).isEqualTo("user_id");
    assertThat(d.views()).containsKeys("user_activity_5m", "user_activity_1h", "user_activity_24h",
        "user_interests_1h", "user_recent_items", "user_session", "item_popularity", "item_views_1h");

    FeatureView a5 = d.view("user_activity_5m");
    assertThat(a5.window()).isEqualTo(Duration.ofMinutes(5));
    assertThat(a5.slide()).isEqualTo(Duration.ofMinutes(1));
    assertThat(a5.ttl()).isEqualTo(Duration.ofHours(1));
    assertThat(a5.features()).extracting(Feature::name).containsExactly("views", "clicks", "carts", "purchases");
    assertThat(a5.feature("carts").filter()).containsExactly(EventType.ADD_TO_CART);
    assertThat(a5.feature("views").reference(a5)).isEqualTo("user_activity_5m:views");
    assertThat(d.view("user_activity_24h").features()).extracting(Feature::name)
        .containsExactly("views", "clicks", "carts", "purchases");

    Feature top = d.view("user_interests_1h").feature("top_categories");
    assertThat(top.aggregation()).isEqualTo(Aggregation.TOP_K);
    assertThat(top.column()).isEqualTo("category");
    assertThat(top.size()).isEqualTo(3);
    assertThat(top.valueType()).isEqualTo(ValueType.STRING_LIST);
    assertThat(top.filter()).as("inherits the view's filter")
        .containsExactlyInAnyOrder(EventType.PAGE_VIEW, EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE);

    FeatureView session = d.view("user_session");
    assertThat(session.isSession()).isTrue();
    assertThat(session.sessionGap()).isEqualTo(Duration.ofMinutes(30));
    assertThat(session.window()).isNull();

    Feature conversion = d.view("item_popularity").feature("conversion_24h");
    assertThat(conversion.aggregation()).isEqualTo(Aggregation.RATIO);
    assertThat(conversion.numerator()).isEqualTo("purchases_24h");
    assertThat(conversion.denominator()).isEqualTo("views_24h");
    for (FeatureView v : d.views().values()) {
      assertThat(v.ttl()).as(v.name() + " has a TTL").isPositive();
    }
  }

  static final String BASE = """
      version: 1
      project: recsys
      entities:
        user: {join_key: user_id, dtype: STRING}
      views:
        v:
          entity: user
          source: events
          window: 1h
          slide: 5m
          ttl: 2h
          features:
            f: {agg: count, dtype: INT64}
      """;

  static FeatureDefinitions loadText(Path dir, String yaml) throws Exception {
    Path f = dir.resolve("features.yaml");
    Files.writeString(f, yaml);
    return FeatureDefinitions.load(f);
  }

  @Test
  void aMinimalFileLoads(@TempDir Path dir) throws Exception {
    FeatureDefinitions d = loadText(dir, BASE);
    assertThat(d.view("v").features()).hasSize(1);
    assertThat(d.view("v").feature("f").filter()).isEmpty();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "unknown aggregation|f: {agg: count, dtype: INT64}|f: {agg: medain, column: price, dtype: DOUBLE}|view v, feature f: unknown aggregation 'medain'. Use one of [count,",
      "unknown dtype|f: {agg: count, dtype: INT64}|f: {agg: count, dtype: LONG}|view v, feature f: unknown dtype 'LONG'. Use one of",
      "dtype the aggregation cannot make|f: {agg: count, dtype: INT64}|f: {agg: count, dtype: STRING}|count cannot produce dtype STRING. Use one of",
      "unknown window|window: 1h|window: 1 hour|view v: window '1 hour' is not a duration. Write a positive number and a unit",
      "slide not dividing the window|slide: 5m|slide: 7m|view v: slide 7m must divide window 1h",
      "slide longer than the window|slide: 5m|slide: 2h|must divide window 1h",
      "unknown entity|entity: user|entity: shopper|view v: unknown entity 'shopper'. Use one of [user]",
      "unknown column|f: {agg: count, dtype: INT64}|f: {agg: sum, column: totl, dtype: DOUBLE}|column 'totl' is not a field of the event contract. Use one of",
      "nightly view in hours with a slide|ttl: 2h|ttl: 2h\\n    schedule: nightly|a nightly view covers whole days as of a date",
      "unknown schedule|ttl: 2h|ttl: 2h\\n    schedule: hourly|unknown schedule 'hourly'. Use streaming",
      "missing column|f: {agg: count, dtype: INT64}|f: {agg: sum, dtype: DOUBLE}|view v, feature f: missing 'column'",
      "top_k without k|f: {agg: count, dtype: INT64}|f: {agg: top_k, column: category, dtype: STRING_LIST}|top_k needs k between 1 and 1000",
      "ratio of a missing feature|f: {agg: count, dtype: INT64}|f: {agg: ratio, numerator: a, denominator: b, dtype: DOUBLE}|ratio refers to 'a', which is not a non-ratio feature of this view",
      "unknown event type|f: {agg: count, dtype: INT64}|f: {agg: count, filter: [pageview], dtype: INT64}|unknown event type 'pageview' in filter",
      "typo in a key|ttl: 2h|ttl: 2h\\n    windw: 1h|view v: unknown key 'windw'. Known keys:",
      "missing ttl|ttl: 2h|description: no ttl|view v: missing 'ttl'",
      "session window with a slide|window: 1h|window: session\\n    gap: 30m|a session window has no slide",
      "bad view name|  v:|  View-1:|'View-1' is not a valid name"})
  void aBadDefinitionFailsWithTheFileTheViewAndTheFix(String what, String from, String to, String message,
      @TempDir Path dir) {
    String yaml = BASE.replace(from, to.replace("\\n", "\n"));
    assertThat(yaml).as("the test's replacement applies").isNotEqualTo(BASE);
    assertThatThrownBy(() -> loadText(dir, yaml)).as(what)
        .isInstanceOf(FeatureDefinitionException.class)
        .hasMessageStartingWith(dir.resolve("features.yaml") + ": ")
        .hasMessageContaining(message);
  }

  @Test
  void aFeatureFilterMustStayInsideTheViewFilter(@TempDir Path dir) {
    String yaml = BASE.replace("ttl: 2h", "ttl: 2h\n    filter: [page_view]")
        .replace("f: {agg: count, dtype: INT64}", "f: {agg: count, filter: [purchase], dtype: INT64}");
    assertThatThrownBy(() -> loadText(dir, yaml)).isInstanceOf(FeatureDefinitionException.class)
        .hasMessageContaining("filter [purchase] reaches outside the view's filter [page_view]");
  }

  static final String MODEL = """
      version: 1
      project: recsys
      entities:
        user: {join_key: user_id, dtype: STRING}
      views:
        recs:
          entity: user
          source: als
          schedule: model
          ttl: 3d
          features:
            items: {dtype: STRING_LIST}
            scores: {dtype: DOUBLE_LIST}
      """;

  @Test
  void aModelViewHasTypedColumnsAndNoWindow(@TempDir Path dir) throws Exception {
    FeatureView recs = loadText(dir, MODEL).view("recs");
    assertThat(recs.isModelOutput()).isTrue();
    assertThat(recs.window()).isNull();
    assertThat(recs.isSession()).isFalse();
    assertThat(recs.ttl()).isEqualTo(Duration.ofDays(3));
    assertThat(recs.features()).extracting(Feature::name, Feature::valueType, Feature::aggregation)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("items", ValueType.STRING_LIST, Aggregation.PUBLISHED),
            org.assertj.core.groups.Tuple.tuple("scores", ValueType.DOUBLE_LIST, Aggregation.PUBLISHED));

    FeatureDefinitions shipped = FeatureDefinitions.load();
    assertThat(shipped.view("user_recommendations").isModelOutput()).isTrue();
    assertThat(shipped.view("item_similar_items").entity()).isEqualTo("item");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
      "a window|ttl: 3d|ttl: 3d\\n    window: 1h|a model's output has no 'window'",
      "an aggregation|items: {dtype: STRING_LIST}|items: {agg: count, dtype: INT64}|unknown key 'agg'",
      "a non-model source|source: als|source: events|needs a model source: als",
      "no schedule: model|schedule: model|schedule: streaming|a model's output needs schedule: model",
      "an unknown dtype|scores: {dtype: DOUBLE_LIST}|scores: {dtype: FLOAT_ARRAY}|unknown dtype 'FLOAT_ARRAY'"})
  void aBadModelViewIsRefusedWithTheFix(String what, String from, String to, String message, @TempDir Path dir) {
    String yaml = MODEL.replace(from, to.replace("\\n", "\n"));
    assertThat(yaml).as("the test's replacement applies").isNotEqualTo(MODEL);
    assertThatThrownBy(() -> loadText(dir, yaml)).as(what).isInstanceOf(FeatureDefinitionException.class)
        .hasMessageContaining(message);
  }

  @Test
  void publishedIsNoAggregationForEventViews(@TempDir Path dir) {
    assertThatThrownBy(() -> loadText(dir, BASE.replace("f: {agg: count, dtype: INT64}",
        "f: {agg: published, dtype: INT64}"))).hasMessageContaining("'published' is for the features of a "
            + "schedule: model view");
  }

  @Test
  void notYamlOrTheWrongVersionIsRejected(@TempDir Path dir) {
    assertThatThrownBy(() -> loadText(dir, "version: [1")).hasMessageContaining("not valid YAML");
    assertThatThrownBy(() -> loadText(dir, BASE.replace("version: 1", "version: 2")))
        .hasMessageContaining("version must be 1");
    assertThat(Set.of(ValueType.STRING_LIST.isList(), ValueType.INT64.isList())).containsExactlyInAnyOrder(true, false);
  }
}
