package io.recsys.streaming.producer;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.contract.Event;
import io.recsys.contract.EventParser;
import io.recsys.contract.EventType;
import io.recsys.contract.ParseOutcome;
import io.recsys.contract.ParserConfig;
import io.recsys.contract.ReasonCode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SyntheticClickstreamTest {

  static final Instant END = Instant.parse("2026-11-20T12:00:00Z");
  final EventParser parser = new EventParser(ParserConfig.DEFAULT);

  static List<ProducedRecord> generate(SyntheticClickstream.Config c) {
    List<ProducedRecord> out = new ArrayList<>();
    new SyntheticClickstream(c).forEachRemaining(out::add);
    return out;
  }

  static SyntheticClickstream.Config config(long n) {
    return SyntheticClickstream.Config.defaults(n).withTime(END, Duration.ofHours(24));
  }

  @Test
  void sameSeedSameRecords() {
    List<ProducedRecord> a = generate(config(2_000).withBadRatio(0.05).withDisorder(0.05, 0.05));
    List<ProducedRecord> b = generate(config(2_000).withBadRatio(0.05).withDisorder(0.05, 0.05));
    assertThat(a).hasSize(2_000);
    for (int i = 0; i < a.size(); i++) {
      assertThat(a.get(i).value()).isEqualTo(b.get(i).value());
    }
  }

  @Test
  void everyInjectedBadRecordGetsExactlyItsReasonAndEveryOtherRecordIsValid() {
    SyntheticClickstream gen = new SyntheticClickstream(config(20_000).withBadRatio(0.05).withDisorder(0.02, 0.02));
    Map<ReasonCode, Long> seen = new EnumMap<>(ReasonCode.class);
    Set<String> ids = new HashSet<>();
    long kafkaTs = END.toEpochMilli();
    while (gen.hasNext()) {
      ProducedRecord r = gen.next();
      ParseOutcome o = parser.parse(r.value(), kafkaTs);
      if (r.expected() == null) {
        assertThat(o).isInstanceOf(ParseOutcome.Valid.class);
        Event e = ((ParseOutcome.Valid) o).event();
        assertThat(ids.add(e.eventId())).as("event ids are unique").isTrue();
        assertThat(r.key()).isEqualTo(e.userId());
        assertThat(e.eventTimeMillis()).isBetween(END.minus(Duration.ofHours(24)).toEpochMilli(), kafkaTs);
      } else {
        assertThat(o).isInstanceOf(ParseOutcome.Rejected.class);
        assertThat(((ParseOutcome.Rejected) o).reason()).isEqualTo(r.expected());
        seen.merge(r.expected(), 1L, Long::sum);
      }
    }
    assertThat(seen).isEqualTo(gen.injectedBadRecords());
    assertThat(seen.keySet()).containsExactlyInAnyOrder(BadRecords.KINDS);
    assertThat(seen.values().stream().mapToLong(Long::longValue).sum()).isBetween(800L, 1200L);
  }

  @Test
  void hasAFunnelAndAPopularityCurve() {
    Map<EventType, Long> types = new EnumMap<>(EventType.class);
    Map<String, Long> views = new HashMap<>();
    for (ProducedRecord r : generate(config(50_000))) {
      Event e = ((ParseOutcome.Valid) parser.parse(r.value(), END.toEpochMilli())).event();
      types.merge(e.eventType(), 1L, Long::sum);
      if (e.eventType() == EventType.PAGE_VIEW) {
        views.merge(e.itemId(), 1L, Long::sum);
      }
    }
    assertThat(types.keySet()).containsExactlyInAnyOrder(EventType.PAGE_VIEW, EventType.CLICK, EventType.ADD_TO_CART,
        EventType.REMOVE_FROM_CART, EventType.PURCHASE, EventType.SEARCH);
    assertThat(types.get(EventType.PAGE_VIEW)).isGreaterThan(types.get(EventType.CLICK));
    assertThat(types.get(EventType.CLICK)).isGreaterThan(types.get(EventType.ADD_TO_CART));
    assertThat(types.get(EventType.ADD_TO_CART)).isGreaterThan(types.get(EventType.PURCHASE));
    // Zipf: the most viewed item gets far more than the median item
    List<Long> counts = views.values().stream().sorted().toList();
    assertThat(counts.get(counts.size() - 1)).isGreaterThan(20 * counts.get(counts.size() / 2));
  }

  @Test
  void lateAndOutOfOrderEventsAreThere() {
    long late = 0;
    long backwards = 0;
    long previous = Long.MIN_VALUE;
    for (ProducedRecord r : generate(config(10_000).withDisorder(0.05, 0.05))) {
      long t = ((ParseOutcome.Valid) parser.parse(r.value(), END.toEpochMilli())).event().eventTimeMillis();
      if (t < previous - Duration.ofMinutes(9).toMillis()) {
        late++;
      } else if (t < previous) {
        backwards++;
      }
      previous = Math.max(previous, t);
    }
    assertThat(late).isGreaterThan(200);
    assertThat(backwards).isGreaterThan(100);
  }
}
