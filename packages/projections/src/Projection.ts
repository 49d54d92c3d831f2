/**
 * A projection: a read model (name, version, collections) plus how events change it. The runner
 * feeds it every event in global order, in batches; for each batch it loads the documents the
 * events read, applies the events one by one, and commits the changes with the checkpoint.
 *
 * `apply` is a plain synchronous function over the transaction, so a projection is as easy to test
 * as a fold; it throws when it cannot apply an event, which stops the projection at that event.
 */
import type { EventFilter, RecordedEvent } from "@relata/domain"
import type { Result } from "effect"
import type { DocumentKey, ReadModelDefinition, ReadModelTransaction } from "./ReadModelStore.ts"

export interface Projection<Event> extends ReadModelDefinition {
  /** Which events it handles; the others only move its checkpoint. All events when absent. */
  readonly filter?: EventFilter
  /** Reads a stored event; a failure stops the projection at that event. */
  decode(recorded: RecordedEvent): Result.Result<Event, unknown>
  /** The documents `apply` reads for this event: loaded in bulk before the batch is applied. */
  reads?(event: Event, recorded: RecordedEvent): Iterable<DocumentKey>
  /** Applies one event to the read model; throws when it cannot. */
  apply(tx: ReadModelTransaction, event: Event, recorded: RecordedEvent): void
}

/** A projection of any event type, as the runner holds them. Method syntax makes them assignable. */
export type AnyProjection = Projection<unknown>

/** Declares a projection (an identity that infers `Event`). */
export const defineProjection = <Event>(projection: Projection<Event>): Projection<Event> => projection
