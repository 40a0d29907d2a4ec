package io.recsys.spark;

import org.apache.spark.sql.SparkSession;

/**
 * The one SparkSession of a test JVM: local[2], UI off, loopback, few shuffle partitions, Delta enabled, UTC.
 * Started on first use (4-5 s) and shared by every test class of the JVM.
 */
public final class SparkTestSession {

  private static SparkSession session;

  private SparkTestSession() {}

  public static synchronized SparkSession get() {
    if (session == null) {
      session = SparkSession.builder()
          .appName("recsys-tests")
          .master("local[2]")
          .config("spark.ui.enabled", "false")
          .config("spark.driver.host", "127.0.0.1")
          .config("spark.driver.bindAddress", "127.0.0.1")
          .config("spark.sql.shuffle.partitions", "2")
          .config("spark.default.parallelism", "2")
          .config("spark.sql.session.timeZone", "UTC")
          .config("spark.databricks.delta.snapshotPartitions", "2")
          .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
          .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
          .config("spark.sql.streaming.stopTimeout", "30s")
          .getOrCreate();
    }
    return session;
  }
}
