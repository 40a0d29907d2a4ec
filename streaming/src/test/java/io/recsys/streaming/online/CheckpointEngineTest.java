package io.recsys.streaming.online;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.recsys.features.FeatureView;
import io.recsys.spark.SparkTestSession;
import io.recsys.spark.UserError;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An entity query's checkpoint says which engine's state it holds and for which views: a new one is marked, the
 * same views are accepted, and other views, a checkpoint of the earlier per-view queries (Spark's windowed
 * aggregation) or of another engine stop the job with what to do, instead of Spark's state-schema error in the
 * middle of a stream.
 */
class CheckpointEngineTest {

  final SparkSession spark = SparkTestSession.get();

  static OnlineFeaturesConfig config(Path dir) {
    return OnlineFeaturesConfig.defaults(dir.resolve("lake").toUri().toString(), "localhost:9092", "localhost:6379");
  }

  static Path local(String uri) {
    return Path.of(java.net.URI.create(uri));
  }

  @Test
  void aNewCheckpointIsMarkedWithItsViewsAndAcceptedForTheSameViewsOnly(@TempDir Path dir) throws Exception {
    OnlineFeaturesConfig config = config(dir);
    List<FeatureView> views = List.of(config.definitions().view("user_activity_5m"),
        config.definitions().view("user_session"));
    OnlineFeaturesJob.checkEngine(spark, config, "user", views);
    Path cp = local(config.checkpoint("user"));
    assertThat(Files.readString(cp.resolve(OnlineFeaturesJob.ENGINE_FILE)))
        .startsWith(OnlineFeaturesJob.ENGINE + "\n").contains("views: user_activity_5m,user_session");
    Files.createDirectories(cp.resolve("offsets"));
    OnlineFeaturesJob.checkEngine(spark, config, "user", views);

    assertThatThrownBy(() -> OnlineFeaturesJob.checkEngine(spark, config, "user", views.subList(0, 1)))
        .isInstanceOf(UserError.class)
        .hasMessageContaining("holds the state of the user views user_activity_5m,user_session")
        .hasMessageContaining("this run computes user_activity_5m").hasMessageContaining("--views");
  }

  @Test
  void checkpointsOfTheEarlierPerViewQueriesStopTheJobWithWhatToDo(@TempDir Path dir) throws Exception {
    OnlineFeaturesConfig config = config(dir);
    FeatureView view = config.definitions().view("user_activity_5m");
    Path old = Files.createDirectories(local(config.checkpoint(view)).resolve("offsets")).getParent();
    assertThatThrownBy(() -> OnlineFeaturesJob.checkEngine(spark, config, "user", List.of(view)))
        .isInstanceOf(UserError.class)
        .hasMessageContaining(config.checkpoint(view)).hasMessageContaining("earlier version")
        .hasMessageContaining("query per view").hasMessageContaining("Delete");
    assertThat(local(config.checkpoint("user")).resolve(OnlineFeaturesJob.ENGINE_FILE)).doesNotExist();
    Files.delete(old.resolve("offsets"));

    // Spark's state without the marker, and another engine's marker
    Path cp = Files.createDirectories(local(config.checkpoint("user")).resolve("offsets")).getParent();
    assertThatThrownBy(() -> OnlineFeaturesJob.checkEngine(spark, config, "user", List.of(view)))
        .isInstanceOf(UserError.class).hasMessageContaining("no " + OnlineFeaturesJob.ENGINE_FILE);
    Files.writeString(cp.resolve(OnlineFeaturesJob.ENGINE_FILE), "windows-v9\n");
    assertThatThrownBy(() -> OnlineFeaturesJob.checkEngine(spark, config, "user", List.of(view)))
        .isInstanceOf(UserError.class).hasMessageContaining("'windows-v9'");

    // the first panes engine kept a map of rows per view; this one keeps one map of bytes for all the views
    Files.writeString(cp.resolve(OnlineFeaturesJob.ENGINE_FILE), "panes-v1\nviews: user_activity_5m\n");
    assertThatThrownBy(() -> OnlineFeaturesJob.checkEngine(spark, config, "user", List.of(view)))
        .isInstanceOf(UserError.class).hasMessageContaining("'panes-v1'").hasMessageContaining("Delete that folder");
  }
}
