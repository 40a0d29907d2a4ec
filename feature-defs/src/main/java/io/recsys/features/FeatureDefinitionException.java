package io.recsys.features;

/** The definitions file cannot be used; the message names the file, the view and the fix. */
public final class FeatureDefinitionException extends RuntimeException {
  public FeatureDefinitionException(String message) {
    super(message);
  }

  public FeatureDefinitionException(String message, Throwable cause) {
    super(message, cause);
  }
}
