package io.recsys.contract;

/** What {@link EventParser} made of one record: a valid event, or a rejection with its reason. */
public sealed interface ParseOutcome permits ParseOutcome.Valid, ParseOutcome.Rejected {

  /** The record is a valid event. */
  record Valid(Event event) implements ParseOutcome {}

  /** The record is rejected; {@code detail} says which field and why, for a human. */
  record Rejected(ReasonCode reason, String detail) implements ParseOutcome {}
}
