package io.recsys.streaming.online;

import io.recsys.spark.FeatureOptions;
import io.recsys.spark.features.OnlineViewsWrite;
import io.recsys.spark.features.OnlineWrite;
import io.recsys.spark.features.StatefulViewAggregation;
import io.recsys.spark.features.TopK;

import static org.apache.spark.sql.functions.col;

import io.recsys.features.FeatureDefinitionException;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.Entity;
import io.recsys.features.FeatureView;
import io.recsys.lake.LakeLayout;
import io.recsys.streaming.bronze.BronzeParse;
import io.recsys.streaming.bronze.BronzeSchema;
import io.recsys.streaming.bronze.ParserOptions;
import io.recsys.spark.JobRunner;
import io.recsys.streaming.common.KafkaAccess;
import io.recsys.spark.LakeAccess;
import io.recsys.spark.LakeOptions;
import io.recsys.spark.SchedulerPools;
import io.recsys.spark.Settings;
import io.recsys.spark.SparkSessions;
import io.recsys.streaming.common.SupervisedQuery;
import io.recsys.streaming.common.TriggerSpec;
import io.recsys.spark.UserError;
import io.recsys.streaming.metrics.ProgressListener;
import io.recsys.streaming.metrics.StreamProgressLog;
import io.recsys.streaming.metrics.StreamMetrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Kafka → the same {@link io.recsys.contract.EventParser} as bronze → one event-time aggregation per feature
 * view of the definitions file ({@link StatefulViewAggregation}, watermark on event_time, RocksDB state) → Redis in
 * Feast's layout (from the executors, stale-write protected) and the Delta offline log {@code features.<view>}.
 *
 * <pre>
 * spark-submit --class io.recsys.streaming.online.OnlineFeaturesJob recsys-app.jar \
 *     --lake s3a://bucket/lake --bootstrap broker:9092 --redis redis:6379 --trigger 10s
 * </pre>
 *
 * Cost: one streaming query per entity (user, item), each reading and parsing the topic once for its views
 * (Kafka serves the same bytes to each query); state per view is one aggregate buffer per active entity and
 * slide with events, dropped once the watermark passes the end of the last window holding it. Invalid records
 * are skipped here (bronze ingestion quarantines them).
 */
@Command(name = "online-features", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Compute the streaming feature views of features.yaml from Kafka into Redis (Feast layout) "
        + "and the Delta offline log.")
public final class OnlineFeaturesJob implements Callable<Integer> {

  private static final Logger LOG = LoggerFactory.getLogger(OnlineFeaturesJob.class);
  static final String OFFLINE_LOG_INTERVAL = "10s";
  /** In each view's checkpoint: the micro-batches waiting for the next offline-log append. */
  static final String SPOOL_DIR = "offline-log-spool";
  /** In each view's checkpoint: which engine's state it holds ({@link #checkEngine}). */
  static final String ENGINE_FILE = "_recsys_engine";
  static final String ENGINE = "panes-v2";
  private static final Pattern LATENESS = Pattern.compile("(\\d+)\\s*(s|m|h)");

  @Mixin LakeOptions lakeOptions = new LakeOptions();
  @Mixin ParserOptions parserOptions = new ParserOptions();
  /** --redis, --features, --views (spark.recsys.online.views). */
  @Mixin FeatureOptions featureOptions = new FeatureOptions();

  @Option(names = "--bootstrap", description = "Kafka bootstrap servers (spark.recsys.kafka.bootstrap).")
  String bootstrap;
  @Option(names = "--topic", description = "Topic to read (spark.recsys.kafka.topic; default events).")
  String topic;
  @Option(names = "--checkpoint", description = "Checkpoint root; each entity's query uses <root>/<entity>-views, "
      + "each view spools its offline-log rows in <root>/<view> "
      + "(spark.recsys.online.checkpoint; default <lake>/_checkpoints/online-features).")
  String checkpoint;
  @Option(names = "--trigger", description = "available-now, or an interval such as 10s "
      + "(spark.recsys.online.trigger; default 10s).")
  String trigger;
  @Option(names = "--max-offsets-per-trigger", description = "Records per micro-batch at most, 0 for no limit "
      + "(spark.recsys.online.maxOffsetsPerTrigger; default 0).")
  Long maxOffsetsPerTrigger;
  @Option(names = "--starting-offsets", description = "earliest or latest, for a new checkpoint only "
      + "(spark.recsys.online.startingOffsets; default earliest).")
  String startingOffsets;
  @Option(names = "--allowed-lateness", description = "How late (behind the latest event time seen) an event "
      + "may arrive and still count, e.g. 10m (spark.recsys.online.allowedLateness; default 10m).")
  String allowedLateness;
  @Option(names = "--redis-batch", description = "Rows per Redis pipeline (spark.recsys.online.redisBatch; "
      + "default 500).")
  Integer redisBatch;
  @Option(names = "--metrics-port", description = "Prometheus endpoint port, 0 any, -1 off "
      + "(spark.recsys.online.metricsPort; default 9465).")
  Integer metricsPort;
  @Option(names = "--kafka-option", description = "Extra Kafka consumer setting key=value, repeatable.")
  Map<String, String> kafkaOptions = new LinkedHashMap<>();

