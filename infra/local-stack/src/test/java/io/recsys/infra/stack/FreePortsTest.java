package io.recsys.infra.stack;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FreePortsTest {

  @Test
  void handsOutDistinctBindablePortsBelowTheEphemeralRange() throws IOException {
    int ephemeralLow = FreePorts.ephemeralLow();
    FreePorts ports = new FreePorts();
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < 40; i++) {
      int p = ports.next();
      assertTrue(p >= 10_000 && p < ephemeralLow, p + " should lie in [10000, " + ephemeralLow + ")");
      assertTrue(seen.add(p), "port " + p + " handed out twice");
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), p));
      }
    }
  }

  @Test
  void neverHandsOutAPortSomeoneHolds() throws IOException {
    // a range of exactly the held port: it must be skipped for the kernel's choice
    try (ServerSocket held = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      FreePorts ports = new FreePorts(held.getLocalPort(), held.getLocalPort() + 1);
      for (int i = 0; i < 20; i++) {
        int p = ports.next();
        assertTrue(p != held.getLocalPort(), "handed out a port that is in use");
      }
    }
  }

  @Test
  void recognisesAStartThatLostItsPort() {
    assertTrue(EmbeddedStack.portTrouble("local stack: Received a fatal error while waiting for all of the "
        + "SocketServer Acceptors to be started"));
    assertTrue(EmbeddedStack.portTrouble("java.net.BindException: Address already in use"));
    assertFalse(EmbeddedStack.portTrouble("redis-server not found on PATH"));
    assertFalse(EmbeddedStack.portTrouble("the services JVM exited"));
  }
}
