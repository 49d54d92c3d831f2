/**
 * The card of a customer at any instant or global position, rebuilt from that customer's stream
 * with `nextCard`, the same fold the projection runs (one code path). It reads the event store, not
 * the read model, so it works for any moment, rebuilt or not.
 *
 * Two readings, which combine (every bound given applies):
 * - As recorded by then (`position`, `recordedAt`): the events the store held at that position or
 *   had recorded by that instant (their metadata's `recordedAt`), folded in stream order. What the
 *   system showed at the time, corrections made later excluded.
 * - As effective at a business date (`effectiveAt`): the events whose business instant
 *   (`occurredAt`: the command's effectiveAt, else when it was issued) is at or before that date,
 *   folded in business-time order (the stream's order among equal instants). What we now know the
 *   customer looked like on that date: a tier change recorded later but back-dated before the date
 *   counts, one effective after it does not.
 */
import {
  type CustomerEvent,
  type CustomerId,
  customerStreamId,
  decodeCustomerEvent,
  type EventStoreService,
  type GlobalPosition,
  type Instant,
  type RecordedEvent,
  StoredEventUnreadable,
  type StoreUnavailable,
} from "@relata/domain"
import { Effect, Result } from "effect"
import {
  type CustomerCard,
  type CustomerCardPolicy,
  defaultCustomerCardPolicy,
  nextCard,
  recordedAtOf,
} from "./CustomerCard.ts"

/** Which moment to rebuild the card at; at least one bound. */
export type CustomerCardAsOf =
  | { readonly position: GlobalPosition; readonly recordedAt?: Instant; readonly effectiveAt?: Instant }
  | { readonly position?: GlobalPosition; readonly recordedAt: Instant; readonly effectiveAt?: Instant }
  | { readonly position?: GlobalPosition; readonly recordedAt?: Instant; readonly effectiveAt: Instant }

/** A stored event of the customer's stream as a CustomerEvent; StoredEventUnreadable if it is not one. */
export const decodedCustomerEvent = (
  streamId: string,
  stored: RecordedEvent,
): Effect.Effect<CustomerEvent, StoredEventUnreadable> => {
  const decoded = decodeCustomerEvent(stored)
  return Result.isSuccess(decoded)
    ? Effect.succeed(decoded.success)
    : Effect.fail(
        new StoredEventUnreadable({
          streamId,
          version: stored.version,
          type: stored.type,
          cause: decoded.failure,
        }),
      )
}

/** The customer's card at the moment `asOf` names, or undefined if the customer did not exist then. */
export const customerCardAsOf = (
  eventStore: EventStoreService,
  customerId: CustomerId,
  asOf: CustomerCardAsOf,
  policy: CustomerCardPolicy = defaultCustomerCardPolicy,
): Effect.Effect<CustomerCard | undefined, StoreUnavailable | StoredEventUnreadable> =>
  Effect.gen(function* () {
    const streamId = customerStreamId(customerId)
    const recorded = yield* eventStore.readStream(streamId)
    const events: Array<{ readonly event: CustomerEvent; readonly recorded: RecordedEvent }> = []
    for (const stored of recorded) {
      if (asOf.position !== undefined && stored.position > asOf.position) continue
      const event = yield* decodedCustomerEvent(streamId, stored)
      if (asOf.recordedAt !== undefined && recordedAtOf(stored, event) > asOf.recordedAt) continue
      if (asOf.effectiveAt !== undefined && event.occurredAt > asOf.effectiveAt) continue
      events.push({ event, recorded: stored })
    }
    // Array#sort is stable: events with the same business instant keep the stream's order.
    if (asOf.effectiveAt !== undefined) {
      events.sort((a, b) =>
        a.event.occurredAt < b.event.occurredAt ? -1 : a.event.occurredAt > b.event.occurredAt ? 1 : 0,
      )
    }
    let card: CustomerCard | undefined
    for (const { event, recorded: stored } of events) card = nextCard(card, event, stored, policy)
    return card
  })