  public static void main(String[] args) {
    JobRunner.main(new OnlineFeaturesJob(), args);
  }

  @Override
  public Integer call() throws Exception {
    OnlineFeaturesConfig config = resolve(Settings.fromEnvironment());
    KafkaAccess.checkTopic(config.bootstrap(), config.topic(), config.kafkaOptions());
    FeatureOptions.checkRedis(config.redis(),
        "Start it (./run stack up prints the local one) or pass --redis host:port");
    SparkSession spark = SparkSessions.create("recsys online-features", LakeAccess.s3aSettings(config.s3Endpoint()));
    LakeAccess.check(spark, config.lake().root());
    try (StreamMetrics metrics = new StreamMetrics("online-features")) {
      if (config.metricsPort() >= 0) {
        metrics.serve(config.metricsPort());
      }
      List<SupervisedQuery> queries = run(spark, config, metrics);
      LOG.info("online-features running: {} views, {} topic {} -> {} and {}", queries.size(), config.bootstrap(),
          config.topic(), config.redis(), config.lake().root());
      for (SupervisedQuery q : queries) {
        q.awaitTermination();
      }
      return 0;
    } catch (org.apache.spark.sql.streaming.StreamingQueryException e) {
      throw UserError.of("An online-features query stopped: " + e.message(),
          "Fix the cause and run the job again; it resumes from " + config.checkpointRoot(), e);
    }
  }

  /**
   * Starts one supervised query per entity (computing its selected views) on an existing session; tests and the
   * demo call this.
   */
  public static List<SupervisedQuery> run(SparkSession spark, OnlineFeaturesConfig config, StreamMetrics metrics)
      throws TimeoutException {
    // RocksDB keeps window state off the JVM heap; it must be chosen before a checkpoint is first written.
    if (!spark.conf().contains("spark.sql.streaming.stateStore.providerClass")) {
      spark.conf().set("spark.sql.streaming.stateStore.providerClass",
          "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider");
    }
    // A micro-batch then uploads only the changes to the state, not RocksDB files: shorter batches, fresher
    // features. Spark reads checkpoints written either way, so it can be turned on for an existing job.
    if (!spark.conf().contains("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled")) {
      spark.conf().set("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true");
    }
    // Each micro-batch is cached for the moment of its writes and then dropped: compressing the cache's columns
    // (Spark's default) only costs CPU here, the statistics it gathers per column about 3% of the executors'
    // samples in a six-view profile (BENCHMARKS.md, freshness notes).
    if (!spark.conf().contains("spark.sql.inMemoryColumnarStorage.compressed")) {
      spark.conf().set("spark.sql.inMemoryColumnarStorage.compressed", "false");
    }
    TopK.register(spark);
    Duration interval = offlineLogInterval(spark);
    List<SupervisedQuery> out = new ArrayList<>();
    StreamProgressLog log = StreamProgressLog.open(spark, config.lake().opsStreamProgress());
    for (Map.Entry<String, List<FeatureView>> group : config.viewsByEntity().entrySet()) {
      String entity = group.getKey();
      List<FeatureView> views = group.getValue();
      String name = OnlineFeaturesConfig.queryName(entity);
      ProgressListener listener = new ProgressListener(metrics, name, p -> {
        long late = 0;
        for (var op : p.stateOperators()) {
          late += op.numRowsDroppedByWatermark();
        }
        if (late > 0) {
          // the entity's views share the query and its watermark: each missed those events
          for (FeatureView v : views) {
            metrics.recordLateRows(v.name(), late);
          }
        }
      }).recordTo(log == null ? null : log.acquire());
      spark.streams().addListener(listener);
      // one sink per run of the query: a restart first ends the last run's (its spooled offline-log rows)
      AtomicReference<EntityBatchWriter> sink = new AtomicReference<>();
      SupervisedQuery q = SupervisedQuery.start(name, () -> {
        closeQuietly(sink.getAndSet(null));
        return start(spark, config, entity, views, metrics, interval, sink);
      }, () -> {
        try {
          closeQuietly(sink.getAndSet(null));
        } finally {
          listener.detach(spark);
        }
      });
      listener.follow(q.query().id());
      out.add(q);
    }
    return out;
  }

