package io.recsys.streaming.producer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.recsys.contract.Event;
import io.recsys.contract.EventParser;
import io.recsys.contract.ParseOutcome;
import io.recsys.contract.ParserConfig;
import io.recsys.contract.ReasonCode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BadRecordsTest {

  static final Instant END = Instant.parse("2026-11-20T12:00:00Z");
  final EventParser parser = new EventParser(ParserConfig.DEFAULT);

  static List<Event> events(int n) {
    List<Event> out = new ArrayList<>();
    SyntheticClickstream gen = new SyntheticClickstream(SyntheticClickstream.Config.defaults(n)
        .withTime(END, Duration.ofHours(6)));
    gen.forEachRemaining(r -> out.add(((ParseOutcome.Valid) new EventParser(ParserConfig.DEFAULT)
        .parse(r.value(), END.toEpochMilli())).event()));
    return out;
  }

  @Test
  void aReplayKeepsEveryEventInOrderAndGainsBadCopiesThatGetExactlyTheirReason() {
    List<Event> replayed = events(5_000);
    BadRecords bad = new BadRecords();
    Iterator<ProducedRecord> records = bad.mixedInto(replayed, 0.05, 7);
    List<String> goodIds = new ArrayList<>();
    Map<ReasonCode, Long> seen = new EnumMap<>(ReasonCode.class);
    while (records.hasNext()) {
      ProducedRecord r = records.next();
      ParseOutcome o = parser.parse(r.value(), END.toEpochMilli());
      if (r.expected() == null) {
        goodIds.add(((ParseOutcome.Valid) o).event().eventId());
      } else {
        assertThat(o).isInstanceOf(ParseOutcome.Rejected.class);
        assertThat(((ParseOutcome.Rejected) o).reason()).isEqualTo(r.expected());
        assertThat(r.key()).as("keyed by the user of the event it copies").isNotNull();
        seen.merge(r.expected(), 1L, Long::sum);
      }
    }
    assertThat(goodIds).isEqualTo(replayed.stream().map(Event::eventId).toList());
    assertThat(seen).isEqualTo(bad.injected());
    assertThat(seen.keySet()).containsExactlyInAnyOrder(BadRecords.KINDS);
    assertThat(seen.values().stream().mapToLong(Long::longValue).sum()).isBetween(180L, 320L);
  }

  @Test
  void noShareNoBadRecordsAndAShareOutsideZeroToOneIsRefused() {
    List<Event> replayed = events(300);
    List<ProducedRecord> out = new ArrayList<>();
    new BadRecords().mixedInto(replayed, 0, 1).forEachRemaining(out::add);
    assertThat(out).hasSize(replayed.size()).allMatch(r -> r.expected() == null);
    assertThatThrownBy(() -> new BadRecords().mixedInto(replayed, 1.5, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[0, 1]");
  }
}
