package io.recsys.infra.stack;

/** A local service could not be started or reached; the message says what to do. */
public final class LocalStackException extends RuntimeException {
  public LocalStackException(String message) {
    super(message);
  }

  public LocalStackException(String message, Throwable cause) {
    super(message, cause);
  }
}
