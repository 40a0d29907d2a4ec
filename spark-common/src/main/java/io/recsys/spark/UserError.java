package io.recsys.spark;

/**
 * A problem the user can fix (bad argument, unreachable service, missing path). Jobs print its message as one
 * line and exit with status 2, without a stack trace. Build them with the factory methods so the messages keep
 * one form: what is wrong, then how to fix it.
 */
public final class UserError extends RuntimeException {

  private UserError(String message, Throwable cause) {
    super(message, cause);
  }

  public static UserError of(String what, String fix) {
    return new UserError(what + ". " + fix, null);
  }

  public static UserError of(String what, String fix, Throwable cause) {
    return new UserError(what + ". " + fix, cause);
  }

  public static UserError badArgument(String option, String value, String expected) {
    return new UserError("Invalid value '" + value + "' for " + option + ": expected " + expected + ".", null);
  }
}
