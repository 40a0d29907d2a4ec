package io.recsys.online;

import io.recsys.feast.FeastKeyCodec;
import io.recsys.feast.FeastValueCodec;
import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureView;
import java.time.Instant;
import java.util.List;

/**
 * One feature view row of one entity, encoded for Feast's Redis layout: the key, the view's "_ts" field and
 * Timestamp, and the (field, Value) pairs. Build it with {@link #encode}.
 */
public record OnlineRow(byte[] key, byte[] timestampField, Instant eventTime, byte[][] fieldsAndValues) {

  /**
   * Encodes a row of {@code view}: {@code values} are the features' Java values in the view's feature order
   * (null for a missing value).
   */
  public static OnlineRow encode(String project, Entity entity, FeatureView view, String entityValue,
      Instant eventTime, List<?> values) {
    List<Feature> features = view.features();
    if (values.size() != features.size()) {
      throw new IllegalArgumentException("view " + view.name() + " has " + features.size() + " features, got "
          + values.size() + " values");
    }
    byte[][] fv = new byte[features.size() * 2][];
    for (int i = 0; i < features.size(); i++) {
      Feature f = features.get(i);
      fv[2 * i] = FeastKeyCodec.featureField(view.name(), f.name());
      fv[2 * i + 1] = FeastValueCodec.encode(f.valueType(), values.get(i));
    }
    return new OnlineRow(FeastKeyCodec.redisKey(project, entity.joinKey(), entityValue),
        FeastKeyCodec.timestampField(view.name()), eventTime, fv);
  }
}
