package io.recsys.features;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** How a feature is computed from the events of its window, and which value types it can produce. */
public enum Aggregation {
  COUNT(false, EnumSet.of(ValueType.INT64, ValueType.INT32)),
  COUNT_DISTINCT(true, EnumSet.of(ValueType.INT64, ValueType.INT32)),
  SUM(true, EnumSet.of(ValueType.INT64, ValueType.DOUBLE, ValueType.FLOAT)),
  AVG(true, EnumSet.of(ValueType.DOUBLE, ValueType.FLOAT)),
  MIN(true, EnumSet.of(ValueType.INT64, ValueType.DOUBLE, ValueType.FLOAT, ValueType.STRING, ValueType.UNIX_TIMESTAMP)),
  MAX(true, EnumSet.of(ValueType.INT64, ValueType.DOUBLE, ValueType.FLOAT, ValueType.STRING, ValueType.UNIX_TIMESTAMP)),
  /** The column's last n values by event time, newest first. Needs {@code n}. */
  LAST_N(true, EnumSet.of(ValueType.STRING_LIST, ValueType.INT64_LIST, ValueType.DOUBLE_LIST)),
  /** The column's k most frequent values, most frequent first. Needs {@code k}. */
  TOP_K(true, EnumSet.of(ValueType.STRING_LIST, ValueType.INT64_LIST)),
  /** Seconds between the first and the last event of the window. */
  DURATION(false, EnumSet.of(ValueType.INT64, ValueType.INT32, ValueType.DOUBLE)),
  /** numerator / denominator, two other features of the same view; null when the denominator is 0. */
  RATIO(false, EnumSet.of(ValueType.DOUBLE, ValueType.FLOAT)),
  /** No aggregation: a column of what a model job publishes (the features of a {@code schedule: model} view). */
  PUBLISHED(false, EnumSet.allOf(ValueType.class));

  private final boolean needsColumn;
  private final Set<ValueType> valueTypes;

  Aggregation(boolean needsColumn, Set<ValueType> valueTypes) {
    this.needsColumn = needsColumn;
    this.valueTypes = valueTypes;
  }

  public boolean needsColumn() {
    return needsColumn;
  }

  public Set<ValueType> valueTypes() {
    return valueTypes;
  }

  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
