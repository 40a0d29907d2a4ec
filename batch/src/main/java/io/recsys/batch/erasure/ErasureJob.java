package io.recsys.batch.erasure;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sha2;

import io.delta.tables.DeltaTable;
import io.recsys.batch.als.AlsJob;
import io.recsys.batch.als.Recommendations;
import io.recsys.batch.gold.GoldFeaturesJob;
import io.recsys.batch.training.TrainingSetJob;
import io.recsys.feast.FeastKeyCodec;
import io.recsys.features.Entity;
import io.recsys.features.FeatureDefinitions;
import io.recsys.lake.LakeLayout;
import io.recsys.online.OnlineStore;
import io.recsys.spark.FeatureOptions;
import io.recsys.spark.JobRunner;
import io.recsys.spark.LakeAccess;
import io.recsys.spark.LakeOptions;
import io.recsys.spark.Settings;
import io.recsys.spark.SparkSessions;
import io.recsys.spark.UserError;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * GDPR erasure of users, in one request: their rows are deleted from every Delta table that holds them (bronze
 * events, quarantined records by Kafka key, silver, the user views' offline logs, gold user features,
 * recommendations, training sets, the ALS id mapping), their Redis hash (every online feature at once), and
 * their factors from every saved ALS model version. Their ids are kept only as SHA-256 in
 * {@code ops/erased_users}, which silver consults, so a replay of old Kafka data cannot bring them back into
 * training; {@code ops/erasure_audit} gets one row with the counts, not the ids. Delta keeps the deleted rows in
 * old files until VACUUM: run the maintenance job (with {@code --allow-short-retention --retain-hours 0} when the
 * deadline does not allow the 7-day retention) and nothing of them remains.
 */
