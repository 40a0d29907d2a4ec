package io.recsys.app;

import static org.apache.spark.sql.functions.col;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.recsys.batch.als.Recommendations;
import io.recsys.batch.gold.GoldFeaturesJob;
import io.recsys.lake.LakeLayout;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole chain on the real replays, as a user runs it ({@code ./run demo --dataset ...}, in a JVM of its own):
 * MovieLens ratings and Online Retail invoice lines (the samples in data/samples) through Kafka, the bronze
 * ingest and online-features jobs, then silver, long-horizon features, the online check, ALS with its gate and
 * the publication to Redis, ending with one user's recommend(user, 10). Checked in the lake it leaves: every
 * replayed record landed once, each nightly table holds rows, the promoted version's lists never offer an item
 * the user bought, and the lists reached the online store (the offline log of the model view is written by the
 * same push, after Redis).
 */
class ReplayChainIT {

  private static SparkSession reader;

  @AfterAll
  static void stop() {
    if (reader != null) {
      reader.stop();
    }
  }

  // Online Retail's nightly chain runs under Airflow (airflow-dags/tests/test_nightly.py, on the replay's bronze)
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"movielens"})
  void theNightlyChainRecommendsOnTheReplay(String dataset, @TempDir Path dir) throws Exception {
    Path samples = Path.of("..", "..", "data", "samples").toAbsolutePath().normalize();
    assertThat(samples.resolve("ml-latest-small")).isDirectory();
    Path lakeDir = dir.resolve("lake");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-") || a.startsWith("-Djdk") || a.startsWith("-Dio.netty")
            || a.startsWith("-Dcom.google") || a.startsWith("-XX:+IgnoreUnrecognizedVMOptions"))
        .forEach(cmd::add);
    cmd.add("-Dlog4j2.configurationFile=recsys-log4j2.properties");
    Path argFile = dir.resolve("cp.args");
    Files.writeString(argFile, "-cp \"" + System.getProperty("java.class.path") + "\"");
    cmd.add("@" + argFile);
    cmd.addAll(List.of(Demo.class.getName(), "--dataset", dataset, "--data-dir", samples.toString(),
        "--lake", lakeDir.toString()));
    Path log = dir.resolve("demo.log");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    Process p = pb.start();
    if (!p.waitFor(12, TimeUnit.MINUTES)) {
      p.destroyForcibly();
    }
    String out = Files.readString(log);
    assertThat(p.exitValue()).as("the demo's exit status; its output:\n" + tail(out)).isZero();

    Matcher produced = Pattern.compile("produced ([0-9,]+) records").matcher(out);
    assertThat(produced.find()).as("the demo reports what it produced").isTrue();
    long sent = Long.parseLong(produced.group(1).replace(",", ""));
    assertThat(sent).as("the sample's 4,038 ratings").isEqualTo(4_038);
    assertThat(out).contains("[6/6] The nightly chain");

    LakeLayout lake = new LakeLayout(lakeDir.toUri().toString());
    SparkSession spark = reader();
    long bronze = spark.read().format("delta").load(lake.bronzeEvents()).count();
    long quarantined = spark.read().format("delta").load(lake.bronzeQuarantine()).count();
    assertThat(bronze + quarantined).as("every replayed record landed once").isEqualTo(sent);
    long silver = spark.read().format("delta").load(lake.silverEvents()).count();
    assertThat(silver).isEqualTo(spark.read().format("delta").load(lake.bronzeEvents())
        .select("event_id").distinct().count());
    assertThat(spark.read().format("delta").load(GoldFeaturesJob.table(lake, "user")).count()).isPositive();

    String version = new ObjectMapper().readTree(lakeDir.resolve("models/als/PROMOTED.json").toFile())
        .get("version").asText();
    List<Row> recs = spark.read().format("delta").load(Recommendations.recommendationsTable(lake))
        .filter(col("model_version").equalTo(version)).collectAsList();
    assertThat(recs).isNotEmpty();
    Set<String> bought = new HashSet<>();
    spark.read().format("delta").load(lake.silverEvents()).filter(col("event_type").equalTo("purchase"))
        .select("user_id", "item_id").collectAsList().forEach(r -> bought.add(r.getString(0) + "|" + r.getString(1)));
    if (dataset.equals("online-retail")) {
      assertThat(bought).as("the retail replay has purchases to leave out").isNotEmpty();
    }
    for (Row r : recs) {
      String user = r.getAs("user_id");
      List<String> items = r.getList(r.fieldIndex("items"));
      assertThat(items).isNotEmpty().doesNotHaveDuplicates();
      assertThat(items).as("nothing " + user + " bought is recommended to them")
          .noneMatch(i -> bought.contains(user + "|" + i));
    }
    long online = spark.read().format("delta").load(lake.features(Recommendations.USER_VIEW))
        .filter(col("model_version").equalTo(version)).count();
    assertThat(online).as("every list and the popularity list pushed online").isEqualTo(recs.size() + 1L);

    Matcher rec = Pattern.compile("recommend\\((\\S+), 10\\) from (ALS v\\d+|the popularity list)").matcher(out);
    assertThat(rec.find()).as("the demo ends with a user's recommendations:\n" + tail(out)).isTrue();
    String after = out.substring(rec.end());
    assertThat(after.lines().skip(1).limit(10).filter(l -> l.matches("\\s+\\S+\\s+\\d\\.\\d{3}\\s+\\(model .*"))
        .count()).as("items listed after the recommend line").isPositive();
  }

  private static SparkSession reader() {
    if (reader == null) {
      reader = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false")
          .config("spark.driver.host", "127.0.0.1")
          .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
          .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
          .getOrCreate();
    }
    return reader;
  }

  private static String tail(String out) {
    List<String> lines = out.lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }
}
