package io.recsys.spark.features;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.types.DataTypes;
import scala.collection.Iterator;
import scala.collection.Seq;

/**
 * {@code recsys_top_k(values, k)}: the k most frequent non-null values, most frequent first, ties by value, so
 * the result does not depend on the order Spark collected them in. Registered by {@link #register}.
 */
public final class TopK implements UDF2<Seq<String>, Integer, List<String>> {

  private static final long serialVersionUID = 1L;
  public static final String NAME = "recsys_top_k";

  public static void register(SparkSession spark) {
    spark.udf().register(NAME, new TopK(), DataTypes.createArrayType(DataTypes.StringType));
  }

  @Override
  public List<String> call(Seq<String> values, Integer k) {
    if (values == null) {
      return List.of();
    }
    Map<String, Integer> counts = new HashMap<>();
    for (Iterator<String> it = values.iterator(); it.hasNext(); ) {
      String v = it.next();
      if (v != null) {
        counts.merge(v, 1, Integer::sum);
      }
    }
    List<Map.Entry<String, Integer>> entries = new ArrayList<>(counts.entrySet());
    entries.sort(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
    List<String> out = new ArrayList<>(Math.min(k, entries.size()));
    for (int i = 0; i < entries.size() && i < k; i++) {
      out.add(entries.get(i).getKey());
    }
    return out;
  }
}
