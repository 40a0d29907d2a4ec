package io.recsys.features;

/** A Feast entity: what features are keyed by. {@code joinKey} is a field of the event contract. */
public record Entity(String name, String joinKey, ValueType valueType, String description)
    implements java.io.Serializable {}
