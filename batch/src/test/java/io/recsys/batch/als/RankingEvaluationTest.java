package io.recsys.batch.als;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.recsys.spark.SparkTestSession;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** The metrics on a case small enough to compute by hand (the arithmetic is in the comments). */
class RankingEvaluationTest {

  static final SparkSession spark = SparkTestSession.get();
  static final StructType SCHEMA = new StructType().add("user_id", DataTypes.StringType)
      .add("items", DataTypes.createArrayType(DataTypes.StringType));

  static Dataset<Row> frame(Object[]... rows) {
    return spark.createDataFrame(java.util.Arrays.stream(rows).map(r -> RowFactory.create(r[0], r[1])).toList(),
        SCHEMA);
  }

  @Test
  void precisionRecallNdcgMapAndCoverageAtThree() {
    Dataset<Row> recommended = frame(
        new Object[] {"a", new String[] {"i1", "i2", "i3", "i7"}}, // only the first 3 count
        new Object[] {"b", new String[] {"i4", "i5", "i6"}});
    Dataset<Row> relevant = frame(
        new Object[] {"a", new String[] {"i1", "i3"}},
        new Object[] {"b", new String[] {"i6"}},
        new Object[] {"c", new String[] {"i9"}}); // held-out items but no recommendations: scores 0
    RankingEvaluation.Metrics m = RankingEvaluation.evaluate(recommended, relevant, 3, 10);

    // a: hits at ranks 1 and 3.  P = 2/3, R = 2/2, DCG = 1/log2(2) + 1/log2(4) = 1.5,
    //    IDCG = 1 + 1/log2(3) = 1.63093, NDCG = 0.91972, AP = (1/1 + 2/3) / min(3, 2) = 0.83333
    // b: hit at rank 3.  P = 1/3, R = 1, NDCG = (1/log2(4)) / 1 = 0.5, AP = (1/3) / 1 = 0.33333
    // c: all 0.  Means over the 3 users:
    assertThat(m.users()).isEqualTo(3);
    assertThat(m.precision()).isCloseTo((2.0 / 3 + 1.0 / 3) / 3, within(1e-9));
    assertThat(m.recall()).isCloseTo(2.0 / 3, within(1e-9));
    double ndcgA = 1.5 / (1 + 1 / (Math.log(3) / Math.log(2)));
    assertThat(m.ndcg()).isCloseTo((ndcgA + 0.5) / 3, within(1e-9));
    assertThat(m.ndcg()).isCloseTo(0.47324, within(1e-5));
    assertThat(m.map()).isCloseTo((5.0 / 6 + 1.0 / 3) / 3, within(1e-9));
    // top-3 items recommended to anyone: i1..i6 of a catalogue of 10
    assertThat(m.coverage()).isCloseTo(0.6, within(1e-9));
  }

  @Test
  void nobodyToScoreGivesZeroUsersNotAnError() {
    RankingEvaluation.Metrics m = RankingEvaluation.evaluate(frame(new Object[] {"a", new String[] {"i1"}}),
        frame(new Object[][] {}), 10, 5);
    assertThat(m.users()).isZero();
    assertThat(List.of(m.precision(), m.recall(), m.ndcg(), m.map())).containsOnly(0.0);
  }
}