  static StreamingQuery start(SparkSession spark, OnlineFeaturesConfig config, String entityName,
      List<FeatureView> views, StreamMetrics metrics, Duration offlineLogInterval,
      AtomicReference<EntityBatchWriter> sink) throws TimeoutException {
    Entity entity = config.definitions().entities().get(entityName);
    checkEngine(spark, config, entityName, views);
    var reader = KafkaAccess.readStream(spark, config.bootstrap(), config.topic(), config.startingOffsets(),
        config.maxOffsetsPerTrigger(), config.kafkaOptions());
    Dataset<Row> events = events(reader.load(), config)
        .withWatermark("event_time", config.allowedLateness().toSeconds() + " seconds");
    Dataset<Row> rows = StatefulViewAggregation.computeAll(events, views, entity);
    List<OnlineBatchWriter> writers = new ArrayList<>();
    for (FeatureView view : views) {
      OnlineWrite write = new OnlineWrite(config.redis(), config.definitions().project(), entity, view,
          config.redisBatch());
      writers.add(new OnlineBatchWriter(config.lake(), write, metrics,
          config.checkpoint(view) + "/" + SPOOL_DIR, offlineLogInterval));
    }
    EntityBatchWriter writer = new EntityBatchWriter(entity, views, writers, new OnlineViewsWrite(config.redis(),
        config.definitions().project(), entity, views, config.redisBatch()));
    sink.set(writer);
    var stream = rows.writeStream()
        .queryName(OnlineFeaturesConfig.queryName(entityName))
        .outputMode(OutputMode.Update())
        .option("checkpointLocation", config.checkpoint(entityName))
        .trigger(config.trigger().toTrigger())
        .foreachBatch(writer);
    // the query's thread inherits the pool: its micro-batches get task slots before the offline-log appends
    return SchedulerPools.run(spark.sparkContext(), SchedulerPools.STREAMS, stream::start);
  }

