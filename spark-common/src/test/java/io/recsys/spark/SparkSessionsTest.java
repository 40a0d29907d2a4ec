package io.recsys.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

class SparkSessionsTest {

  private static int cores(String master) {
    SparkConf conf = new SparkConf(false);
    if (master != null) {
      conf.set("spark.master", master);
    }
    return SparkSessions.localCores(conf);
  }

  @Test
  void shufflePartitionsFollowTheLocalMastersCores() {
    assertEquals(3, cores("local[3]"));
    assertEquals(2, cores("local[2,4]")); // with task retries
    assertEquals(1, cores("local"));
    int machine = Runtime.getRuntime().availableProcessors();
    assertEquals(machine, cores("local[*]"));
    assertEquals(machine, cores("local[*,3]"));
    assertEquals(machine, cores(null)); // ./run's default master is local[*]
  }
}