@Command(name = "erase", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Erase users from the lake, the online store and the ALS models, with an audit row.")
public final class ErasureJob implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(ErasureJob.class);

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin FeatureOptions featureOptions = new FeatureOptions();
  @Option(names = "--users", split = ",", description = "User ids to erase, comma-separated.")
  List<String> users;
  @Option(names = "--users-file", description = "A file with one user id per line.")
  java.nio.file.Path usersFile;

  public record Config(LakeLayout lake, FeatureDefinitions definitions, String redis, List<String> users) {}

  /** What was deleted: rows per table, Redis keys, ALS factors per model version. */
  public record Result(String requestId, Map<String, Long> rows, long redisKeys, Map<String, Long> factors) {}

  public static void main(String[] args) {
    JobRunner.main(new ErasureJob(), args);
  }

  @Override
  public Integer call() throws IOException {
    Settings s = Settings.fromEnvironment();
    List<String> ids = new ArrayList<>(users == null ? List.of() : users);
    if (usersFile != null) {
      if (!Files.isRegularFile(usersFile)) {
        throw UserError.of("--users-file " + usersFile + " is not a file", "Give a file with one user id per line");
      }
      Files.readAllLines(usersFile).stream().map(String::trim).filter(l -> !l.isEmpty()).forEach(ids::add);
    }
    ids = ids.stream().map(String::trim).filter(u -> !u.isEmpty()).distinct().toList();
    if (ids.isEmpty()) {
      throw UserError.of("No user ids given", "Pass --users u1,u2 or --users-file FILE");
    }
    Config c = new Config(lakeOptions.layout(s), featureOptions.definitions(s), featureOptions.redis(s), ids);
    SparkSession spark = SparkSessions.create("recsys erase", LakeAccess.s3aSettings(lakeOptions.s3Endpoint(s)));
    LakeAccess.check(spark, c.lake().root());
    Result r = run(spark, c);
    System.out.printf("erasure %s: %d users; rows deleted %s; Redis keys %d; ALS factors %s. Run the maintenance "
        + "job's VACUUM to remove the old files.%n", r.requestId(), ids.size(), r.rows(), r.redisKeys(), r.factors());
    return 0;
  }

  public static Result run(SparkSession spark, Config c) throws IOException {
    LakeLayout lake = c.lake();
    String requestId = UUID.randomUUID().toString();
    Dataset<Row> erased = spark.createDataset(c.users(), org.apache.spark.sql.Encoders.STRING()).toDF("user_id");
    Column inList = col("user_id").isin(c.users().toArray());
    Map<String, Long> rows = new LinkedHashMap<>();

    // the ALS ids first: the factors are keyed by them, and the mapping is erased below
    String userIds = lake.root() + "/gold/als_user_ids";
    List<Integer> alsIds = new ArrayList<>();
    if (DeltaTable.isDeltaTable(spark, userIds)) {
      spark.read().format("delta").load(userIds).filter(col("key").isin(c.users().toArray()))
          .collectAsList().forEach(r -> alsIds.add(r.getInt(r.fieldIndex("id"))));
      rows.put(userIds, delete(spark, userIds, col("key").isin(c.users().toArray())));
    }

    List<String> userTables = new ArrayList<>(List.of(lake.bronzeEvents(), lake.silverEvents(),
        GoldFeaturesJob.table(lake, "user"), Recommendations.recommendationsTable(lake)));
    Entity user = c.definitions().entities().values().stream().filter(e -> e.joinKey().equals("user_id"))
        .findFirst().orElse(null);
    c.definitions().views().values().stream().filter(v -> user != null && v.entity().equals(user.name()))
        .forEach(v -> userTables.add(lake.features(v.name())));
    userTables.addAll(TrainingSetJob.all(spark, lake));
    for (String t : userTables) {
      if (DeltaTable.isDeltaTable(spark, t)) {
        rows.put(t, delete(spark, t, inList));
      }
    }
    if (DeltaTable.isDeltaTable(spark, lake.bronzeQuarantine())) {
      Object[] keys = c.users().stream().map(u -> u.getBytes(StandardCharsets.UTF_8)).toArray();
      Column byKey = lit(false);
      for (Object k : keys) {
        byKey = byKey.or(col("raw_key").equalTo(lit(k)));
      }
      rows.put(lake.bronzeQuarantine(), delete(spark, lake.bronzeQuarantine(), byKey));
    }

    long redisKeys = 0;
    if (user != null) {
      try (OnlineStore store = OnlineStore.connect(c.redis())) {
        redisKeys = store.delete(c.users().stream()
            .map(u -> FeastKeyCodec.redisKey(c.definitions().project(), user.joinKey(), u)).toList());
      }
    }

    Map<String, Long> factors = eraseFactors(spark, lake, alsIds);

    // remembered by hash only, so silver keeps them out; and the audit row, without ids
    erased.select(sha2(col("user_id"), 256).as("user_sha256"))
        .withColumn("erased_at", lit(Timestamp.from(Instant.now())))
        .withColumn("request_id", lit(requestId))
        .write().format("delta").mode(SaveMode.Append).save(lake.opsErasedUsers());
    StructType audit = new StructType().add("request_id", DataTypes.StringType)
        .add("requested_at", DataTypes.TimestampType).add("users", DataTypes.IntegerType)
        .add("rows_deleted", DataTypes.createMapType(DataTypes.StringType, DataTypes.LongType))
        .add("redis_keys_deleted", DataTypes.LongType)
        .add("als_factors_deleted", DataTypes.createMapType(DataTypes.StringType, DataTypes.LongType));
    spark.createDataFrame(List.of(RowFactory.create(requestId, Timestamp.from(Instant.now()), c.users().size(),
            scala.jdk.javaapi.CollectionConverters.asScala(rows), redisKeys,
            scala.jdk.javaapi.CollectionConverters.asScala(factors))), audit)
        .write().format("delta").mode(SaveMode.Append).save(lake.opsErasureAudit());
    Result r = new Result(requestId, rows, redisKeys, factors);
    LOG.info("erasure {}", r);
    return r;
  }

  private static long delete(SparkSession spark, String path, Column condition) {
    long n = spark.read().format("delta").load(path).filter(condition).count();
    if (n > 0) {
      DeltaTable.forPath(spark, path).delete(condition);
    }
    return n;
  }

  /** Rewrites userFactors of every saved model version without the ids; returns factors removed per version. */
  private static Map<String, Long> eraseFactors(SparkSession spark, LakeLayout lake, List<Integer> ids)
      throws IOException {
    Map<String, Long> out = new LinkedHashMap<>();
    Path root = new Path(AlsJob.modelsRoot(lake));
    FileSystem fs = root.getFileSystem(spark.sparkContext().hadoopConfiguration());
    if (ids.isEmpty() || !fs.exists(root)) {
      return out;
    }
    for (FileStatus version : fs.listStatus(root)) {
      Path factors = new Path(version.getPath(), "model/userFactors");
      if (!version.isDirectory() || !fs.exists(factors)) {
        continue;
      }
      Dataset<Row> all = spark.read().parquet(factors.toString());
      long n = all.filter(col("id").isin(ids.toArray())).count();
      if (n > 0) {
        Path tmp = new Path(version.getPath(), "model/userFactors.erasing");
        all.filter(col("id").isin(ids.toArray()).unary_$bang()).write().mode(SaveMode.Overwrite)
            .parquet(tmp.toString());
        fs.delete(factors, true);
        if (!fs.rename(tmp, factors)) {
          throw new IOException("cannot rename " + tmp + " to " + factors);
        }
      }
      out.put(version.getPath().getName(), n);
    }
    return out;
  }
}
