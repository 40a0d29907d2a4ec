package io.recsys.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.RuntimeConfig;

/**
 * Layered configuration, in this order: the command-line option, then the Spark conf key
 * ({@code spark.recsys.*}, e.g. from {@code spark-submit --conf} or spark-defaults.conf), then the default.
 */
public final class Settings {

  private final SparkConf conf;

  private Settings(SparkConf conf) {
    this.conf = conf;
  }

  /** Reads the Spark conf that spark-submit passes to the driver as system properties. */
  public static Settings fromEnvironment() {
    return new Settings(new SparkConf(true));
  }

  public String string(String cliValue, String key, String defaultValue) {
    if (cliValue != null) {
      return cliValue;
    }
    return conf.contains(key) ? conf.get(key) : defaultValue;
  }

  public long longValue(Long cliValue, String key, long defaultValue) {
    if (cliValue != null) {
      return cliValue;
    }
    if (!conf.contains(key)) {
      return defaultValue;
    }
    String v = conf.get(key);
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw UserError.badArgument(key, v, "an integer");
    }
  }

  /**
   * A setting of 1 or more from a session's runtime conf (what {@code --conf} and {@code spark.conf().set} give),
   * {@code defaultValue} when unset; anything else is a {@link UserError} naming the key and {@code expected}.
   */
  public static long positiveLong(RuntimeConfig conf, String key, long defaultValue, String expected) {
    String v = conf.get(key, String.valueOf(defaultValue));
    long n;
    try {
      n = Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      n = 0;
    }
    if (n < 1) {
      throw UserError.badArgument(key, v, expected);
    }
    return n;
  }

  public int intValue(Integer cliValue, String key, int defaultValue) {
    return Math.toIntExact(longValue(cliValue == null ? null : cliValue.longValue(), key, defaultValue));
  }
}
