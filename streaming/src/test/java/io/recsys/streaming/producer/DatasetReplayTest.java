package io.recsys.streaming.producer;

import static org.assertj.core.api.Assertions.assertThat;

import io.recsys.contract.Event;
import io.recsys.contract.EventType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The replayers on the real data sets: the full ones in ../shared/data when present (CI), else the samples kept
 * in data/samples (a fresh clone). Expected figures are those of each source, counted independently here.
 */
class DatasetReplayTest {

  static Path dataset(String name, String file) {
    Path shared = Path.of("..", "..", "shared", "data", name);
    return Files.exists(shared.resolve(file)) ? shared : Path.of("..", "data", "samples", name);
  }

  static long csvRows(Path file) throws IOException {
    try (var lines = Files.lines(file)) {
      return lines.count() - 1;
    }
  }

  @Test
  void movieLensRatingsBecomeRatingEventsInTimeOrder() throws IOException {
    Path dir = dataset("ml-latest-small", "ratings.csv");
    DatasetReplay.Replay r = DatasetReplay.movieLens(dir);
    List<Event> events = r.events();
    assertThat(events).hasSize((int) csvRows(dir.resolve("ratings.csv")));
    assertThat(events).allMatch(e -> e.eventType() == EventType.RATING && e.rating() != null && e.itemId() != null);
    assertThat(new HashSet<>(events.stream().map(Event::eventId).toList())).hasSize(events.size());
    for (int i = 1; i < events.size(); i++) {
      assertThat(events.get(i).eventTimeMillis()).isGreaterThanOrEqualTo(events.get(i - 1).eventTimeMillis());
    }
    // user 1 rated movie 1 (Toy Story, Adventure|Animation|...) 4.0 at 964982703
    Event first = events.stream().filter(e -> e.eventId().equals("ml-1-1-964982703")).findFirst().orElseThrow();
    assertThat(first.rating()).isEqualTo(4.0);
    assertThat(first.category()).isEqualTo("Adventure");
    assertThat(first.eventTimeMillis()).isEqualTo(Instant.ofEpochSecond(964982703).toEpochMilli());
  }

  @Test
  void onlineRetailLinesBecomePurchasesAndCancellationsRemovals() throws IOException {
    Path dir = dataset("online-retail", "online_retail.csv.gz");
    DatasetReplay.Replay r = DatasetReplay.onlineRetail(dir);
    long noCustomer = r.skipped().getOrDefault("no CustomerID", 0L);
    assertThat(noCustomer).isPositive();
    List<Event> events = r.events();
    long purchases = events.stream().filter(e -> e.eventType() == EventType.PURCHASE).count();
    long removals = events.stream().filter(e -> e.eventType() == EventType.REMOVE_FROM_CART).count();
    assertThat(purchases + removals).isEqualTo(events.size());
    assertThat(removals).isPositive();
    assertThat(events).filteredOn(e -> e.eventType() == EventType.REMOVE_FROM_CART)
        .allMatch(e -> e.sessionId().startsWith("C") && e.quantity() > 0);
    // the first line of the file: invoice 536365, 6 x 85123A at 2.55, customer 17850, 2010-12-01 08:26 London (GMT)
    Event first = events.get(0);
    assertThat(first.userId()).isEqualTo("17850");
    assertThat(first.itemId()).isEqualTo("85123A");
    assertThat(first.quantity()).isEqualTo(6);
    assertThat(first.price()).isEqualTo(2.55);
    assertThat(Instant.ofEpochMilli(first.eventTimeMillis())).isEqualTo(Instant.parse("2010-12-01T08:26:00Z"));
    if (dir.toString().contains("shared")) {
      // the full set: 541,909 lines, 135,080 without a customer
      assertThat(noCustomer).isEqualTo(135_080);
      assertThat(events).hasSize(541_909 - 135_080);
    }
  }
}
