package io.recsys.features;

import io.recsys.contract.EventType;
import java.util.Set;

/**
 * One feature of a view.
 *
 * @param column the event field aggregated, or null (count, duration, ratio)
 * @param size n of last_n or k of top_k, else 0
 * @param filter the event types counted, already narrowed by the view's filter (empty: all types)
 * @param numerator for ratio: the name of another feature of the view, else null
 * @param denominator for ratio: likewise
 */
public record Feature(String name, Aggregation aggregation, String column, int size, ValueType valueType,
    Set<EventType> filter, String numerator, String denominator) implements java.io.Serializable {

  /** Feast's name for it: {@code view:feature}, the string hashed into the Redis field. */
  public String reference(FeatureView view) {
    return view.name() + ":" + name;
  }
}
