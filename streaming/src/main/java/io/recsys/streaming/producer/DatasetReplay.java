package io.recsys.streaming.producer;

import io.recsys.contract.Event;
import io.recsys.contract.EventJson;
import io.recsys.contract.EventType;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVRecord;

/**
 * Replays the real data sets as events, in event-time order (ties keep file order). Event ids are derived from
 * the source rows, so replaying a set twice produces the same ids (silver deduplicates them).
 *
 * <ul>
 *   <li>MovieLens ratings.csv → rating events (item = movieId, category = first genre in movies.csv).
 *   <li>UCI Online Retail → purchase events per invoice line; cancellations (invoice C...) as remove_from_cart
 *       with the absolute quantity; session = invoice. Lines without a CustomerID are skipped and counted. Other
 *       odd lines (negative quantity, negative price) are sent as they are: bronze quarantines them.
 * </ul>
 */
public final class DatasetReplay {

  /** Events of a replay, and how many source rows were skipped (with why). */
  public record Replay(List<Event> events, Map<String, Long> skipped) {}

  private static final CSVFormat CSV = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).get();
  private static final ZoneId SHOP_ZONE = ZoneId.of("Europe/London");
  private static final DateTimeFormatter RETAIL_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

  private DatasetReplay() {}

  /** MovieLens ml-latest-small (or any MovieLens folder with ratings.csv and movies.csv). */
  public static Replay movieLens(Path dir) throws IOException {
    Map<String, String> genre = new HashMap<>();
    try (Reader r = reader(dir.resolve("movies.csv"))) {
      for (CSVRecord rec : CSV.parse(r)) {
        String g = rec.get("genres");
        genre.put(rec.get("movieId"), g.isEmpty() ? null : g.split("\\|")[0]);
      }
    }
    List<Event> events = new ArrayList<>();
    try (Reader r = reader(dir.resolve("ratings.csv"))) {
      for (CSVRecord rec : CSV.parse(r)) {
        String user = rec.get("userId");
        String movie = rec.get("movieId");
        String ts = rec.get("timestamp");
        long millis = Long.parseLong(ts) * 1000;
        events.add(new Event("ml-" + user + "-" + movie + "-" + ts, 1, EventType.RATING, user, null, movie,
            genre.get(movie), null, null, Double.parseDouble(rec.get("rating")), null, millis, Map.of()));
      }
    }
    events.sort(Comparator.comparingLong(Event::eventTimeMillis));
    return new Replay(events, Map.of());
  }

  /** UCI Online Retail, as online_retail.csv.gz (or .csv) in {@code dir}. */
  public static Replay onlineRetail(Path dir) throws IOException {
    Path file = Files.exists(dir.resolve("online_retail.csv.gz"))
        ? dir.resolve("online_retail.csv.gz") : dir.resolve("online_retail.csv");
    List<Event> events = new ArrayList<>();
    long noCustomer = 0;
    long line = 0;
    try (Reader r = reader(file)) {
      for (CSVRecord rec : CSV.parse(r)) {
        line++;
        String customer = rec.get("CustomerID").trim();
        if (customer.isEmpty() || customer.equalsIgnoreCase("NA")) {
          noCustomer++;
          continue;
        }
        if (customer.endsWith(".0")) {
          customer = customer.substring(0, customer.length() - 2);
        }
        String invoice = rec.get("InvoiceNo");
        boolean cancel = invoice.startsWith("C");
        int qty = Integer.parseInt(rec.get("Quantity").trim());
        long millis = LocalDateTime.parse(rec.get("InvoiceDate").trim(), RETAIL_TIME).atZone(SHOP_ZONE)
            .toInstant().toEpochMilli();
        events.add(new Event("or-" + invoice + "-" + line, 1,
            cancel ? EventType.REMOVE_FROM_CART : EventType.PURCHASE, customer, invoice, rec.get("StockCode"), null,
            Double.parseDouble(rec.get("UnitPrice").trim()), cancel ? Math.abs(qty) : qty, null, null, millis,
            Map.of("country", rec.get("Country"))));
      }
    }
    events.sort(Comparator.comparingLong(Event::eventTimeMillis));
    return new Replay(events, noCustomer == 0 ? Map.of() : Map.of("no CustomerID", noCustomer));
  }

  /** The replay as Kafka records, keyed by user. */
  public static java.util.Iterator<ProducedRecord> records(List<Event> events) {
    return events.stream().map(e -> new ProducedRecord(e.userId(), EventJson.toBytes(e), null)).iterator();
  }

  private static Reader reader(Path file) throws IOException {
    InputStream in = Files.newInputStream(file);
    if (file.getFileName().toString().endsWith(".gz")) {
      in = new GZIPInputStream(in, 1 << 16);
    }
    return new InputStreamReader(in, StandardCharsets.UTF_8);
  }
}
