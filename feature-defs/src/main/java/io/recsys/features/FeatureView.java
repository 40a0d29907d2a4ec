package io.recsys.features;

import io.recsys.contract.EventType;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * A group of features of one entity over one window, written and read together (one Feast feature view).
 *
 * @param window the window length; null for a session window and for a model's output
 * @param slide how often a sliding window advances; equal to {@code window} for a tumbling one; null for sessions
 * @param sessionGap the inactivity that closes a session window; null otherwise
 * @param filter the event types the view reads (empty: all)
 * @param schedule who computes it: the streaming job (windows that slide with the events) or the nightly job
 *     (whole days as of a date, for long horizons), or a model job (its published output)
 */
public record FeatureView(String name, String entity, String source, Duration window, Duration slide,
    Duration sessionGap, Duration ttl, Set<EventType> filter, List<Feature> features, Schedule schedule)
    implements java.io.Serializable {

  /**
   * Who computes a view: the online-features job (windows that slide with the events), the gold job (whole days
   * as of a date), or a model job that publishes its output (no window, no aggregation: the ALS job's top-K).
   */
  public enum Schedule { STREAMING, NIGHTLY, MODEL }

  public boolean isNightly() {
    return schedule == Schedule.NIGHTLY;
  }

  /** Published by a model job rather than aggregated from events: no window, no filter. */
  public boolean isModelOutput() {
    return schedule == Schedule.MODEL;
  }

  public boolean isSession() {
    return sessionGap != null;
  }

  public Feature feature(String featureName) {
    return features.stream().filter(f -> f.name().equals(featureName)).findFirst().orElse(null);
  }
}
