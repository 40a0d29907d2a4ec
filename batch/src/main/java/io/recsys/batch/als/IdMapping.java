package io.recsys.batch.als;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.row_number;

import io.delta.tables.DeltaTable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;

/**
 * A stable string -> int id mapping in a Delta table (key, id), as ALS needs int ids: ids once given never
 * change, so factors of one model version and the next refer to the same users and items; new keys get the next
 * ids in key order, so a re-run with the same keys adds nothing. One writer at a time (the nightly job).
 */
public final class IdMapping {

  private IdMapping() {}

  /** Adds the keys not yet mapped and returns the whole mapping (key, id). */
  public static Dataset<Row> extend(SparkSession spark, String path, Dataset<Row> keys) {
    Dataset<Row> wanted = keys.select(col("key")).filter(col("key").isNotNull()).distinct();
    boolean exists = DeltaTable.isDeltaTable(spark, path);
    Dataset<Row> existing = exists ? spark.read().format("delta").load(path) : null;
    long maxId = -1;
    if (exists) {
      Row m = existing.agg(max("id")).first();
      maxId = m.isNullAt(0) ? -1 : m.getInt(0);
    }
    Dataset<Row> fresh = exists ? wanted.join(existing, wanted.col("key").equalTo(existing.col("key")), "left_anti")
        : wanted;
    Dataset<Row> numbered = fresh.withColumn("id",
        lit(maxId).plus(row_number().over(Window.orderBy("key"))).cast("int"));
    long added = numbered.count();
    if (maxId + added >= Integer.MAX_VALUE) {
      throw new IllegalStateException(path + " would pass 2^31 ids, the limit of ALS's int ids");
    }
    if (added > 0 || !exists) {
      numbered.write().format("delta").mode(exists ? SaveMode.Append : SaveMode.Overwrite).save(path);
    }
    return spark.read().format("delta").load(path);
  }
}
