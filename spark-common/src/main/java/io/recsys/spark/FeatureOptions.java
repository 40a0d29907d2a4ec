package io.recsys.spark;

import io.recsys.features.FeatureDefinitionException;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.online.OnlineStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The online-store options of the feature jobs ({@code @Mixin}): Redis, the definitions file, the views. */
public final class FeatureOptions {

  @Option(names = "--redis", description = "Online store, host:port or redis://host:port (spark.recsys.redis).")
  String redis;
  @Option(names = "--features", description = "Definitions file (spark.recsys.features; default: the built-in "
      + "features.yaml).")
  String features;
  @Option(names = "--views", split = ",", description = "Views to compute, comma-separated (default: all).")
  List<String> views;

  public String redis(Settings s) {
    String address = s.string(redis, "spark.recsys.redis", null);
    if (address == null || address.isBlank()) {
      throw UserError.of("No Redis given", "Pass --redis host:port (./run stack status prints the local one)");
    }
    return address;
  }

  /**
   * Fails with a one-line error when Redis does not answer a PING; {@code fix} says what the user can do instead.
   */
  public static void checkRedis(String address, String fix) {
    try (OnlineStore store = OnlineStore.connect(address)) {
      store.ping();
    } catch (RuntimeException e) {
      throw UserError.of("Cannot reach Redis at " + address + ": " + e.getMessage(), fix, e);
    }
  }

  public FeatureDefinitions definitions(Settings s) {
    String file = s.string(features, "spark.recsys.features", null);
    try {
      return file == null ? FeatureDefinitions.load() : FeatureDefinitions.load(Path.of(file));
    } catch (FeatureDefinitionException e) {
      throw UserError.of(e.getMessage(), "Fix the definitions file and run again", e);
    }
  }

  /**
   * The views named by --views (or the Spark conf key), else every view of the definitions with the schedule
   * (null: any). A named view of another schedule is refused: its job is another one.
   */
  public List<FeatureView> views(Settings s, String confKey, FeatureDefinitions defs, FeatureView.Schedule only) {
    List<FeatureView> eligible = defs.views().values().stream()
        .filter(v -> only == null || v.schedule() == only).toList();
    String list = s.string(views == null ? null : String.join(",", views), confKey, null);
    if (list == null || list.isBlank()) {
      return eligible;
    }
    List<FeatureView> out = new ArrayList<>();
    for (String v : list.split(",")) {
      FeatureView view = defs.views().get(v.trim());
      if (view == null || !eligible.contains(view)) {
        throw UserError.badArgument("--views", v, (only == null ? "" : only.name().toLowerCase() + " ")
            + "views of the definitions file: " + eligible.stream().map(FeatureView::name).toList());
      }
      out.add(view);
    }
    return out;
  }
}
