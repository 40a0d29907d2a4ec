package io.recsys.streaming.producer;

import io.recsys.contract.ReasonCode;

/**
 * One record for Kafka. {@code expected} is what the producer meant it to be: {@code null} for a valid event,
 * or the reason code a bad record was built to trigger (tests and the demo compare it with the quarantine).
 */
public record ProducedRecord(String key, byte[] value, ReasonCode expected) {}
