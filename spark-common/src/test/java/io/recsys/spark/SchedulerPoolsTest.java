package io.recsys.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * The jobs' sessions (and the tests' one) run Spark's fair scheduler with the pools of {@link SchedulerPools}: a
 * streaming micro-batch's task gets the next free slot before work in the background pool that was waiting
 * first, which Spark's default (FIFO) would run first.
 */
class SchedulerPoolsTest {

  @Test
  void aNewSessionGetsTheFairSchedulerAndThePoolsUnlessTheUserSetsTheirOwn() throws Exception {
    Map<String, String> s = SchedulerPools.settings(new SparkConf(false));
    assertThat(s).containsEntry("spark.scheduler.mode", "FAIR");
    String xml = Files.readString(Path.of(URI.create(s.get("spark.scheduler.allocation.file"))));
    assertThat(xml).isEqualTo(SchedulerPools.poolsXml());

    SparkConf own = new SparkConf(false).set("spark.scheduler.mode", "FIFO")
        .set("spark.scheduler.allocation.file", "/etc/spark/pools.xml");
    assertThat(SchedulerPools.settings(own)).isEmpty();
  }

  @Test
  void aStreamsTaskTakesTheNextFreeSlotBeforeTheBackgroundJobsWaitingTasks() throws Exception {
    SparkSession spark = SparkTestSession.get();
    SparkContext sc = spark.sparkContext();
    // the pools as Spark built them from the file
    assertThat(sc.getSchedulingMode().toString()).isEqualTo("FAIR");
    assertThat(sc.getPoolForName(SchedulerPools.STREAMS).get().minShare())
        .isEqualTo(SchedulerPools.STREAMS_MIN_SHARE);
    assertThat(sc.getPoolForName(SchedulerPools.BACKGROUND).get().minShare()).isZero();

    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(sc);
    int slots = 2; // SparkTestSession: local[2]
    try (JobPools pools = JobPools.watch(spark)) {
      // background work with more tasks than slots: its first two take both slots for a second
      CompletableFuture<Void> background = CompletableFuture.runAsync(() ->
          SchedulerPools.run(sc, SchedulerPools.BACKGROUND, () -> {
            sc.setJobDescription("background");
            jsc.parallelize(List.of(1, 2, 3, 4, 5, 6), 6).foreach(x -> Thread.sleep(1_000));
            return null;
          }));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (pools.taskStarts().size() < slots && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(pools.taskStarts()).containsExactly("background", "background");
      // then a micro-batch's job, submitted while four background tasks wait for a slot
      SchedulerPools.run(sc, SchedulerPools.STREAMS, () -> {
        sc.setJobDescription("stream");
        jsc.parallelize(List.of(1, 2), 2).foreach(x -> Thread.sleep(10));
        return null;
      });
      sc.setJobDescription(null);
      background.get(60, TimeUnit.SECONDS);

      assertThat(pools.taskStarts()).as("the stream's tasks take the two slots that free first")
          .containsExactly("background", "background", "stream", "stream", "background", "background",
              "background", "background");
      assertThat(pools.jobs()).extracting(JobPools.Job::description, JobPools.Job::pool)
          .contains(org.assertj.core.groups.Tuple.tuple("background", SchedulerPools.BACKGROUND),
              org.assertj.core.groups.Tuple.tuple("stream", SchedulerPools.STREAMS));
    }
  }
}
