package io.recsys.spark;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Builds the job's SparkSession with Delta Lake enabled. Under spark-submit the master and resources come from
 * the submit command; run directly (./run job ...), it defaults to {@code local[*]} with settings that suit one
 * machine. Session time zone is UTC so that dates derived from event time do not depend on the host.
 */
public final class SparkSessions {

  private SparkSessions() {}

  public static SparkSession create(String appName, Map<String, String> hadoopConf) {
    SparkConf conf = new SparkConf(true);
    // local mode, by ./run or by spark-submit --master local[n]: small-data settings (a cluster keeps Spark's)
    boolean local = !conf.contains("spark.master") || conf.get("spark.master").startsWith("local");
    SparkSession.Builder b = SparkSession.builder().appName(appName)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog");
    lakeSettings().forEach((k, v) -> setIfAbsent(b, conf, k, v));
    // streaming micro-batches before the work beside them (offline-log appends): see SchedulerPools
    SchedulerPools.settings(conf).forEach(b::config);
    if (local) {
      if (!conf.contains("spark.master")) {
        b.master("local[*]");
      }
      // one shuffle partition per core: a stateful streaming query runs one state-store task per partition every
      // micro-batch, and on 2 cores 2 partitions instead of 4 cut the feature job's aggregation phase from a
      // median 849 to 585 ms per batch (BENCHMARKS.md, freshness notes). Checkpoints keep the number they began with.
      setIfAbsent(b, conf, "spark.sql.shuffle.partitions", Integer.toString(localCores(conf)));
      setIfAbsent(b, conf, "spark.databricks.delta.snapshotPartitions", "2");
      setIfAbsent(b, conf, "spark.ui.enabled", "false");
      setIfAbsent(b, conf, "spark.driver.host", "127.0.0.1");
      setIfAbsent(b, conf, "spark.driver.bindAddress", "127.0.0.1");
      // file:/ checkpoints, state and Delta logs without a chmod/readlink child process per file written
      LocalFileSystems.settings().forEach((k, v) -> setIfAbsent(b, conf, "spark.hadoop." + k, v));
    }
    hadoopConf.forEach((k, v) -> b.config("spark.hadoop." + k, v));
    SparkSession spark = b.getOrCreate();
    // also when the context already existed (the spark.hadoop.* keys only reach a new one)
    hadoopConf.forEach((k, v) -> spark.sparkContext().hadoopConfiguration().set(k, v));
    return spark;
  }

  /**
   * How every job writes the lake, on any master (a {@code --conf} of the same key wins); the test session uses
   * them too.
   * <ul>
   *   <li>Session time zone UTC, so that dates derived from event time do not depend on the host.
   *   <li>Partitioned appends (bronze by event_date) write a few partitions per task: a writer open per partition
   *       instead of sorting each task's rows by partition first.
   *   <li>Timestamps in Parquet as INT64 microseconds (what Spark holds in memory), not Spark's default INT96,
   *       which Parquet deprecated: no Julian-day conversion per value, and a dictionary of longs instead of one
   *       of 12-byte arrays. In a profile of the bronze job the INT96 dictionaries of its three timestamp columns
   *       took about 2% of the write tasks' samples (BENCHMARKS.md, ingest notes). Readers take both, file by file.
   * </ul>
   */
  public static Map<String, String> lakeSettings() {
    return Map.of(
        "spark.sql.session.timeZone", "UTC",
        "spark.sql.maxConcurrentOutputFileWriters", "8",
        "spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS");
  }

  private static final Pattern LOCAL_N = Pattern.compile("local\\[(\\d+)(,\\d+)?]");

  /** The cores of the local master: N of local[N] or local[N,F], else (local, local[*]) this machine's. */
  static int localCores(SparkConf conf) {
    String master = conf.get("spark.master", "local[*]");
    Matcher m = LOCAL_N.matcher(master);
    if (m.matches()) {
      return Math.max(1, Integer.parseInt(m.group(1)));
    }
    return master.equals("local") ? 1 : Runtime.getRuntime().availableProcessors();
  }

  private static void setIfAbsent(SparkSession.Builder b, SparkConf conf, String key, String value) {
    if (!conf.contains(key)) {
      b.config(key, value);
    }
  }
}
