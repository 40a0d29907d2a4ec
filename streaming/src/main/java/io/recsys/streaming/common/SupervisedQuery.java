package io.recsys.streaming.common;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a streaming query and restarts it from its checkpoint when it dies of a known, harmless Spark defect;
 * any other failure ends it.
 *
 * <p>The defect: Spark 4.1.0's Kafka source throws a NullPointerException in
 * {@code KafkaMicroBatchStream.metrics} when the first batch after a restart is one that the previous run had
 * planned but not committed (SPARK-55271, SPARK-57438; fixed upstream after 4.1.1). The exception comes from
 * progress reporting, after {@code runBatch} has written the batch's commit, so the restarted query begins with
 * the next batch and does not meet it again. Our sinks are idempotent per batch, so even a rerun is harmless.
 */
public final class SupervisedQuery {

  private static final Logger LOG = LoggerFactory.getLogger(SupervisedQuery.class);
  private static final int MAX_RESTARTS_IN_A_ROW = 5;

  /** Starts the query (again, from the same checkpoint). */
  @FunctionalInterface
  public interface Starter {
    StreamingQuery start() throws TimeoutException;
  }

  private final Starter starter;
  private final Runnable onEnd;
  private final AtomicReference<StreamingQuery> current = new AtomicReference<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private final CountDownLatch done = new CountDownLatch(1);
  private volatile boolean stopping;
  private volatile int restarts;

  private SupervisedQuery(Starter starter, Runnable onEnd) {
    this.starter = starter;
    this.onEnd = onEnd;
  }

  /** Starts the query now and supervises it from a background thread; {@code onEnd} runs when it ends. */
  public static SupervisedQuery start(String name, Starter starter, Runnable onEnd) throws TimeoutException {
    SupervisedQuery s = new SupervisedQuery(starter, onEnd);
    s.current.set(starter.start());
    Thread t = new Thread(s::supervise, "supervisor-" + name);
    t.setDaemon(true);
    t.start();
    return s;
  }

  private void supervise() {
    int inARow = 0;
    try {
      while (true) {
        StreamingQuery q = current.get();
        long batchesBefore = q.lastProgress() == null ? -1 : q.lastProgress().batchId();
        try {
          q.awaitTermination();
          return; // stopped, or trigger available-now finished
        } catch (StreamingQueryException e) {
          if (stopping || !isKnownRestartable(e)) {
            failure.set(e);
            return;
          }
          long batchAtFailure = q.lastProgress() == null ? -1 : q.lastProgress().batchId();
          inARow = batchAtFailure > batchesBefore ? 1 : inARow + 1;
          if (inARow > MAX_RESTARTS_IN_A_ROW) {
            failure.set(e);
            return;
          }
          restarts++;
          LOG.warn("query {} hit Spark's Kafka metrics defect after a replayed batch (SPARK-55271); the batch is "
              + "committed, restarting from the checkpoint", q.name());
          current.set(starter.start());
        }
      }
    } catch (Throwable t) {
      failure.set(t);
    } finally {
      try {
        onEnd.run();
      } finally {
        done.countDown();
      }
    }
  }

  static boolean isKnownRestartable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof NullPointerException) {
        for (StackTraceElement f : t.getStackTrace()) {
          if (f.getClassName().startsWith("org.apache.spark.sql.kafka010.KafkaMicroBatchStream")
              && f.getMethodName().equals("metrics")) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** Blocks until the query ends; throws its failure, if it failed. */
  public void awaitTermination() throws InterruptedException, StreamingQueryException {
    done.await();
    Throwable t = failure.get();
    if (t instanceof StreamingQueryException sqe) {
      throw sqe;
    }
    if (t != null) {
      throw new IllegalStateException("The query could not be restarted: " + t, t);
    }
  }

  /** Stops the query and waits for the supervisor to end. */
  public void stop() throws TimeoutException, InterruptedException {
    stopping = true;
    current.get().stop();
    done.await();
  }

  /** The failure that ended the query, if any. */
  public Throwable failure() {
    return failure.get();
  }

  public boolean isActive() {
    return done.getCount() > 0;
  }

  public int restarts() {
    return restarts;
  }

  public StreamingQuery query() {
    return current.get();
  }
}
