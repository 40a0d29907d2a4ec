package io.recsys.streaming.common;

import dev.failsafe.RetryPolicy;
import java.time.Duration;
import org.apache.spark.sql.delta.DeltaConcurrentModificationException;

/** Retrying a Delta write that lost a race to a concurrent commit (Delta's concurrent-modification exceptions). */
public final class DeltaConflicts {

  private DeltaConflicts() {}

  /** Retries on a concurrent-modification conflict (thrown or as the cause), with exponential backoff. */
  public static RetryPolicy<Object> retry(Duration firstDelay, Duration maxDelay, int maxRetries) {
    return RetryPolicy.builder()
        .handleIf(e -> e instanceof DeltaConcurrentModificationException
            || e.getCause() instanceof DeltaConcurrentModificationException)
        .withBackoff(firstDelay, maxDelay).withMaxRetries(maxRetries).build();
  }
}
