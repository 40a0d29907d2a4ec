package io.recsys.features;

/** Feast value types a feature can have (the names of feast.types.ValueType.Enum). */
public enum ValueType {
  INT32, INT64, FLOAT, DOUBLE, STRING, BOOL, UNIX_TIMESTAMP, STRING_LIST, INT64_LIST, DOUBLE_LIST;

  public boolean isList() {
    return name().endsWith("_LIST");
  }
}
