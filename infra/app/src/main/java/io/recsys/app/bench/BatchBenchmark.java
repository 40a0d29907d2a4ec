package io.recsys.app.bench;

import io.recsys.batch.als.AlsJob;
import io.recsys.contract.Event;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.producer.DatasetReplay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Date;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code ./run bench batch}: the nightly ALS run (default grid) on the real data sets, each as silver.events,
 * with the popularity baseline scored on the same hold-out in the same run.
 */
final class BatchBenchmark {

  static final StructType SILVER = new StructType().add("user_id", DataTypes.StringType)
      .add("item_id", DataTypes.StringType).add("category", DataTypes.StringType)
      .add("event_type", DataTypes.StringType)
      .add("rating", DataTypes.DoubleType).add("event_time", DataTypes.TimestampType)
      .add("event_date", DataTypes.DateType);

  record Run(String dataset, long events, LocalDate asOf, AlsJob.Outcome outcome, double seconds) {}

  private final SparkSession spark;
  private final Path work;

  BatchBenchmark(SparkSession spark, Path work) {
    this.spark = spark;
    this.work = work;
  }

  static Path dataFolder(Path dataDir, String sub) {
    List<Path> candidates = dataDir != null ? List.of(dataDir.resolve(sub), dataDir)
        : List.of(Path.of("..", "shared", "data", sub), Path.of("data", "samples", sub));
    for (Path p : candidates) {
      if (Files.isDirectory(p)) {
        return p;
      }
    }
    throw new IllegalArgumentException(sub + " not found in " + candidates + "; pass --data-dir");
  }

  Run run(String dataset, List<Event> events) throws Exception {
    List<Row> rows = new ArrayList<>(events.size());
    for (Event e : events) {
      Instant t = Instant.ofEpochMilli(e.eventTimeMillis());
      rows.add(RowFactory.create(e.userId(), e.itemId(), e.category(), e.eventType().wireName(), e.rating(), Timestamp.from(t),
          Date.valueOf(t.atOffset(ZoneOffset.UTC).toLocalDate())));
    }
    LakeLayout lake = new LakeLayout(work.resolve("lake-" + dataset).toUri().toString());
    var silver = spark.createDataFrame(rows, SILVER);
    silver.write().format("delta").mode("overwrite").partitionBy("event_date").save(lake.silverEvents());
    LocalDate asOf = silver.selectExpr("max(event_date)").first().getDate(0).toLocalDate();
    long t0 = System.nanoTime();
    AlsJob.Outcome o = AlsJob.run(spark, AlsJob.Config.defaults(lake, asOf));
    return new Run(dataset, events.size(), asOf, o, (System.nanoTime() - t0) / 1e9);
  }
}
