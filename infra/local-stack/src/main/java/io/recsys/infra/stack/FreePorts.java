package io.recsys.infra.stack;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Picks loopback ports for the services of the embedded stack. A port that the kernel hands out with
 * {@code bind(0)} comes from the ephemeral range, the same range it takes the local port of every
 * outbound connection from; between choosing it and the service binding it, one of the stack's own
 * connections (Kafka's broker dialling its controller, say) can take it, and the broker then fails with
 * "fatal error while waiting for all of the SocketServer Acceptors". So the ports are drawn at random
 * below the ephemeral range, where no outbound connection lands, and each is checked to be bindable.
 */
final class FreePorts {

  private static final Path RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
  private static final int LOWEST = 10_000;
  private static final int DEFAULT_EPHEMERAL_LOW = 32_768;

  private final Set<Integer> handedOut = new HashSet<>();
  private final int low;
  private final int high;

  FreePorts() {
    this(LOWEST, ephemeralLow());
  }

  FreePorts(int low, int highExclusive) {
    this.low = low;
    this.high = highExclusive;
  }

  /** A port that was free a moment ago and that this instance has not handed out before. */
  int next() throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      int port = ThreadLocalRandom.current().nextInt(low, high);
      if (!handedOut.contains(port) && bindable(port)) {
        handedOut.add(port);
        return port;
      }
    }
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      handedOut.add(s.getLocalPort()); // a crowded machine: the kernel's choice is still better than none
      return s.getLocalPort();
    }
  }

  private static boolean bindable(int port) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(false);
      s.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The first port of the kernel's ephemeral range (Linux), or the IANA default elsewhere. */
  static int ephemeralLow() {
    try {
      String[] parts = Files.readString(RANGE).trim().split("\\s+");
      int v = Integer.parseInt(parts[0]);
      return v > LOWEST + 1000 ? v : DEFAULT_EPHEMERAL_LOW;
    } catch (IOException | RuntimeException e) {
      return DEFAULT_EPHEMERAL_LOW;
    }
  }
}
