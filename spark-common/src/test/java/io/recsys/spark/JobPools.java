package io.recsys.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.sql.SparkSession;

/**
 * Records, while open, which scheduler pool each Spark job of the session ran in and the order in which tasks
 * started: what {@link SchedulerPools} promises, seen from Spark's own listener bus.
 */
public final class JobPools extends SparkListener implements AutoCloseable {

  /** One job: its description, pool and streaming query id (the thread's local properties; null when unset). */
  public record Job(String description, String pool, String queryId) {}

  private final SparkSession spark;
  private final List<Job> jobs = new CopyOnWriteArrayList<>();
  private final Map<Integer, String> stageDescriptions = new ConcurrentHashMap<>();
  private final List<String> taskStarts = new CopyOnWriteArrayList<>();

  private JobPools(SparkSession spark) {
    this.spark = spark;
  }

  public static JobPools watch(SparkSession spark) {
    JobPools p = new JobPools(spark);
    spark.sparkContext().addSparkListener(p);
    return p;
  }

  @Override
  public void onJobStart(SparkListenerJobStart e) {
    Properties p = e.properties();
    String description = p == null ? null : p.getProperty("spark.job.description");
    jobs.add(new Job(description, p == null ? null : p.getProperty(SchedulerPools.POOL_PROPERTY),
        p == null ? null : p.getProperty("sql.streaming.queryId")));
    for (Object stage : scala.jdk.javaapi.CollectionConverters.asJava(e.stageIds())) {
      stageDescriptions.put((Integer) stage, String.valueOf(description));
    }
  }

  @Override
  public void onTaskStart(SparkListenerTaskStart e) {
    taskStarts.add(stageDescriptions.getOrDefault(e.stageId(), "?"));
  }

  /** The jobs so far, once the listener bus has delivered every event posted before the call. */
  public List<Job> jobs() {
    drain();
    return new ArrayList<>(jobs);
  }

  /** The description of each task's job, in the order the tasks started. */
  public List<String> taskStarts() {
    drain();
    return new ArrayList<>(taskStarts);
  }

  private void drain() {
    try {
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("Spark's listener bus did not drain", e);
    }
  }

  @Override
  public void close() {
    spark.sparkContext().removeSparkListener(this);
  }
}
