package io.recsys.contract;

import java.io.Serializable;
import java.time.Duration;
import java.time.Instant;

/**
 * Limits the parser enforces beyond the schema file. Serializable so Spark jobs can ship it to executors and
 * build an {@link EventParser} there.
 *
 * @param maxPayloadBytes records larger than this are rejected unparsed ({@link ReasonCode#OVERSIZE_PAYLOAD})
 * @param minEventTimeMillis events before this instant are rejected ({@link ReasonCode#EVENT_TIME_OUT_OF_RANGE})
 * @param maxFutureSkewMillis events later than the record's Kafka timestamp plus this are rejected. The Kafka
 *     timestamp, not the wall clock, is the reference, so parsing a record again later gives the same answer.
 */
public record ParserConfig(int maxPayloadBytes, long minEventTimeMillis, long maxFutureSkewMillis)
    implements Serializable {

  /** 64 KiB payloads, events from 1995-01-01 (MovieLens starts in 1996), one hour of clock skew. */
  public static final ParserConfig DEFAULT =
      new ParserConfig(64 * 1024, Instant.parse("1995-01-01T00:00:00Z").toEpochMilli(),
          Duration.ofHours(1).toMillis());

  public ParserConfig {
    if (maxPayloadBytes <= 0) {
      throw new IllegalArgumentException("maxPayloadBytes must be positive, got " + maxPayloadBytes);
    }
    if (maxFutureSkewMillis < 0) {
      throw new IllegalArgumentException("maxFutureSkewMillis must not be negative, got " + maxFutureSkewMillis);
    }
  }
}
