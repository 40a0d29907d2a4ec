package io.recsys.infra.stack;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ./run stack up|down|status}: a detached embedded stack for users, its files in {@code --dir}. */
@Command(name = "stack", mixinStandardHelpOptions = true,
    description = "Start, stop or show the local stack (Kafka KRaft, redis-server, S3Proxy) without Docker.")
public final class StackCli implements Callable<Integer> {

  @Parameters(index = "0", description = "up, down or status") String action;

  @Option(names = "--dir", defaultValue = ".stack", description = "Where the stack keeps its data and state (default: ${DEFAULT-VALUE}).")
  Path dir;

  @Option(names = "--topic", defaultValue = "events", description = "Topic to create on up (default: ${DEFAULT-VALUE}).")
  String topic;

  @Option(names = "--partitions", defaultValue = "2", description = "Partitions of that topic (default: ${DEFAULT-VALUE}).")
  int partitions;

  public static void main(String[] args) {
    System.exit(new CommandLine(new StackCli()).execute(args));
  }

  @Override
  public Integer call() {
    try {
      switch (action) {
        case "up" -> {
          var running = EmbeddedStack.attach(dir);
          if (running.isPresent()) {
            System.out.println("The stack is already up (pid " + running.get().pid() + ").");
            print(running.get().addresses());
            return 0;
          }
          StackState st = EmbeddedStack.startDetached(dir);
          Topics.create(st.kafka(), topic, partitions);
          System.out.println("The stack is up (pid " + st.pid() + "), data in " + dir.toAbsolutePath() + ".");
          print(EmbeddedStack.attach(dir).orElseThrow().addresses());
          System.out.println("Topic '" + topic + "' has " + partitions + " partitions. Stop it with: ./run stack down");
          return 0;
        }
        case "down" -> {
          System.out.println(EmbeddedStack.stopDetached(dir) ? "The stack is down." : "No stack is running in " + dir + ".");
          return 0;
        }
        case "status" -> {
          var running = EmbeddedStack.attach(dir);
          if (running.isEmpty()) {
            System.out.println("No stack is running in " + dir + ". Start one with: ./run stack up");
            return 3;
          }
          System.out.println("The stack is up (pid " + running.get().pid() + ").");
          print(running.get().addresses());
          return 0;
        }
        default -> {
          System.err.println("stack: unknown action '" + action + "'; use up, down or status");
          return 2;
        }
      }
    } catch (LocalStackException e) {
      System.err.println("stack: " + e.getMessage());
      return 1;
    }
  }

  private static void print(Map<String, String> addresses) {
    new java.util.TreeMap<>(addresses).forEach((k, v) -> System.out.printf("  %-12s %s%n", k, v));
  }
}
