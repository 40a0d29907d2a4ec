package io.recsys.batch.als;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.exp;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.unix_seconds;
import static org.apache.spark.sql.functions.when;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Implicit feedback for ALS from silver events: each event of a user on an item weighs by its type (view 1 <
 * click 2 < add to cart 4 < purchase 8; a rating counts its stars, 0.5-5, as confidence) and decays with age
 * (halved every {@code halfLife} before {@code asOf}); removals from cart and searches do not count. Summed per
 * (user, item) with the time of the last interaction.
 */
public final class Interactions {

  private Interactions() {}

  public static final Map<String, Double> DEFAULT_WEIGHTS =
      Map.of("page_view", 1.0, "click", 2.0, "add_to_cart", 4.0, "purchase", 8.0);

  /** (user_id, item_id, confidence, last_time) for events before {@code asOf}. */
  public static Dataset<Row> weighted(Dataset<Row> events, Map<String, Double> weights, Duration halfLife,
      Instant asOf) {
    Column weight = lit(null).cast("double");
    for (Map.Entry<String, Double> w : weights.entrySet()) {
      weight = when(col("event_type").equalTo(w.getKey()), lit(w.getValue())).otherwise(weight);
    }
    weight = when(col("event_type").equalTo("rating"), col("rating")).otherwise(weight);
    double ln2 = Math.log(2);
    Column ageSeconds = lit(asOf.getEpochSecond()).minus(unix_seconds(col("event_time")));
    Column decay = exp(ageSeconds.multiply(-ln2 / halfLife.toSeconds()));
    return events
        .filter(col("item_id").isNotNull().and(col("event_time").lt(java.sql.Timestamp.from(asOf))))
        .withColumn("_w", weight.multiply(decay))
        .filter(col("_w").isNotNull().and(col("_w").gt(0)))
        .groupBy("user_id", "item_id")
        .agg(sum("_w").as("confidence"), max("event_time").as("last_time"));
  }
}
