package io.recsys.spark;

import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Runs a job's picocli command: usage errors and {@link UserError}s become one line on stderr and exit status
 * 2; anything else is logged with its stack trace and exits with 1.
 */
public final class JobRunner {

  private static final Logger LOG = LoggerFactory.getLogger(JobRunner.class);

  private JobRunner() {}

  public static int run(Callable<Integer> command, String[] args) {
    return run(command, args, null);
  }

  /** As {@link #run(Callable, String[])}, writing messages to {@code err} (standard error if null). */
  public static int run(Callable<Integer> command, String[] args, java.io.PrintWriter err) {
    CommandLine cl = new CommandLine(command);
    if (err != null) {
      cl.setErr(err);
    }
    cl.setExecutionExceptionHandler((ex, line, parsed) -> {
      Throwable t = ex;
      while (t != null && !(t instanceof UserError)) {
        t = t.getCause();
      }
      if (t != null) {
        line.getErr().println(line.getCommandName() + ": " + t.getMessage());
        LOG.debug("user error", ex);
        return 2;
      }
      LOG.error("{} failed", line.getCommandName(), ex);
      line.getErr().println(line.getCommandName() + ": failed: " + ex);
      return 1;
    });
    cl.setParameterExceptionHandler((ex, a) -> {
      ex.getCommandLine().getErr().println(ex.getCommandLine().getCommandName() + ": " + ex.getMessage()
          + " (see --help)");
      return 2;
    });
    return cl.execute(args);
  }

  /** Runs and exits the JVM with the command's status. */
  public static void main(Callable<Integer> command, String[] args) {
    System.exit(run(command, args));
  }
}
