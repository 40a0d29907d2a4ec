package io.recsys.streaming.online;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.recsys.features.Feature;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * Runs Feast's own Python SDK ({@code FeatureStore.get_online_features}, the pinned Feast in .venv, which
 * {@code ./run test} creates) through feature-defs/tests/feast_online_read.py against the test's Redis.
 */
final class FeastPython {

  private static final ObjectMapper JSON = new ObjectMapper();

  private FeastPython() {}

  static Path repoRoot() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("feature-defs/features.yaml")) && Files.isRegularFile(p.resolve("run"))) {
        return p;
      }
    }
    throw new IllegalStateException("cannot find the checkout root above " + Path.of("").toAbsolutePath());
  }

  /**
   * For each entity of the views: a dozen entity values that have rows and one that has none, every feature of
   * the views read through Feast's SDK, compared with {@code recomputed} (view -> entity value -> values).
   */
  static void assertReadsBack(String redisUri, FeatureDefinitions defs, List<FeatureView> views,
      Map<String, Map<String, List<Object>>> recomputed, Path work) throws Exception {
    Path root = repoRoot();
    Path python = root.resolve(".venv/bin/python");
    if (!Files.isExecutable(python)) {
      fail(python + " is missing: run the tests with ./run test, which creates .venv with the pinned Feast");
    }
    Map<String, List<FeatureView>> byEntity = new LinkedHashMap<>();
    views.forEach(v -> byEntity.computeIfAbsent(v.entity(), e -> new ArrayList<>()).add(v));
    for (Map.Entry<String, List<FeatureView>> group : byEntity.entrySet()) {
      String joinKey = defs.entities().get(group.getKey()).joinKey();
      TreeSet<String> keys = new TreeSet<>();
      group.getValue().forEach(v -> keys.addAll(recomputed.getOrDefault(v.name(), Map.of()).keySet()));
      List<String> sample = new ArrayList<>(keys.stream().limit(12).toList());
      assertThat(sample).as("entities of %s with rows", group.getKey()).hasSizeGreaterThan(5);
      sample.add("nobody-" + System.nanoTime());

      List<String> refs = new ArrayList<>();
      Map<String, List<Object>> expected = new LinkedHashMap<>();
      expected.put(joinKey, new ArrayList<>(sample));
      for (FeatureView v : group.getValue()) {
        for (int i = 0; i < v.features().size(); i++) {
          Feature f = v.features().get(i);
          refs.add(v.name() + ":" + f.name());
          List<Object> column = new ArrayList<>();
          for (String key : sample) {
            List<Object> row = recomputed.getOrDefault(v.name(), Map.of()).get(key);
            column.add(row == null ? null : row.get(i));
          }
          expected.put(v.name() + "__" + f.name(), column);
        }
      }
      List<Map<String, String>> rows = sample.stream().map(k -> Map.of(joinKey, k)).toList();
      Path request = work.resolve("feast-request-" + group.getKey() + ".json");
      JSON.writeValue(request.toFile(), Map.of("features", refs, "entity_rows", rows));

      Process p = new ProcessBuilder(python.toString(), root.resolve("feature-defs/tests/feast_online_read.py")
          .toString(), "--redis", redisUri.replaceFirst("^redis://", ""), "--request", request.toString())
          .redirectError(work.resolve("feast-stderr-" + group.getKey() + ".txt").toFile()).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as("feast_online_read.py failed: %s",
          Files.readString(work.resolve("feast-stderr-" + group.getKey() + ".txt"))).isZero();
      // Both sides through JSON text, so 3 (long) and 3 (int), or 0.05 and 0.05, compare equal.
      JsonNode actual = JSON.readTree(out);
      JsonNode want = JSON.readTree(JSON.writeValueAsString(expected));
      for (var e : want.properties()) {
        assertThat(actual.get(e.getKey())).as("Feast's %s for %s", e.getKey(), sample).isEqualTo(e.getValue());
      }
    }
  }
}
