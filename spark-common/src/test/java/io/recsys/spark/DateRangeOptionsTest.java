package io.recsys.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import org.junit.jupiter.api.Test;

class DateRangeOptionsTest {

  // 00:30 in UTC is still the evening before in New York: the dates must be UTC's, whatever the host's zone
  final Clock clock = Clock.fixed(Instant.parse("2026-11-22T00:30:00Z"), ZoneId.of("America/New_York"));

  @Test
  void aDateOrTodayOrYesterdayInUtc() {
    assertThat(DateRangeOptions.parse("--date", "2010-12-02", clock)).isEqualTo(LocalDate.of(2010, 12, 2));
    assertThat(DateRangeOptions.parse("--date", " today ", clock)).isEqualTo(LocalDate.of(2026, 11, 22));
    assertThat(DateRangeOptions.parse("--date", "Yesterday", clock)).isEqualTo(LocalDate.of(2026, 11, 21));
  }

  @Test
  void anythingElseIsRefusedNamingTheOptionAndWhatItTakes() {
    assertThatThrownBy(() -> DateRangeOptions.parse("--date", "2010-13-02", clock))
        .isInstanceOf(UserError.class).hasMessageContaining("--date").hasMessageContaining("2010-13-02")
        .hasMessageContaining("yesterday");
    assertThatThrownBy(() -> DateRangeOptions.parse("--from", "last week", clock))
        .isInstanceOf(UserError.class).hasMessageContaining("--from");
  }
}
