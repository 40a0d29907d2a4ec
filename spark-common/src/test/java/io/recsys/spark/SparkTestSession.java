package io.recsys.spark;

import org.apache.spark.sql.SparkSession;

/**
 * The one SparkSession of a test JVM: local[2], UI off, loopback, few shuffle partitions, Delta enabled, and the
 * jobs' lake settings ({@link SparkSessions#lakeSettings}), local file systems ({@link LocalFileSystems}) and
 * scheduler pools ({@link SchedulerPools}).
 * Started on first use (4-5 s) and shared by every test class of the JVM.
 */
public final class SparkTestSession {

  private static SparkSession session;

  private SparkTestSession() {}

  public static synchronized SparkSession get() {
    if (session == null) {
      SparkSession.Builder b = SparkSession.builder();
      // the local file systems the jobs use on a local master (SparkSessions)
      LocalFileSystems.settings().forEach((k, v) -> b.config("spark.hadoop." + k, v));
      // the jobs' scheduler pools (SparkSessions)
      SchedulerPools.settings(new org.apache.spark.SparkConf(true)).forEach(b::config);
      // how the jobs write the lake: UTC, concurrent partition writers, INT64 timestamps (SparkSessions)
      SparkSessions.lakeSettings().forEach(b::config);
      session = b
          .appName("recsys-tests")
          .master("local[2]")
          .config("spark.ui.enabled", "false")
          .config("spark.driver.host", "127.0.0.1")
          .config("spark.driver.bindAddress", "127.0.0.1")
          .config("spark.sql.shuffle.partitions", "2")
          .config("spark.default.parallelism", "2")
          .config("spark.databricks.delta.snapshotPartitions", "2")
          .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
          .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
          .config("spark.sql.streaming.stopTimeout", "30s")
          // Tests push a few rows through many distinct plans, so compiling each plan's generated code (Janino)
          // costs more than running it: interpreted evaluation, which Spark's own suites test as well, took
          // ErasureJobIT from 197 s to 134 s. The end-to-end tests (the demo in ReplayChainIT, ClusterIT's
          // spark-submits, the Airflow DAG runs) keep Spark's defaults. -Dspark.sql.codegen.wholeStage=true
          // -Dspark.sql.codegen.factoryMode=FALLBACK runs these tests with code generation.
          .config("spark.sql.codegen.wholeStage", System.getProperty("spark.sql.codegen.wholeStage", "false"))
          .config("spark.sql.codegen.factoryMode", System.getProperty("spark.sql.codegen.factoryMode", "NO_CODEGEN"))
          .getOrCreate();
    }
    return session;
  }
}
