package io.recsys.spark;

import io.recsys.features.FeatureDefinitionException;
import io.recsys.features.FeatureDefinitions;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where a job writes online ({@code @Mixin}): Redis, and the definitions file whose layout it writes in. */
public final class OnlineStoreOptions {

  @Option(names = "--redis", description = "Online store, host:port or redis://host:port (spark.recsys.redis).")
  String redis;
  @Option(names = "--features", description = "Definitions file (spark.recsys.features; default: the built-in "
      + "features.yaml).")
  String features;

  /** The Redis address; fails with the fix when none is given. */
  public String redis(Settings s) {
    String address = redisOrNull(s);
    if (address == null) {
      throw UserError.of("No Redis given", "Pass --redis host:port (./run stack status prints the local one)");
    }
    return address;
  }

  /** The Redis address, or null when none is given (for jobs where the online store is optional). */
  public String redisOrNull(Settings s) {
    String address = s.string(redis, "spark.recsys.redis", null);
    return address == null || address.isBlank() ? null : address;
  }

  public FeatureDefinitions definitions(Settings s) {
    String file = s.string(features, "spark.recsys.features", null);
    try {
      return file == null ? FeatureDefinitions.load() : FeatureDefinitions.load(Path.of(file));
    } catch (FeatureDefinitionException e) {
      throw UserError.of(e.getMessage(), "Fix the definitions file and run again", e);
    }
  }
}
