package io.recsys.lake;

import java.io.Serializable;

/**
 * Where each table of the lake lives under its root (any Hadoop path: {@code file:/...}, {@code s3a://...}).
 * Every job computes table paths here, so the layout is defined once.
 */
public record LakeLayout(String root) implements Serializable {

  public LakeLayout {
    if (root == null || root.isBlank()) {
      throw new IllegalArgumentException("the lake root must not be empty");
    }
    root = root.endsWith("/") ? root.substring(0, root.length() - 1) : root;
    // one spelling of local URIs (java.net.URI writes file:///x, Hadoop file:/x), so paths compare equal
    root = root.startsWith("file:///") ? "file:/" + root.substring("file:///".length()) : root;
  }

  /** Valid events, partitioned by event_date, with their Kafka coordinates. */
  public String bronzeEvents() {
    return root + "/bronze/events";
  }

  /** Rejected records: raw bytes, reason, Kafka coordinates. */
  public String bronzeQuarantine() {
    return root + "/bronze/quarantine";
  }

  /** bronze.events deduplicated by event_id and sessionized, partitioned by event_date. */
  public String silverEvents() {
    return root + "/silver/events";
  }

  /** SHA-256 of every erased user id: silver leaves their events out, so a replay cannot bring them back. */
  public String opsErasedUsers() {
    return root + "/ops/erased_users";
  }

  /** One row per erasure request: when, how many users, and what was deleted where (no user ids). */
  public String opsErasureAudit() {
    return root + "/ops/erasure_audit";
  }

  /** Per-micro-batch progress of the streaming jobs. */
  public String opsStreamProgress() {
    return root + "/ops/stream_progress";
  }

  /** The offline log of a feature view, {@code features.<view>}: every online write, stamped with event time. */
  public String features(String view) {
    return root + "/features/" + view;
  }

  /** The checkpoint of a streaming job, unless the user names another. */
  public String checkpoint(String job) {
    return root + "/_checkpoints/" + job;
  }
}
