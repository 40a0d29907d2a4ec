package io.recsys.batch.maintenance;

import static io.recsys.batch.silver.BronzeRows.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.batch.silver.BronzeRows;
import io.recsys.features.FeatureDefinitions;
import io.recsys.lake.LakeLayout;
import io.recsys.spark.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** OPTIMIZE compacts a table written in many small appends without changing its rows; VACUUM removes the rest. */
class MaintenanceJobIT {

  static final SparkSession spark = SparkTestSession.get();

  @Test
  void compactsZOrdersAndVacuumsWithoutChangingRows(@TempDir Path dir) throws Exception {
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    for (int i = 0; i < 6; i++) {
      BronzeRows.frame(spark, List.of(event("e" + i, "page_view", "u" + (i % 3), "s", "i" + i,
              "2026-03-02T10:0" + i + ":00Z", i, "2026-03-02T10:0" + i + ":01Z")))
          .write().format("delta").mode(SaveMode.Append).partitionBy("event_date").save(lake.silverEvents());
    }
    List<String> rows = rows(lake.silverEvents());
    long parquetBefore = parquetFiles(dir.resolve("silver/events"));
    assertThat(MaintenanceJob.files(spark, lake.silverEvents())).isEqualTo(6);

    MaintenanceJob.Config c = new MaintenanceJob.Config(lake, FeatureDefinitions.load(), LocalDate.parse("2026-03-02"),
        0, true, true);
    List<MaintenanceJob.TableResult> results = MaintenanceJob.run(spark, c);
    MaintenanceJob.TableResult silver = results.stream().filter(r -> r.path().equals(lake.silverEvents()))
        .findFirst().orElseThrow();
    assertThat(silver.filesBefore()).isEqualTo(6);
    assertThat(silver.filesAfter()).isEqualTo(1);
    assertThat(silver.zOrdered()).isTrue();
    assertThat(rows(lake.silverEvents())).isEqualTo(rows);
    // the six small files are gone from disk, not only from the table
    assertThat(parquetFiles(dir.resolve("silver/events"))).isEqualTo(1).isLessThan(parquetBefore);

    // again: nothing left to do
    MaintenanceJob.run(spark, c);
    assertThat(MaintenanceJob.files(spark, lake.silverEvents())).isEqualTo(1);
    assertThat(rows(lake.silverEvents())).isEqualTo(rows);
  }

  @Test
  void keepsTheConfiguredDaysOfStreamProgress(@TempDir Path dir) {
    LakeLayout lake = new LakeLayout(dir.toUri().toString());
    LocalDate today = LocalDate.now(java.time.ZoneOffset.UTC);
    for (int age : new int[] {0, 3, 29, 31, 90}) {
      spark.sql("SELECT 'bronze-ingest' AS query, DATE'" + today.minusDays(age) + "' AS date, " + age + "L AS batch_id")
          .write().format("delta").mode(SaveMode.Append).partitionBy("date").save(lake.opsStreamProgress());
    }

    MaintenanceJob.run(spark, new MaintenanceJob.Config(lake, FeatureDefinitions.load(), null, 168, true, false, 30));

    assertThat(spark.read().format("delta").load(lake.opsStreamProgress()).orderBy("batch_id")
        .collectAsList().stream().map(r -> r.getLong(r.fieldIndex("batch_id")))).containsExactly(0L, 3L, 29L);
    assertThat(MaintenanceJob.files(spark, lake.opsStreamProgress())).as("one file per kept date").isEqualTo(3);
  }

  static List<String> rows(String path) {
    return spark.read().format("delta").load(path).orderBy("event_id").collectAsList().stream().map(Row::toString)
        .toList();
  }

  static long parquetFiles(Path dir) throws Exception {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> p.toString().endsWith(".parquet")).count();
    }
  }
}
