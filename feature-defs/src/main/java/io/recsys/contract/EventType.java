package io.recsys.contract;

import java.util.Locale;

/** The event types of contract v1, with their wire names (lower snake case). */
public enum EventType {
  PAGE_VIEW, CLICK, ADD_TO_CART, REMOVE_FROM_CART, PURCHASE, RATING, SEARCH;

  private final String wireName = name().toLowerCase(Locale.ROOT);

  /** The name as it appears in the JSON {@code event_type} field. */
  public String wireName() {
    return wireName;
  }

  /** The type for a wire name, or {@code null} if the contract has no such type. */
  public static EventType fromWireName(String name) {
    for (EventType t : values()) {
      if (t.wireName.equals(name)) {
        return t;
      }
    }
    return null;
  }
}
