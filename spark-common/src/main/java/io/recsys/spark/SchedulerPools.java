package io.recsys.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;

/**
 * Spark's fair scheduler with two pools, so that a streaming query's tasks never queue behind work done beside
 * it. Spark's default (FIFO) hands a free task slot to the oldest job: when the online job's offline-log appends
 * (one task each, 0.3-3 s) were submitted, the micro-batch's tasks waited for them, and the six-view job's p99
 * freshness followed the appends rather than the micro-batches (BENCHMARKS.md, freshness notes).
 * <ul>
 *   <li>{@value #STREAMS}: the streaming queries' micro-batches. Its minimum share is larger than any cluster,
 *       so whenever it has a task waiting it gets the next free slot (Spark's fair scheduler serves a pool below
 *       its minimum share first); its queries share it fairly.</li>
 *   <li>{@value #BACKGROUND}: work beside the streams (offline-log appends, Delta log checkpoints, the stream
 *       progress log): the slots the streams leave.</li>
 *   <li>{@code default}: every other job, as before (FIFO).</li>
 * </ul>
 * A job goes to a pool through the submitting thread's {@code spark.scheduler.pool} property ({@link #run}); a
 * streaming query's thread inherits it from the thread that starts the query. With a scheduler mode or pools
 * file of the user's ({@code --conf spark.scheduler.mode=...}, {@code spark.scheduler.allocation.file}), theirs
 * are used; pools they do not define are created by Spark with its defaults.
 */
public final class SchedulerPools {

  public static final String STREAMS = "streams";
  public static final String BACKGROUND = "background";
  static final String POOL_PROPERTY = "spark.scheduler.pool";
  /** The streams' minimum share, in task slots: more than any cluster has, so they always come first. */
  static final int STREAMS_MIN_SHARE = 1_000_000;

  private SchedulerPools() {}

  /** What a thread runs in a pool; may throw what the work throws. */
  @FunctionalInterface
  public interface Work<T, E extends Exception> {
    T call() throws E;
  }

  /**
   * The settings a new session needs for the pools, leaving out what {@code conf} sets already: FAIR mode and a
   * pools file (a temporary file, written once per JVM: Spark's driver reads it when the context starts).
   */
  public static Map<String, String> settings(SparkConf conf) {
    Map<String, String> out = new LinkedHashMap<>();
    if (!conf.contains("spark.scheduler.mode")) {
      out.put("spark.scheduler.mode", "FAIR");
    }
    if (!conf.contains("spark.scheduler.allocation.file")) {
      out.put("spark.scheduler.allocation.file", PoolsFile.URI);
    }
    return out;
  }

  /** The pools, as Spark's allocation file. */
  static String poolsXml() {
    return "<?xml version=\"1.0\"?>\n<allocations>\n"
        + "  <pool name=\"" + STREAMS + "\">\n    <schedulingMode>FAIR</schedulingMode>\n"
        + "    <weight>1</weight>\n    <minShare>" + STREAMS_MIN_SHARE + "</minShare>\n  </pool>\n"
        + "  <pool name=\"" + BACKGROUND + "\">\n    <schedulingMode>FIFO</schedulingMode>\n"
        + "    <weight>1</weight>\n    <minShare>0</minShare>\n  </pool>\n"
        + "</allocations>\n";
  }

  /** The pools file, written on first use (a session that sets its own never writes it). */
  private static final class PoolsFile {
    static final String URI = write();

    private static String write() {
      try {
        Path file = Files.createTempFile("recsys-scheduler-pools", ".xml");
        file.toFile().deleteOnExit();
        Files.writeString(file, poolsXml(), StandardCharsets.UTF_8);
        return file.toUri().toString();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write Spark's scheduler pools file: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Runs {@code work} with the jobs it submits from this thread in {@code pool}; afterwards the thread's pool is
   * what it was before.
   */
  public static <T, E extends Exception> T run(SparkContext sc, String pool, Work<T, E> work) throws E {
    String before = sc.getLocalProperty(POOL_PROPERTY);
    sc.setLocalProperty(POOL_PROPERTY, pool);
    try {
      return work.call();
    } finally {
      sc.setLocalProperty(POOL_PROPERTY, before);
    }
  }

  /** Puts the jobs this thread submits from now on in {@code pool} (a thread that does nothing else). */
  public static void use(SparkContext sc, String pool) {
    sc.setLocalProperty(POOL_PROPERTY, pool);
  }
}
