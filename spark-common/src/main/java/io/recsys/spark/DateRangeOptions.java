package io.recsys.spark;

import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import picocli.CommandLine.Option;

/** The logical dates of a batch job ({@code @Mixin}): {@code --date D}, or {@code --from D1 --to D2}. */
public final class DateRangeOptions {

  @Option(names = "--date", description = "The event date (UTC) to process, yyyy-MM-dd, today or yesterday; Airflow "
      + "passes {{ ds }}.")
  String date;
  @Option(names = "--from", description = "First date of a range (with --to), yyyy-MM-dd.")
  String from;
  @Option(names = "--to", description = "Last date of a range, inclusive.")
  String to;

  /** An inclusive range of UTC dates. */
  public record DateRange(LocalDate from, LocalDate to) {}

  public DateRange resolve() {
    if (date != null && from == null && to == null) {
      LocalDate d = parse("--date", date);
      return new DateRange(d, d);
    }
    if (date == null && from != null && to != null) {
      LocalDate first = parse("--from", from);
      LocalDate last = parse("--to", to);
      if (last.isBefore(first)) {
        throw UserError.of("--to " + to + " is before --from " + from, "Swap them");
      }
      return new DateRange(first, last);
    }
    throw UserError.of("No date range given", "Pass --date yyyy-MM-dd, or --from and --to (not both)");
  }

  /**
   * A date as yyyy-MM-dd, or {@code today} / {@code yesterday} (UTC, when the job starts): schedulers without
   * templating (Kubernetes' ScheduledSparkApplication, cron) run the nightly jobs with {@code --date yesterday}.
   */
  public static LocalDate parse(String option, String text) {
    return parse(option, text, Clock.systemUTC());
  }

  static LocalDate parse(String option, String text, Clock clock) {
    String t = text == null ? "" : text.trim();
    if (t.equalsIgnoreCase("today")) {
      return LocalDate.now(clock.withZone(ZoneOffset.UTC));
    }
    if (t.equalsIgnoreCase("yesterday")) {
      return LocalDate.now(clock.withZone(ZoneOffset.UTC)).minusDays(1);
    }
    try {
      return LocalDate.parse(t);
    } catch (DateTimeParseException e) {
      throw UserError.badArgument(option, text, "a date as yyyy-MM-dd, today or yesterday (UTC)");
    }
  }
}
