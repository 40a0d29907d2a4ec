package io.recsys.spark.features;

import io.recsys.feast.FeastValueCodec;
import io.recsys.features.Entity;
import io.recsys.features.FeatureView;
import io.recsys.online.OnlineRow;
import io.recsys.online.OnlineStore;
import java.io.Serializable;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Compares the online store with expected rows (one {@link FeatureAggregations} row per entity, the latest), from
 * the executors: each partition encodes its rows in Feast's layout, reads the same fields back from Redis in one
 * pipeline per {@code batchSize} entities, and counts, by the stored {@code _ts} against the expected event time:
 * MATCH (same time, same bytes), MISMATCH (same time, other bytes: a late event changed the window), STALE (the
 * store is older: events it never saw), NEWER (the store moved on past the recomputed range: not comparable) and
 * MISSING (no row of the view). Only counts and a few sample entity values reach the driver.
 */
public record OnlineCheck(String redis, String project, Entity entity, FeatureView view, int batchSize)
    implements Serializable {

  static final StructType STATS = new StructType()
      .add("checked", DataTypes.LongType).add("match", DataTypes.LongType).add("mismatch", DataTypes.LongType)
      .add("stale", DataTypes.LongType).add("newer", DataTypes.LongType).add("missing", DataTypes.LongType)
      .add("samples", DataTypes.createArrayType(DataTypes.StringType));

  /** Totals of one check; {@code samples} are entity values that differ (mismatch or stale), at most 10. */
  public record Result(long checked, long match, long mismatch, long stale, long newer, long missing,
      List<String> samples) {

    /** Entities whose online value is wrong for the recomputed range. */
    public long wrong() {
      return mismatch + stale + missing;
    }
  }

  public Result run(Dataset<Row> expected) {
    List<Row> parts = expected.mapPartitions(new CheckPartition(this), Encoders.row(STATS)).collectAsList();
    long[] t = new long[6];
    List<String> samples = new ArrayList<>();
    for (Row r : parts) {
      for (int i = 0; i < 6; i++) {
        t[i] += r.getLong(i);
      }
      for (Object s : r.getList(6)) {
        if (samples.size() < 10) {
          samples.add((String) s);
        }
      }
    }
    return new Result(t[0], t[1], t[2], t[3], t[4], t[5], samples);
  }

  static final class CheckPartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private final OnlineCheck c;

    CheckPartition(OnlineCheck c) {
      this.c = c;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
      long[] t = new long[6];
      List<String> samples = new ArrayList<>();
      if (input.hasNext()) {
        OnlineStore store = OnlineStore.shared(c.redis());
        List<OnlineRow> rows = new ArrayList<>(c.batchSize());
        List<String> keys = new ArrayList<>(c.batchSize());
        while (input.hasNext()) {
          Row r = input.next();
          String key = r.getAs(c.entity().joinKey()).toString();
          Instant time = ((Timestamp) r.getAs(FeatureAggregations.EVENT_TIMESTAMP)).toInstant();
          rows.add(OnlineRow.encode(c.project(), c.entity(), c.view(), key, time,
              OnlineWrite.values(r, c.view().features())));
          keys.add(key);
          if (rows.size() >= c.batchSize() || !input.hasNext()) {
            compare(store, rows, keys, t, samples);
            rows.clear();
            keys.clear();
          }
        }
      }
      return List.<Row>of(RowFactory.create(t[0], t[1], t[2], t[3], t[4], t[5], samples.toArray(String[]::new)))
          .iterator();
    }

    private static void compare(OnlineStore store, List<OnlineRow> rows, List<String> keys, long[] t,
        List<String> samples) {
      OnlineRow first = rows.get(0);
      List<byte[]> fields = new ArrayList<>();
      for (int i = 0; i < first.fieldsAndValues().length; i += 2) {
        fields.add(first.fieldsAndValues()[i]);
      }
      fields.add(first.timestampField());
      List<byte[]> redisKeys = rows.stream().map(OnlineRow::key).toList();
      List<List<byte[]>> stored = store.read(redisKeys, fields);
      for (int k = 0; k < rows.size(); k++) {
        OnlineRow want = rows.get(k);
        List<byte[]> got = stored.get(k);
        t[0]++;
        Instant onlineTime = FeastValueCodec.decodeTimestamp(got.get(got.size() - 1));
        int state;
        if (onlineTime == null) {
          state = 5;
        } else if (onlineTime.isAfter(want.eventTime())) {
          state = 4;
        } else if (onlineTime.isBefore(want.eventTime())) {
          state = 3;
        } else {
          boolean same = true;
          for (int i = 1, f = 0; i < want.fieldsAndValues().length; i += 2, f++) {
            same &= Arrays.equals(want.fieldsAndValues()[i], got.get(f));
          }
          state = same ? 1 : 2;
        }
        t[state]++;
        if ((state == 2 || state == 3) && samples.size() < 10) {
          samples.add(keys.get(k));
        }
      }
    }
  }
}
