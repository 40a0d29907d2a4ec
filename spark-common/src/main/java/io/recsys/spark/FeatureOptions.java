package io.recsys.spark;

import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.online.OnlineStore;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options of the feature jobs ({@code @Mixin}): the online store ({@link OnlineStoreOptions}: Redis and the
 * definitions file) and the views to compute.
 */
public final class FeatureOptions {

  @Mixin OnlineStoreOptions online = new OnlineStoreOptions();
  @Option(names = "--views", split = ",", description = "Views to compute, comma-separated (default: all).")
  List<String> views;

  public String redis(Settings s) {
    return online.redis(s);
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
    return online.definitions(s);
  }

  /**
   * The views named by --views (or the Spark conf key), else every view of the definitions with the schedule
   * (null: every view computed from events, streaming or nightly; a model's output is not a feature of the
   * events). A named view of another schedule is refused: its job is another one.
   */
  public List<FeatureView> views(Settings s, String confKey, FeatureDefinitions defs, FeatureView.Schedule only) {
    List<FeatureView> eligible = defs.views().values().stream()
        .filter(v -> only == null ? !v.isModelOutput() : v.schedule() == only).toList();
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
