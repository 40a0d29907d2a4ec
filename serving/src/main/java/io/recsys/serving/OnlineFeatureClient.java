package io.recsys.serving;

import io.recsys.feast.FeastKeyCodec;
import io.recsys.feast.FeastValueCodec;
import io.recsys.features.Entity;
import io.recsys.features.Feature;
import io.recsys.features.FeatureDefinitions;
import io.recsys.features.FeatureView;
import io.recsys.online.OnlineStore;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads features from the Redis online store (Feast's layout) for serving code: many entities × many feature
 * references ({@code "view:feature"}) in one pipelined round trip, with a typed value and a status per value,
 * as Feast reports them: PRESENT, NOT_FOUND (no row of that view for the entity) or OUTSIDE_MAX_AGE (the row's
 * event time is older than the view's TTL).
 *
 * <p>Cost: one network round trip per {@link #get} call, one HMGET per entity. Thread-safe; build one per
 * application and close it at shutdown.
 */
public final class OnlineFeatureClient implements AutoCloseable {

  /** Feast's FieldStatus names for a value read online. */
  public enum Status { PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE }

  /** One value: the Java value (null unless PRESENT), its status and the view row's event time. */
  public record FeatureValue(Object value, Status status, Instant eventTime) {}

  private static final byte[] NO_BYTES = new byte[0];

  private final FeatureDefinitions definitions;
  private final OnlineStore store;
  private final Clock clock;

  public OnlineFeatureClient(String redisAddress, FeatureDefinitions definitions) {
    this(OnlineStore.connect(redisAddress), definitions, Clock.systemUTC());
  }

  OnlineFeatureClient(OnlineStore store, FeatureDefinitions definitions, Clock clock) {
    this.store = store;
    this.definitions = definitions;
    this.clock = clock;
  }

  public FeatureDefinitions definitions() {
    return definitions;
  }

  /** The hash-max-listpack-entries that README advises for the Redis of the online store. */
  public static final int ADVISED_LISTPACK_ENTRIES = 128;

  /**
   * What to change in Redis for these definitions, if anything: when an entity's hash has more fields than
   * {@value #ADVISED_LISTPACK_ENTRIES} (every feature of its views, plus one timestamp per view) and Redis still
   * keeps hashes that wide as listpacks, each HMGET scans the listpack once per field asked for. Empty when
   * nothing needs changing or Redis does not tell its configuration. The feature server logs it at start.
   */
  public Optional<String> redisAdvice() {
    Map<String, Integer> fields = new TreeMap<>();
    for (FeatureView v : definitions.views().values()) {
      fields.merge(v.entity(), v.features().size() + 1, Integer::sum);
    }
    Optional<Map.Entry<String, Integer>> widest = fields.entrySet().stream().max(Map.Entry.comparingByValue());
    if (widest.isEmpty() || widest.get().getValue() <= ADVISED_LISTPACK_ENTRIES) {
      return Optional.empty();
    }
    OptionalLong limit = store.hashListpackLimit();
    if (limit.isEmpty() || limit.getAsLong() < widest.get().getValue()) {
      return Optional.empty();
    }
    return Optional.of(String.format("Redis at %s keeps hashes of up to %d fields as listpacks, and entity '%s' "
        + "has %d fields in the feature definitions: each lookup scans its hash once per feature asked for. Set "
        + "hash-max-listpack-entries %d (CONFIG SET or redis.conf; hashes convert at their next write); see README, "
        + "\"Redis for the online store\".", store.address(), limit.getAsLong(), widest.get().getKey(),
        widest.get().getValue(), ADVISED_LISTPACK_ENTRIES));
  }

  /**
   * The features of every entity value, in one round trip. {@code featureRefs} are "view:feature" of views of
   * one entity (e.g. all user views); the result has one map per entity value, keyed by reference, in order.
   *
   * @throws IllegalArgumentException for an unknown reference or views of different entities
   */
  public List<Map<String, FeatureValue>> get(List<String> entityValues, List<String> featureRefs) {
    Plan plan = plan(featureRefs);
    List<List<StoredValue>> stored = lookup(entityValues, plan);
    List<Map<String, FeatureValue>> out = new ArrayList<>(entityValues.size());
    int n = plan.refs().size();
    for (List<StoredValue> values : stored) {
      Map<String, FeatureValue> row = new LinkedHashMap<>(n * 4 / 3 + 1); // sized once: no rehash while filling
      for (int i = 0; i < n; i++) {
        StoredValue v = values.get(i);
        Object java = v.status() == Status.PRESENT ? FeastValueCodec.toJava(v.bytes()) : null;
        row.put(plan.refs().get(i).ref(), new FeatureValue(java, v.status(), v.eventTime()));
      }
      out.add(row);
    }
    return out;
  }

  /**
   * One value as stored, not parsed: the bytes of its serialized Feast {@code feast.types.Value} when PRESENT
   * (empty for a stored null, as Feast writes the empty Value), no bytes otherwise; its status; and the view
   * row's event time (null when the view has no row). The bytes are Redis's reply itself, shared: do not change
   * them. {@link FeastValueCodec#decode} parses them; the gRPC server passes them on as they are.
   */
  public record StoredValue(byte[] bytes, Status status, Instant eventTime) {}

  /** A resolved feature reference. */
  public record Ref(String ref, FeatureView view, Feature feature) {}

  /**
   * What to read for a list of references of one entity: the hash fields (each feature's, then one "_ts:view"
   * per view) and, per reference, the index of its view's timestamp field. Built once per distinct list of
   * references and cached, so a lookup does no hashing or parsing of references.
   */
  public record Plan(Entity entity, List<Ref> refs, List<byte[]> fields, int[] tsFieldOfRef, int[] tsFields) {}

  private static final int CACHE_LIMIT = 1024;
  private final Map<List<String>, Plan> plans = new ConcurrentHashMap<>();
  private final Map<List<String>, List<Ref>> resolved = new ConcurrentHashMap<>();

  /**
   * The cached {@link Plan} for references of one entity's views.
   *
   * @throws IllegalArgumentException for an unknown reference or views of different entities
   */
  public Plan plan(List<String> featureRefs) {
    Plan p = plans.get(featureRefs);
    if (p == null) {
      p = buildPlan(resolve(featureRefs));
      if (plans.size() >= CACHE_LIMIT) {
        plans.clear();
      }
      plans.put(List.copyOf(featureRefs), p);
    }
    return p;
  }

  private Plan buildPlan(List<Ref> refs) {
    Entity entity = definitions.entities().get(refs.get(0).view().entity());
    List<byte[]> fields = new ArrayList<>();
    for (Ref r : refs) {
      if (!r.view().entity().equals(entity.name())) {
        throw new IllegalArgumentException("feature references mix entities " + entity.name() + " and "
            + r.view().entity() + "; ask for one entity per call");
      }
      fields.add(FeastKeyCodec.featureField(r.view().name(), r.feature().name()));
    }
    Map<String, Integer> tsIndex = new LinkedHashMap<>();
    int[] tsOfRef = new int[refs.size()];
    for (int i = 0; i < refs.size(); i++) {
      tsOfRef[i] = tsIndex.computeIfAbsent(refs.get(i).view().name(), v -> {
        fields.add(FeastKeyCodec.timestampField(v));
        return fields.size() - 1;
      });
    }
    int[] tsFields = tsIndex.values().stream().mapToInt(Integer::intValue).toArray();
    return new Plan(entity, List.copyOf(refs), List.copyOf(fields), tsOfRef, tsFields);
  }

  /**
   * Like {@link #get} but with the values as stored (serialized Feast protobufs), for servers: one list per
   * entity value, one {@link StoredValue} per reference of the plan, in order.
   */
  public List<List<StoredValue>> lookup(List<String> entityValues, Plan plan) {
    return decode(store.read(redisKeys(entityValues, plan), plan.fields()), plan);
  }

  /**
   * {@link #lookup} without blocking: the stage completes on Redisson's I/O thread (exceptionally with a
   * {@code RedisException} when Redis fails). The Feast gRPC server answers from it.
   */
  public CompletionStage<List<List<StoredValue>>> lookupAsync(List<String> entityValues, Plan plan) {
    return store.readAsync(redisKeys(entityValues, plan), plan.fields()).thenApply(stored -> decode(stored, plan));
  }

  private List<byte[]> redisKeys(List<String> entityValues, Plan plan) {
    List<byte[]> keys = new ArrayList<>(entityValues.size());
    for (String v : entityValues) {
      keys.add(FeastKeyCodec.redisKey(definitions.project(), plan.entity().joinKey(), v));
    }
    return keys;
  }

  private List<List<StoredValue>> decode(List<List<byte[]>> stored, Plan plan) {
    Instant now = clock.instant();
    List<Ref> refs = plan.refs();
    int[] tsOfRef = plan.tsFieldOfRef();
    Instant[] ts = new Instant[plan.fields().size()];
    List<List<StoredValue>> out = new ArrayList<>(stored.size());
    for (List<byte[]> values : stored) {
      for (int f : plan.tsFields()) {
        ts[f] = FeastValueCodec.decodeTimestamp(values.get(f)); // once per view, not per feature
      }
      List<StoredValue> row = new ArrayList<>(refs.size());
      for (int i = 0; i < refs.size(); i++) {
        Instant t = ts[tsOfRef[i]];
        byte[] raw = values.get(i);
        if (t == null || raw == null) {
          row.add(new StoredValue(NO_BYTES, Status.NOT_FOUND, t));
        } else if (t.plus(refs.get(i).view().ttl()).isBefore(now)) {
          row.add(new StoredValue(NO_BYTES, Status.OUTSIDE_MAX_AGE, t));
        } else {
          row.add(new StoredValue(raw, Status.PRESENT, t));
        }
      }
      out.add(row);
    }
    return out;
  }

  private volatile Recommender recommender;

  /**
   * The user's top k recommendations: the promoted model's list re-ranked with the user's real-time features,
   * with the popularity fallback ({@link Recommender}, default weights).
   *
   * @throws IllegalArgumentException for an empty user id, k outside 1..100, or definitions without the views
   */
  public Recommender.Recommendations recommend(String userId, int k) {
    Recommender r = recommender;
    if (r == null) {
      r = new Recommender(this);
      recommender = r;
    }
    return r.recommend(userId, k);
  }

  /** Round trip to Redis; false when it does not answer. */
  public boolean ping() {
    try {
      store.ping();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Every feature of the views, as references ("view:feature"). */
  public List<String> refsOf(String... views) {
    List<String> out = new ArrayList<>();
    for (String v : views) {
      FeatureView view = view(v);
      view.features().forEach(f -> out.add(view.name() + ":" + f.name()));
    }
    return out;
  }

  /**
   * Checks and resolves "view:feature" references.
   *
   * @throws IllegalArgumentException naming the unknown view or feature, or a malformed reference
   */
  public List<Ref> resolve(List<String> featureRefs) {
    List<Ref> cached = resolved.get(featureRefs);
    if (cached != null) {
      return cached;
    }
    List<Ref> refs = resolveUncached(featureRefs);
    if (resolved.size() >= CACHE_LIMIT) {
      resolved.clear();
    }
    resolved.put(List.copyOf(featureRefs), refs);
    return refs;
  }

  private List<Ref> resolveUncached(List<String> featureRefs) {
    if (featureRefs.isEmpty()) {
      throw new IllegalArgumentException("no feature references given; use \"view:feature\"");
    }
    List<Ref> refs = new ArrayList<>();
    for (String ref : featureRefs) {
      int colon = ref.indexOf(':');
      if (colon < 0) {
        throw new IllegalArgumentException("feature reference '" + ref + "' is not \"view:feature\"");
      }
      FeatureView view = view(ref.substring(0, colon));
      Feature f = view.feature(ref.substring(colon + 1));
      if (f == null) {
        throw new IllegalArgumentException("view " + view.name() + " has no feature '" + ref.substring(colon + 1)
            + "'; it has " + view.features().stream().map(Feature::name).toList());
      }
      refs.add(new Ref(ref, view, f));
    }
    return List.copyOf(refs);
  }

  private FeatureView view(String name) {
    FeatureView view = definitions.views().get(name);
    if (view == null) {
      throw new IllegalArgumentException("unknown feature view '" + name + "'; views: " + definitions.views().keySet());
    }
    return view;
  }

  @Override
  public void close() {
    store.close();
  }
}
