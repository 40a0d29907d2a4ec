package io.recsys.infra.stack.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;

/**
 * One Kafka 3.9 node in KRaft mode with the broker and controller roles combined, on 127.0.0.1. The storage
 * directory is formatted on first start (as {@code kafka-storage.sh format} would) and reused afterwards.
 */
final class KafkaKraftServer implements AutoCloseable {

  private final KafkaRaftServer server;

  private KafkaKraftServer(KafkaRaftServer server) {
    this.server = server;
  }

  static KafkaKraftServer start(Path dir, int brokerPort, int controllerPort, int defaultPartitions)
      throws IOException {
    Path logDir = dir.resolve("data");
    Properties props = new Properties();
    props.put("process.roles", "broker,controller");
    props.put("node.id", "1");
    props.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
    props.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
    props.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
    props.put("controller.listener.names", "CONTROLLER");
    props.put("inter.broker.listener.name", "PLAINTEXT");
    props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    props.put("log.dirs", logDir.toString());
    props.put("num.partitions", String.valueOf(defaultPartitions));
    props.put("auto.create.topics.enable", "false");
    props.put("offsets.topic.replication.factor", "1");
    props.put("offsets.topic.num.partitions", "4");
    props.put("transaction.state.log.replication.factor", "1");
    props.put("transaction.state.log.min.isr", "1");
    props.put("transaction.state.log.num.partitions", "4");
    props.put("group.initial.rebalance.delay.ms", "0");
    props.put("log.flush.interval.messages", Long.toString(Long.MAX_VALUE));
    props.put("message.max.bytes", String.valueOf(8 * 1024 * 1024));
    props.put("replica.fetch.max.bytes", String.valueOf(8 * 1024 * 1024));
    props.put("log.retention.hours", "-1");
    props.put("log.retention.bytes", "-1");

    Files.createDirectories(dir);
    Path configFile = dir.resolve("server.properties");
    try (Writer w = Files.newBufferedWriter(configFile)) {
      props.store(w, "written by the recsys local stack");
    }
    if (!Files.exists(logDir.resolve("meta.properties"))) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int rc = StorageTool.execute(new String[] {"format", "-t", Uuid.randomUuid().toString(), "-c",
          configFile.toString(), "--ignore-formatted"}, new PrintStream(out, true, StandardCharsets.UTF_8));
      if (rc != 0) {
        throw new IOException("kafka-storage format failed (" + rc + "): " + out.toString(StandardCharsets.UTF_8));
      }
    }
    KafkaRaftServer server = new KafkaRaftServer(new KafkaConfig(props, false), Time.SYSTEM);
    server.startup();
    return new KafkaKraftServer(server);
  }

  @Override
  public void close() {
    server.shutdown();
    server.awaitShutdown();
  }
}
