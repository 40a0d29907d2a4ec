package io.recsys.serving;

import io.recsys.serving.OnlineFeatureClient.FeatureValue;
import io.recsys.serving.OnlineFeatureClient.Status;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code recommend(user, k)}: the promoted ALS model's list for the user (view {@code user_recommendations}, which
 * the ALS job publishes) re-ranked with the user's real-time features, topped up from the popularity list, or the
 * popularity list alone for a user the model does not know (new, erased, or whose list is past its TTL).
 *
 * <p>Re-ranking, per candidate: {@code score = model_score + category_boost}, where model_score is the model's
 * score divided by the list's best (so 1 for the top item), and category_boost is {@code categoryBoost × (m − j)
 * / m} when the item's category is the j-th (0-based) of the user's m top categories of the last hour
 * ({@code user_interests_1h:top_categories}), else 0. Items the user bought in the last 24 h
 * ({@code user_recent_items:last_purchased_items}) are dropped: the published list already leaves out what was
 * bought before the model's as-of date, these are the purchases since. Popularity items that top up a short list
 * score {@code popularity_share × the lowest model_score of the user's list} (1 × share without one), so they
 * follow the user's own items unless a category boost lifts them.
 *
 * <p>Cost: one Redis round trip (the user's and the popularity row in one pipeline), then O(candidates) work.
 * Thread-safe.
 */
public final class Recommender {

  /** The reserved user_id of the popularity list (the ALS job's Recommendations.POPULAR_USER). */
  public static final String POPULAR_USER = "__popular__";
  public static final int DEFAULT_K = 10;
  public static final int MAX_K = 100;
  /** The weight of the real-time category boost, against model scores normalized to at most 1. */
  public static final double DEFAULT_CATEGORY_BOOST = 0.3;

  static final String ITEMS = "user_recommendations:items";
  static final String SCORES = "user_recommendations:scores";
  static final String CATEGORIES = "user_recommendations:categories";
  static final String VERSION = "user_recommendations:model_version";
  static final String TOP_CATEGORIES = "user_interests_1h:top_categories";
  static final String JUST_BOUGHT = "user_recent_items:last_purchased_items";
  static final List<String> REFS = List.of(ITEMS, SCORES, CATEGORIES, VERSION, TOP_CATEGORIES, JUST_BOUGHT);

  /** Where an item came from. */
  public enum Source { MODEL, POPULARITY }

  /** One recommended item: the score it is ranked by and what it is made of. */
  public record Item(String itemId, double score, double modelScore, String category, Source source,
      boolean categoryBoosted) {}

  /**
   * A user's recommendations, best first. {@code personalized} is false when the model has no list for the user;
   * {@code modelVersion} is that of the list used (null when nothing is published at all).
   */
  public record Recommendations(String userId, List<Item> items, String modelVersion, boolean personalized,
      List<String> droppedPurchased) {}

  private final OnlineFeatureClient client;
  private final double categoryBoost;

  public Recommender(OnlineFeatureClient client) {
    this(client, DEFAULT_CATEGORY_BOOST);
  }

  public Recommender(OnlineFeatureClient client, double categoryBoost) {
    this.client = client;
    this.categoryBoost = categoryBoost;
    client.plan(REFS); // fails now, naming the view, if the definitions lack the model or real-time views
  }

  /**
   * The user's top k.
   *
   * @throws IllegalArgumentException for an empty user id or k outside 1..{@value #MAX_K}
   */
  public Recommendations recommend(String userId, int k) {
    if (userId == null || userId.isBlank()) {
      throw new IllegalArgumentException("no user_id given");
    }
    if (k < 1 || k > MAX_K) {
      throw new IllegalArgumentException("k must be between 1 and " + MAX_K + ", got " + k);
    }
    List<Map<String, FeatureValue>> rows = client.get(List.of(userId, POPULAR_USER), REFS);
    Map<String, FeatureValue> user = rows.get(0);
    Map<String, FeatureValue> popular = rows.get(1);

    List<String> topCategories = list(user.get(TOP_CATEGORIES));
    Set<String> justBought = new HashSet<>(list(user.get(JUST_BOUGHT)));
    List<String> dropped = new ArrayList<>();
    List<Item> candidates = new ArrayList<>();
    Set<String> seen = new HashSet<>();

    boolean personalized = present(user.get(ITEMS));
    String version = personalized ? (String) user.get(VERSION).value()
        : present(popular.get(ITEMS)) ? (String) popular.get(VERSION).value() : null;
    double floor = 1.0;
    if (personalized) {
      floor = add(candidates, seen, dropped, user, justBought, topCategories, Source.MODEL, 1.0);
    }
    if (candidates.size() < k && present(popular.get(ITEMS))) {
      add(candidates, seen, dropped, popular, justBought, topCategories, Source.POPULARITY, floor);
    }
    List<Item> ranked = new ArrayList<>(candidates);
    ranked.sort(Comparator.comparingDouble(Item::score).reversed()); // stable: ties keep the published order
    return new Recommendations(userId, List.copyOf(ranked.subList(0, Math.min(k, ranked.size()))), version,
        personalized, List.copyOf(dropped));
  }

  /** Adds a published list's items as candidates; returns the lowest model_score added (1 when none). */
  private double add(List<Item> out, Set<String> seen, List<String> dropped, Map<String, FeatureValue> row,
      Set<String> justBought, List<String> topCategories, Source source, double scale) {
    List<String> items = list(row.get(ITEMS));
    List<Double> scores = doubles(row.get(SCORES));
    List<String> categories = list(row.get(CATEGORIES));
    double best = 0;
    for (Double s : scores) {
      best = Math.max(best, s == null ? 0 : s);
    }
    double lowest = 1.0;
    for (int i = 0; i < items.size(); i++) {
      String item = items.get(i);
      if (item == null || seen.contains(item)) {
        continue;
      }
      if (justBought.contains(item)) {
        if (!dropped.contains(item)) {
          dropped.add(item);
        }
        continue;
      }
      seen.add(item);
      double raw = i < scores.size() && scores.get(i) != null ? scores.get(i) : 0;
      // normalized to the list's best; by rank when the scores say nothing (all <= 0)
      double normalized = best > 0 ? Math.max(0, raw / best) : 1.0 - (double) i / items.size();
      double modelScore = normalized * scale;
      lowest = Math.min(lowest, modelScore);
      String category = i < categories.size() ? categories.get(i) : null;
      int j = category == null ? -1 : topCategories.indexOf(category);
      double boost = j < 0 ? 0 : categoryBoost * (topCategories.size() - j) / topCategories.size();
      out.add(new Item(item, modelScore + boost, modelScore, category, source, j >= 0));
    }
    return lowest;
  }

  private static boolean present(FeatureValue v) {
    return v != null && v.status() == Status.PRESENT && v.value() != null;
  }

  @SuppressWarnings("unchecked")
  private static List<String> list(FeatureValue v) {
    return present(v) ? (List<String>) v.value() : List.of();
  }

  @SuppressWarnings("unchecked")
  private static List<Double> doubles(FeatureValue v) {
    return present(v) ? (List<Double>) v.value() : List.of();
  }
}
