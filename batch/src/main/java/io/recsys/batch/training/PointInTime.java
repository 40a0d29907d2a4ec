package io.recsys.batch.training;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.monotonically_increasing_id;
import static org.apache.spark.sql.functions.row_number;

import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureView;
import io.recsys.spark.features.FeatureAggregations;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Window;

/**
 * Point-in-time-correct feature joins, as Feast's offline retrieval defines them: for each label row and each
 * view, the view's row for the label's entity with the latest {@code event_timestamp} at or before the label's
 * time, and no older than the view's TTL; otherwise nulls. A row's value only covers events up to its
 * event_timestamp (it is the window as of its last event), so nothing after the label's time leaks in.
 *
 * <p>Output: the label columns, then per view {@code <view>__<feature>} and {@code <view>__event_timestamp}.
 * Cost per view: one join of the labels with the view's log on the join key, and one window by label row.
 */
public final class PointInTime {

  private PointInTime() {}

  /**
   * @param labels rows with the entities' join key columns and {@code timeColumn}
   * @param logs the offline log of each view ({@code features.<view>}: join key, event_timestamp, features,
   *     created_timestamp)
   */
  public static Dataset<Row> join(Dataset<Row> labels, String timeColumn, List<FeatureView> views,
      Map<String, Entity> entities, Map<String, Dataset<Row>> logs) {
    Dataset<Row> out = labels.withColumn("_label", monotonically_increasing_id());
    for (FeatureView view : views) {
      Entity entity = entities.get(view.entity());
      String p = view.name() + "__";
      List<Column> picked = new ArrayList<>();
      picked.add(col(entity.joinKey()).as("_k"));
      picked.add(col(FeatureAggregations.EVENT_TIMESTAMP).as(p + "event_timestamp"));
      picked.add(col("created_timestamp").as("_created"));
      for (Feature f : view.features()) {
        picked.add(col(f.name()).as(p + f.name()));
      }
      Dataset<Row> log = logs.get(view.name()).select(picked.toArray(Column[]::new));
      Column ts = col(p + "event_timestamp");
      Column ttl = expr("INTERVAL " + view.ttl().toSeconds() + " SECONDS");
      // at or before the label's time, and younger than the view's TTL at that time
      Dataset<Row> candidates = out.select(col("_label"), col(entity.joinKey()).as("_lk"), col(timeColumn).as("_lt"))
          .join(log, col("_lk").equalTo(col("_k")).and(ts.leq(col("_lt"))).and(ts.gt(col("_lt").minus(ttl))))
          .withColumn("_n", row_number().over(Window.partitionBy("_label")
              .orderBy(ts.desc(), col("_created").desc())))
          .filter(col("_n").equalTo(1))
          .drop("_n", "_lk", "_k", "_lt", "_created");
      out = out.join(candidates, "_label", "left");
    }
    return out.drop("_label");
  }
}
