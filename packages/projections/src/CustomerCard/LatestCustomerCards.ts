/**
 * The cards of the customers this process changed last, each with the stream version it was folded
 * to, so that the card right after a command folds only the events appended since: a customer with
 * thousands of events costs what a new one does. The card is `customerCardAsOf` at the command's
 * position, the same fold (`nextCard`) over the same events in stream order, resumed where the kept
 * card stopped. Events never change once stored, so a kept card stays true of its prefix of the
 * stream; one folded further replaces it, a shorter one never does.
 *
 * Kept cards are shared between callers: nothing mutates them (`nextCard` and the decider's
 * `evolve` build new values).
 */
import {
  type CustomerId,
  customerStreamId,
  type EventStoreService,
  type GlobalPosition,
  type StoredEventUnreadable,
  type StoreUnavailable,
} from "@relata/domain"
import { Effect } from "effect"
import {
  type CustomerCard,
  type CustomerCardPolicy,
  defaultCustomerCardPolicy,
  nextCard,
} from "./CustomerCard.ts"
import { customerCardAsOf, decodedCustomerEvent } from "./CustomerCardAsOf.ts"

export interface LatestCustomerCards {
  /**
   * The customer's card at `position` (as `customerCardAsOf` with that position gives it), or
   * undefined if the customer did not exist then.
   */
  readonly atPosition: (
    customerId: CustomerId,
    position: GlobalPosition,
  ) => Effect.Effect<CustomerCard | undefined, StoreUnavailable | StoredEventUnreadable>
}

/** Keeps the cards of the `capacity` customers changed last (default 1,000). */
export const makeLatestCustomerCards = (
  eventStore: EventStoreService,
  options: { readonly capacity?: number; readonly policy?: CustomerCardPolicy } = {},
): LatestCustomerCards => {
  const capacity = options.capacity ?? 1_000
  const policy = options.policy ?? defaultCustomerCardPolicy
  // Map keeps insertion order: re-inserting on use makes the first key the least recently used.
  const kept = new Map<CustomerId, CustomerCard>()

  const keep = (customerId: CustomerId, card: CustomerCard): void => {
    const current = kept.get(customerId)
    if (current !== undefined && current.version > card.version) return
    kept.delete(customerId)
    kept.set(customerId, card)
    if (kept.size > capacity) kept.delete(kept.keys().next().value as CustomerId)
  }

  const atPosition: LatestCustomerCards["atPosition"] = (customerId, position) =>
    Effect.gen(function* () {
      const start = kept.get(customerId)
      if (start === undefined || BigInt(start.position) > position) {
        const card = yield* customerCardAsOf(eventStore, customerId, { position }, policy)
        if (card !== undefined) keep(customerId, card)
        return card
      }
      const streamId = customerStreamId(customerId)
      let card: CustomerCard | undefined = start
      for (const stored of yield* eventStore.readStream(streamId, { from: start.version + 1 })) {
        // Stream order is position order: the rest came after `position`.
        if (stored.position > position) break
        card = nextCard(card, yield* decodedCustomerEvent(streamId, stored), stored, policy)
      }
      if (card !== undefined) keep(customerId, card)
      return card
    })

  return { atPosition }
}
