package io.recsys.streaming.producer;

import io.recsys.contract.Event;
import io.recsys.contract.EventJson;
import io.recsys.contract.EventType;
import io.recsys.contract.ReasonCode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.UUID;
import org.apache.commons.math3.distribution.ZipfDistribution;
import org.apache.commons.math3.random.Well19937c;

/**
 * A deterministic synthetic clickstream (same seed, same records). Users visit in sessions that overlap in time;
 * a session views items drawn from a Zipf popularity curve, with a view → click → cart → purchase funnel,
 * occasional searches and cart removals. Event times spread over {@code span} and end at {@code end}.
 * Optionally: events emitted a little out of order, late events (event time minutes in the past, as from an
 * offline phone), and bad records of every quarantine reason in turn, each tagged with the reason it must get.
 */
public final class SyntheticClickstream implements Iterator<ProducedRecord> {

  /** Generator settings; {@link #defaults(long)} gives sensible ones for a number of records. */
  public record Config(long records, int users, int items, int categories, double zipfExponent, long seed,
      double badRatio, double lateRatio, double outOfOrderRatio, Instant end, Duration span) {

    public static Config defaults(long records) {
      return new Config(records, (int) Math.max(100, Math.min(50_000, records / 40)),
          (int) Math.max(200, Math.min(20_000, records / 50)), 20, 1.1, 42, 0.0, 0.0, 0.0,
          Instant.now().minusSeconds(5), Duration.ofHours(24));
    }

    public Config withBadRatio(double r) {
      return new Config(records, users, items, categories, zipfExponent, seed, r, lateRatio, outOfOrderRatio, end, span);
    }

    public Config withDisorder(double late, double outOfOrder) {
      return new Config(records, users, items, categories, zipfExponent, seed, badRatio, late, outOfOrder, end, span);
    }

    public Config withSeed(long s) {
      return new Config(records, users, items, categories, zipfExponent, s, badRatio, lateRatio, outOfOrderRatio, end, span);
    }

    public Config withTime(Instant e, Duration s) {
      return new Config(records, users, items, categories, zipfExponent, seed, badRatio, lateRatio, outOfOrderRatio, e, s);
    }
  }

  private static final String[] DEVICES = {"web", "ios", "android"};
  private static final String[] REFERRERS = {"direct", "search", "email", "social"};

  private final Config c;
  private final SplittableRandom rnd;
  private final ZipfDistribution itemPopularity;
  private final ZipfDistribution userActivity;
  private final long startMillis;
  private final double meanSessionGapMillis;
  private final PriorityQueue<Session> active = new PriorityQueue<>((a, b) -> Long.compare(a.nextTime, b.nextTime));
  private final Deque<ProducedRecord> held = new ArrayDeque<>();
  private final BadRecords bad = new BadRecords();
  private long nextSessionStart;
  private long emitted;
  private long sessionSeq;

  public SyntheticClickstream(Config config) {
    if (config.records() < 0 || config.badRatio() < 0 || config.badRatio() > 1) {
      throw new IllegalArgumentException("records must be >= 0 and badRatio in [0, 1]");
    }
    this.c = config;
    this.rnd = new SplittableRandom(config.seed());
    this.itemPopularity = new ZipfDistribution(new Well19937c(config.seed()), config.items(), config.zipfExponent());
    this.userActivity = new ZipfDistribution(new Well19937c(config.seed() + 1), config.users(), 0.8);
    this.startMillis = config.end().toEpochMilli() - config.span().toMillis();
    // about 8 events per session: sessions arrive so that the records fill the span
    this.meanSessionGapMillis = Math.max(1.0, config.span().toMillis() / Math.max(1.0, config.records() / 8.0));
    this.nextSessionStart = startMillis;
  }

  /** How many bad records of each reason were emitted so far. */
  public Map<ReasonCode, Long> injectedBadRecords() {
    return bad.injected();
  }

  @Override
  public boolean hasNext() {
    return emitted < c.records();
  }

