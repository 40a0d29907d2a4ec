package io.recsys.streaming.producer;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * An idempotent Kafka producer for events: key = user_id (so one user's events stay in order on one partition),
 * acks=all, batching (linger 10 ms, 256 KiB batches) and lz4 compression. A failed send is not lost silently:
 * the first error is kept and {@link #flush} throws it.
 */
public final class EventProducer implements AutoCloseable {

  private final KafkaProducer<String, byte[]> producer;
  private final String topic;
  private final AtomicLong acked = new AtomicLong();
  private final AtomicReference<Exception> firstError = new AtomicReference<>();

  public EventProducer(String bootstrap, String topic, Map<String, String> extra) {
    Map<String, Object> conf = new HashMap<>();
    conf.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    conf.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    conf.put(ProducerConfig.ACKS_CONFIG, "all");
    conf.put(ProducerConfig.LINGER_MS_CONFIG, 10);
    conf.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
    conf.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    conf.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 64L * 1024 * 1024);
    conf.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 * 1024 * 1024);
    conf.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
    conf.putAll(extra);
    this.producer = new KafkaProducer<>(conf, new StringSerializer(), new ByteArraySerializer());
    this.topic = topic;
  }

  public void send(ProducedRecord r) {
    producer.send(new ProducerRecord<>(topic, r.key(), r.value()), (meta, err) -> {
      if (err != null) {
        firstError.compareAndSet(null, err);
      } else {
        acked.incrementAndGet();
      }
    });
  }

  /** Waits until every record sent so far is acknowledged; throws the first send error, if any. */
  public void flush() {
    producer.flush();
    Exception e = firstError.get();
    if (e != null) {
      throw new IllegalStateException("Kafka rejected records for topic " + topic + ": " + e.getMessage(), e);
    }
  }

  public long acked() {
    return acked.get();
  }

  @Override
  public void close() {
    producer.close();
  }
}
