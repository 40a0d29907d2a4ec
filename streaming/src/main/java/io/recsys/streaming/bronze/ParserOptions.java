package io.recsys.streaming.bronze;

import io.recsys.contract.ParserConfig;
import io.recsys.spark.Settings;
import io.recsys.spark.UserError;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import picocli.CommandLine.Option;

/** The parser limits, shared by ingestion and quarantine replay ({@code @Mixin}). */
public final class ParserOptions {

  @Option(names = "--max-payload-bytes", description = "Larger records are quarantined as OVERSIZE_PAYLOAD "
      + "(spark.recsys.parser.maxPayloadBytes; default 65536).")
  Integer maxPayloadBytes;
  @Option(names = "--min-event-time", description = "Earlier events are quarantined, ISO-8601 "
      + "(spark.recsys.parser.minEventTime; default 1995-01-01T00:00:00Z).")
  String minEventTime;
  @Option(names = "--max-future-skew", description = "Events later than their Kafka timestamp plus this are "
      + "quarantined, ISO-8601 duration (spark.recsys.parser.maxFutureSkew; default PT1H).")
  String maxFutureSkew;

  public ParserConfig resolve(Settings s) {
    ParserConfig d = ParserConfig.DEFAULT;
    int maxBytes = s.intValue(maxPayloadBytes, "spark.recsys.parser.maxPayloadBytes", d.maxPayloadBytes());
    if (maxBytes <= 0) {
      throw UserError.badArgument("--max-payload-bytes", String.valueOf(maxBytes), "a positive number of bytes");
    }
    String minTime = s.string(minEventTime, "spark.recsys.parser.minEventTime", null);
    String skew = s.string(maxFutureSkew, "spark.recsys.parser.maxFutureSkew", null);
    long minMillis = d.minEventTimeMillis();
    long skewMillis = d.maxFutureSkewMillis();
    try {
      if (minTime != null) {
        minMillis = Instant.parse(minTime).toEpochMilli();
      }
    } catch (DateTimeParseException e) {
      throw UserError.badArgument("--min-event-time", minTime, "an ISO-8601 instant like 2020-01-01T00:00:00Z");
    }
    try {
      if (skew != null) {
        skewMillis = Duration.parse(skew).toMillis();
      }
    } catch (DateTimeParseException e) {
      throw UserError.badArgument("--max-future-skew", skew, "an ISO-8601 duration like PT1H or PT15M");
    }
    if (skewMillis < 0) {
      throw UserError.badArgument("--max-future-skew", skew, "a duration that is not negative");
    }
    return new ParserConfig(maxBytes, minMillis, skewMillis);
  }
}
