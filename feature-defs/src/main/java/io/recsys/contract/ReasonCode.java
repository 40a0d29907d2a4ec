package io.recsys.contract;

/**
 * Why a Kafka record was quarantined instead of landing in bronze.events. Stored by name in
 * bronze.quarantine.reason; names are stable (dashboards and replays key on them).
 */
public enum ReasonCode {
  /** The record has no value (a tombstone) or an empty one. */
  EMPTY_PAYLOAD,
  /** The value is larger than the parser's limit; it is not parsed at all. */
  OVERSIZE_PAYLOAD,
  /** Not UTF-8 JSON, not one object, trailing bytes, or a field given twice. */
  MALFORMED_JSON,
  /** A field has a JSON type the contract does not allow (e.g. user_id as a number). */
  WRONG_TYPE,
  /** A field the contract requires (for every event, or for this event type) is absent or null. */
  MISSING_REQUIRED_FIELD,
  /** schema_version names a contract version this parser does not implement. */
  UNSUPPORTED_SCHEMA_VERSION,
  /** event_type is not one of the contract's types. */
  UNKNOWN_EVENT_TYPE,
  /** A value is of the right type but outside the contract's bounds (negative price, rating 7, bad date). */
  INVALID_VALUE,
  /** event_time is before the earliest accepted time or too far after the record's Kafka timestamp. */
  EVENT_TIME_OUT_OF_RANGE,
  /** The parser itself failed on this record (a defect to report); the record is kept for replay after a fix. */
  PARSER_ERROR
}
