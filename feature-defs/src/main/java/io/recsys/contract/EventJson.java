package io.recsys.contract;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.Map;

/**
 * Writes an {@link Event} as contract v1 JSON (UTF-8), the way producers put it on Kafka. Absent optional
 * fields are omitted; event_time is written as an ISO-8601 instant in UTC.
 */
public final class EventJson {

  private static final JsonFactory JSON = new JsonFactory();

  private EventJson() {}

  public static byte[] toBytes(Event e) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("event_id", e.eventId());
      g.writeNumberField("schema_version", e.schemaVersion());
      g.writeStringField("event_type", e.eventType().wireName());
      g.writeStringField("user_id", e.userId());
      optional(g, "session_id", e.sessionId());
      optional(g, "item_id", e.itemId());
      optional(g, "category", e.category());
      if (e.price() != null) {
        g.writeNumberField("price", e.price());
      }
      if (e.quantity() != null) {
        g.writeNumberField("quantity", e.quantity());
      }
      if (e.rating() != null) {
        g.writeNumberField("rating", e.rating());
      }
      optional(g, "query", e.query());
      g.writeStringField("event_time", Instant.ofEpochMilli(e.eventTimeMillis()).toString());
      if (e.context() != null && !e.context().isEmpty()) {
        g.writeObjectFieldStart("context");
        for (Map.Entry<String, String> c : e.context().entrySet()) {
          g.writeStringField(c.getKey(), c.getValue());
        }
        g.writeEndObject();
      }
      g.writeEndObject();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    return out.toByteArray();
  }

  private static void optional(JsonGenerator g, String name, String value) throws IOException {
    if (value != null) {
      g.writeStringField(name, value);
    }
  }
}
