package io.recsys.streaming.common;

import io.recsys.spark.UserError;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.streaming.Trigger;

/**
 * How often a streaming job runs a micro-batch: {@code available-now} (process what is in Kafka, then stop:
 * for catch-up runs and schedulers) or an interval such as {@code 500ms}, {@code 10s}, {@code 1m}.
 */
public record TriggerSpec(boolean availableNow, long intervalMillis) {

  private static final Pattern INTERVAL = Pattern.compile("(\\d+)\\s*(ms|s|m|min)");

  public static TriggerSpec parse(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    if (t.equals("available-now") || t.equals("availablenow")) {
      return new TriggerSpec(true, 0);
    }
    Matcher m = INTERVAL.matcher(t);
    if (!m.matches()) {
      throw UserError.badArgument("--trigger", text, "available-now or an interval like 500ms, 10s, 1m");
    }
    long n = Long.parseLong(m.group(1));
    long ms = switch (m.group(2)) {
      case "ms" -> n;
      case "s" -> n * 1000;
      default -> n * 60_000;
    };
    return new TriggerSpec(false, ms);
  }

  public Trigger toTrigger() {
    return availableNow ? Trigger.AvailableNow() : Trigger.ProcessingTime(intervalMillis);
  }

  @Override
  public String toString() {
    return availableNow ? "available-now" : intervalMillis + "ms";
  }
}
