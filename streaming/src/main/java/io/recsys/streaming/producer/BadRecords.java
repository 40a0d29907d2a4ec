package io.recsys.streaming.producer;

import io.recsys.contract.Event;
import io.recsys.contract.EventJson;
import io.recsys.contract.ReasonCode;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;

/**
 * Bad records built on purpose from good events, one quarantine reason after another: the synthetic generator
 * emits them in place of events, and a replay of a real data set can mix them in beside its events (so the
 * replayed data stays whole while the quarantine, its reasons and its dashboards get exercised).
 */
public final class BadRecords {
  /** The reasons bad records are built to trigger, in the order they are injected. */
  static final ReasonCode[] KINDS = {ReasonCode.MALFORMED_JSON, ReasonCode.MISSING_REQUIRED_FIELD,
      ReasonCode.WRONG_TYPE, ReasonCode.UNKNOWN_EVENT_TYPE, ReasonCode.EVENT_TIME_OUT_OF_RANGE,
      ReasonCode.INVALID_VALUE, ReasonCode.OVERSIZE_PAYLOAD, ReasonCode.EMPTY_PAYLOAD,
      ReasonCode.UNSUPPORTED_SCHEMA_VERSION};

  private final Map<ReasonCode, Long> injected = new LinkedHashMap<>();
  private int cursor;

  /** The next bad record, made from {@code e}, of the next reason in turn. */
  public ProducedRecord next(Event e) {
    ReasonCode kind = KINDS[cursor++ % KINDS.length];
    injected.merge(kind, 1L, Long::sum);
    return corrupt(e, kind);
  }

  /** How many bad records of each reason were made so far. */
  public Map<ReasonCode, Long> injected() {
    return Map.copyOf(injected);
  }

  /** {@code e} turned into a record that the event parser must quarantine with {@code kind}. */
  public static ProducedRecord corrupt(Event e, ReasonCode kind) {
    String json = new String(EventJson.toBytes(e), StandardCharsets.UTF_8);
    String value = switch (kind) {
      case MALFORMED_JSON -> json.substring(0, json.length() / 2);
      case MISSING_REQUIRED_FIELD -> json.replaceFirst("\"user_id\":\"[^\"]*\",", "");
      case WRONG_TYPE -> json.replaceFirst("\"user_id\":\"[^\"]*\"", "\"user_id\":12345");
      case UNKNOWN_EVENT_TYPE -> json.replaceFirst("\"event_type\":\"[^\"]*\"", "\"event_type\":\"teleport\"");
      case EVENT_TIME_OUT_OF_RANGE -> json.replaceFirst("\"event_time\":\"[^\"]*\"", "\"event_time\":\"1970-01-02T00:00:00Z\"");
      case INVALID_VALUE -> json.replaceFirst("\"event_id\":\"[^\"]*\"", "\"event_id\":\"\"");
      case OVERSIZE_PAYLOAD -> json.replaceFirst("\\{", "{\"padding\":\"" + "x".repeat(70 * 1024) + "\",");
      case EMPTY_PAYLOAD -> null;
      case UNSUPPORTED_SCHEMA_VERSION -> json.replaceFirst("\"schema_version\":1", "\"schema_version\":99");
      case PARSER_ERROR -> throw new IllegalStateException("PARSER_ERROR marks a parser defect; it is never injected");
    };
    return new ProducedRecord(e.userId(), value == null ? null : value.getBytes(StandardCharsets.UTF_8), kind);
  }

  /**
   * Every event of {@code events} as a good record, and after each, with probability {@code ratio}, a bad copy of
   * it (seeded, so a replay is repeatable); the counts of what was mixed in are in {@link #injected()}.
   */
  public Iterator<ProducedRecord> mixedInto(List<Event> events, double ratio, long seed) {
    if (ratio < 0 || ratio > 1) {
      throw new IllegalArgumentException("the share of bad records must be in [0, 1], got " + ratio);
    }
    SplittableRandom rnd = new SplittableRandom(seed);
    Iterator<Event> source = events.iterator();
    return new Iterator<>() {
      private ProducedRecord pending;

      @Override
      public boolean hasNext() {
        return pending != null || source.hasNext();
      }

      @Override
      public ProducedRecord next() {
        if (pending != null) {
          ProducedRecord r = pending;
          pending = null;
          return r;
        }
        if (!source.hasNext()) {
          throw new NoSuchElementException();
        }
        Event e = source.next();
        if (ratio > 0 && rnd.nextDouble() < ratio) {
          pending = BadRecords.this.next(e);
        }
        return new ProducedRecord(e.userId(), EventJson.toBytes(e), null);
      }
    };
  }
}
