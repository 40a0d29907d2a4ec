package io.recsys.contract;

import java.util.Map;

/**
 * A valid event of contract v1. Optional fields are {@code null} when absent. {@code eventTimeMillis} is
 * epoch milliseconds (UTC). {@code context} holds the free-form context attributes as strings (never null).
 */
public record Event(
    String eventId,
    int schemaVersion,
    EventType eventType,
    String userId,
    String sessionId,
    String itemId,
    String category,
    Double price,
    Integer quantity,
    Double rating,
    String query,
    long eventTimeMillis,
    Map<String, String> context) {}