  /**
   * Makes sure an entity's checkpoint holds the state of this job's engine ({@link StatefulViewAggregation}) for
   * the same views, marking a new checkpoint with {@value #ENGINE_FILE} (the engine, then the views). Stops the
   * job with what to do, instead of Spark's state-schema error in the middle of the stream, when
   * <ul>
   *   <li>the checkpoint was made for other views (the operator's state holds those views' panes);</li>
   *   <li>it holds Spark's windowed-aggregation state, without the marker (versions before this engine), or a
   *       view's checkpoint of such a version is in the checkpoint root (they had one query per view);</li>
   *   <li>its marker names another engine: {@code panes-v1} kept one state map of rows per view, where
   *       {@value #ENGINE} keeps one map of encoded panes for all the views.</li>
   * </ul>
   */
  static void checkEngine(SparkSession spark, OnlineFeaturesConfig config, String entity, List<FeatureView> views) {
    String checkpoint = config.checkpoint(entity);
    String names = String.join(",", views.stream().map(FeatureView::name).toList());
    String expected = ENGINE + "\nviews: " + names;
    String fix = "Delete that folder (the views then start again from --starting-offsets; Redis keeps newer "
        + "values, older rows are skipped as stale) or pass another --checkpoint";
    try {
      org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(checkpoint);
      org.apache.hadoop.fs.FileSystem fs = dir.getFileSystem(spark.sparkContext().hadoopConfiguration());
      org.apache.hadoop.fs.Path marker = new org.apache.hadoop.fs.Path(dir, ENGINE_FILE);
      if (fs.exists(marker)) {
        String found;
        try (var in = fs.open(marker)) {
          found = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
        }
        if (found.equals(expected)) {
          return;
        }
        String[] lines = found.split("\n", 2);
        if (!lines[0].equals(ENGINE)) {
          throw UserError.of("The checkpoint " + checkpoint + " was written by engine '" + lines[0]
              + "', which this version does not run", fix);
        }
        throw UserError.of("The checkpoint " + checkpoint + " holds the state of the " + entity + " views "
            + (lines.length > 1 ? lines[1].replace("views: ", "") : "?") + "; this run computes " + names,
            "Run the same views (--views), or start these from a new checkpoint: " + fix);
      }
      for (FeatureView v : views) {
        org.apache.hadoop.fs.Path old = new org.apache.hadoop.fs.Path(config.checkpoint(v), "offsets");
        if (fs.exists(old)) {
          throw UserError.of("The checkpoint " + config.checkpoint(v) + " of view " + v.name() + " holds the "
              + "windowed-aggregation state of an earlier version of this job, which ran a query per view; this "
              + "version runs one per entity, checkpointed in " + checkpoint,
              "Delete " + config.checkpoint(v) + "/offsets, /commits, /state and /sources (the views then start "
                  + "again from --starting-offsets; Redis keeps newer values), or pass another --checkpoint");
        }
      }
      if (fs.exists(new org.apache.hadoop.fs.Path(dir, "offsets"))) {
        throw UserError.of("The checkpoint " + checkpoint + " holds no " + ENGINE_FILE + " marker: it was not "
            + "written by this version", fix);
      }
      try (var out = fs.create(marker, true)) {
        out.write((expected + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
    } catch (java.io.IOException e) {
      throw UserError.of("Cannot read or write " + checkpoint + ": " + e.getMessage(),
          "Check the lake's path and credentials");
    }
  }

  /**
   * How often the offline log is appended ({@code spark.recsys.online.offlineLogInterval}, default
   * {@value #OFFLINE_LOG_INTERVAL}; 0s: every micro-batch, as before the spool). See {@link OfflineLogSpool}.
   */
  public static Duration offlineLogInterval(SparkSession spark) {
    return duration(spark.conf().get("spark.recsys.online.offlineLogInterval", OFFLINE_LOG_INTERVAL),
        "spark.recsys.online.offlineLogInterval", "a duration such as 0s (every micro-batch), 30s or 5m");
  }

  private static void closeQuietly(EntityBatchWriter w) {
    if (w != null) {
      try {
        w.close();
      } catch (Exception e) { // also Spark's SparkException, checked in Java but not declared
        LOG.warn("could not end the offline-log writer cleanly: {}", e.getMessage());
      }
    }
  }

  /** Valid events of contract v1 from Kafka rows, in bronze.events' columns (the parser is bronze's). */
  static Dataset<Row> events(Dataset<Row> kafkaRows, OnlineFeaturesConfig config) {
    Column[] cols = BronzeSchema.EVENT_COLUMNS.stream().map(c -> col(c)).toArray(Column[]::new);
    return BronzeParse.parse(kafkaRows, config.parser(), System.currentTimeMillis())
        .filter(col(BronzeSchema.VALID)).select(cols);
  }

  OnlineFeaturesConfig resolve(Settings s) {
    LakeLayout layout = lakeOptions.layout(s);
    String servers = s.string(bootstrap, "spark.recsys.kafka.bootstrap", null);
    if (servers == null || servers.isBlank()) {
      throw UserError.of("No Kafka given", "Pass --bootstrap host:port (./run stack status prints the local one)");
    }
    String redisAddress = featureOptions.redis(s);
    FeatureDefinitions defs = featureOptions.definitions(s);
    List<FeatureView> selected =
        featureOptions.views(s, "spark.recsys.online.views", defs, FeatureView.Schedule.STREAMING);
    String starting = s.string(startingOffsets, "spark.recsys.online.startingOffsets", "earliest");
    if (!starting.equals("earliest") && !starting.equals("latest")) {
      throw UserError.badArgument("--starting-offsets", starting, "earliest or latest");
    }
    long maxOffsets = s.longValue(maxOffsetsPerTrigger, "spark.recsys.online.maxOffsetsPerTrigger", 0);
    if (maxOffsets < 0) {
      throw UserError.badArgument("--max-offsets-per-trigger", String.valueOf(maxOffsets), "0 or more");
    }
    int batch = s.intValue(redisBatch, "spark.recsys.online.redisBatch", 500);
    if (batch < 1) {
      throw UserError.badArgument("--redis-batch", String.valueOf(batch), "1 or more");
    }
    int port = s.intValue(metricsPort, "spark.recsys.online.metricsPort", 9465);
    if (port < -1 || port > 65535) {
      throw UserError.badArgument("--metrics-port", String.valueOf(port), "-1, 0 or a port number");
    }
    return new OnlineFeaturesConfig(layout, servers, s.string(topic, "spark.recsys.kafka.topic", "events"),
        redisAddress, defs, selected,
        s.string(checkpoint, "spark.recsys.online.checkpoint", layout.checkpoint("online-features")),
        TriggerSpec.parse(s.string(trigger, "spark.recsys.online.trigger", "10s")), maxOffsets, starting,
        lateness(s.string(allowedLateness, "spark.recsys.online.allowedLateness", "10m")), batch,
        parserOptions.resolve(s), port, lakeOptions.s3Endpoint(s), kafkaOptions);
  }

  static Duration lateness(String text) {
    return duration(text, "--allowed-lateness", "a duration such as 30s, 10m or 1h");
  }

  /** {@code <n>s}, {@code <n>m} or {@code <n>h}; anything else is a bad {@code what}. */
  private static Duration duration(String text, String what, String expected) {
    Matcher m = LATENESS.matcher(text.trim());
    if (!m.matches()) {
      throw UserError.badArgument(what, text, expected);
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      default -> Duration.ofHours(n);
    };
  }
}
