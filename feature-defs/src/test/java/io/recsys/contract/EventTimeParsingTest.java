package io.recsys.contract;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The fast path for UTC timestamps agrees with java.time on every input, valid or not. */
class EventTimeParsingTest {

  static Long reference(String text) {
    try {
      return OffsetDateTime.parse(text).toInstant().toEpochMilli();
    } catch (Exception notOffset) {
      try {
        return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC).toEpochMilli();
      } catch (Exception notLocal) {
        return null;
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"2026-11-20T11:59:00Z", "2026-11-20T11:59:00.1Z", "2026-11-20T11:59:00.12Z",
      "2026-11-20T11:59:00.123Z", "2026-11-20T11:59:00.123456Z", "2026-11-20T11:59:00.123456789Z",
      "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
      "2026-04-31T00:00:00Z", "2026-11-20T24:00:00Z", "2026-11-20T23:60:00Z", "2026-11-20T23:59:60Z",
      "2026-11-20T11:59:00.Z", "2026-11-20T11:59:00.1234567890Z", "2026-11-20 11:59:00Z", "2026-11-2OT11:59:00Z",
      "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
      "2026-11-20T11:59Z", "2026-11-20T11:59:00+01:00", "2026-11-20T11:59:00", "+2026-11-20T11:59:00Z", "Z"})
  void agreesWithJavaTime(String text) {
    assertThat(EventParser.parseIsoMillis(text)).as(text).isEqualTo(reference(text));
  }

  @Test
  void agreesWithJavaTimeOnRandomInstants() {
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < 20_000; i++) {
      long millis = r.nextLong(-2_000_000_000_000L, 4_000_000_000_000L);
      String text = Instant.ofEpochMilli(millis).toString();
      assertThat(EventParser.parseIsoMillis(text)).as(text).isEqualTo(millis);
    }
  }
}