  @Override
  public ProducedRecord next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    emitted++;
    long remaining = c.records() - emitted; // slots after this one: held records must fit in them
    if (!held.isEmpty() && (rnd.nextInt(8) == 0 || held.size() > remaining)) {
      return held.poll();
    }
    if (c.badRatio() > 0 && rnd.nextDouble() < c.badRatio()) {
      return bad();
    }
    ProducedRecord good = nextEvent();
    if (c.outOfOrderRatio() > 0 && rnd.nextDouble() < c.outOfOrderRatio() && held.size() < 64
        && held.size() < remaining) {
      held.add(good);
      emitted--; // not emitted yet: it comes out a few records later
      return next();
    }
    return good;
  }

  private ProducedRecord nextEvent() {
    Event e = nextGoodEvent();
    return new ProducedRecord(e.userId(), EventJson.toBytes(e), null);
  }

  private Event nextGoodEvent() {
    while (active.isEmpty() || nextSessionStart <= active.peek().nextTime) {
      active.add(new Session(nextSessionStart));
      nextSessionStart += (long) (-Math.log(1 - rnd.nextDouble()) * meanSessionGapMillis);
    }
    Session s = active.poll();
    Event e = s.step();
    if (!s.done()) {
      active.add(s);
    }
    if (c.lateRatio() > 0 && rnd.nextDouble() < c.lateRatio()) {
      long lateBy = Duration.ofMinutes(10 + rnd.nextInt(50)).toMillis();
      e = withTime(e, Math.max(startMillis, e.eventTimeMillis() - lateBy));
    }
    return e;
  }

  private ProducedRecord bad() {
    return bad.next(nextGoodEvent());
  }

  private Event event(Session s, EventType type, String item, Double price, Integer qty, String query) {
    Map<String, String> ctx = Map.of("device", s.device, "referrer", s.referrer, "page", type == EventType.SEARCH
        ? "search" : item == null ? "home" : "item/" + item);
    return new Event(new UUID(rnd.nextLong(), rnd.nextLong()).toString(), 1, type, s.user, s.id, item,
        item == null ? null : category(item), price, qty, null, query, s.nextTime, ctx);
  }

  private String category(String item) {
    return "c" + Math.floorMod(item.hashCode() * 31 + 7, c.categories());
  }

  private static double price(String item) {
    return Math.round((3 + Math.floorMod(item.hashCode(), 9700) / 100.0) * 100) / 100.0;
  }

  private static Event withTime(Event e, long t) {
    return new Event(e.eventId(), e.schemaVersion(), e.eventType(), e.userId(), e.sessionId(), e.itemId(),
        e.category(), e.price(), e.quantity(), e.rating(), e.query(), t, e.context());
  }

  /** One visit: a queue of planned steps, played one event at a time. */
  private final class Session {
    final String id = "s" + (++sessionSeq);
    final String user = "u" + userActivity.sample();
    final String device = DEVICES[rnd.nextInt(DEVICES.length)];
    final String referrer = REFERRERS[rnd.nextInt(REFERRERS.length)];
    final List<String> cart = new ArrayList<>();
    int remainingViews = 1 + (int) Math.min(30, -Math.log(1 - rnd.nextDouble()) * 5);
    long nextTime;
    String current;
    int stage; // 0: view or check out next, 1: a click follows, 2: an add-to-cart follows

    Session(long start) {
      this.nextTime = start;
    }

    Event step() {
      Event e;
      if (stage == 1) {
        e = event(this, EventType.CLICK, current, null, null, null);
        stage = rnd.nextDouble() < 0.3 ? 2 : 0;
      } else if (stage == 2) {
        cart.add(current);
        e = event(this, EventType.ADD_TO_CART, current, price(current), 1 + rnd.nextInt(2), null);
        stage = 0;
      } else if (remainingViews > 0) {
        remainingViews--;
        if (rnd.nextDouble() < 0.08) {
          e = event(this, EventType.SEARCH, null, null, null, category("i" + itemPopularity.sample()) + " shoes");
          stage = 0;
        } else {
          current = "i" + itemPopularity.sample();
          e = event(this, EventType.PAGE_VIEW, current, null, null, null);
          stage = rnd.nextDouble() < 0.35 ? 1 : 0;
        }
      } else {
        String item = cart.remove(cart.size() - 1); // not done() and nothing else planned: the cart has items
        if (rnd.nextDouble() < 0.15) {
          e = event(this, EventType.REMOVE_FROM_CART, item, null, 1, null);
        } else {
          e = event(this, EventType.PURCHASE, item, price(item), 1, null);
        }
      }
      nextTime += 2_000 + (long) (-Math.log(1 - rnd.nextDouble()) * 25_000);
      return e;
    }

    boolean done() {
      return remainingViews == 0 && cart.isEmpty() && stage == 0;
    }
  }
}
