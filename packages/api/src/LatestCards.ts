/**
 * The card a command answers with: the customer's card right after the command, from the events
 * (not the read model, which may not have caught up), folding only what was appended since this
 * process last built that customer's card (LatestCustomerCards).
 */
import { EventStore } from "@relata/domain"
import { type LatestCustomerCards, makeLatestCustomerCards } from "@relata/projections"
import { Context, Effect, Layer } from "effect"

export class LatestCards extends Context.Service<LatestCards, LatestCustomerCards>()(
  "@relata/api/LatestCards",
) {
  static readonly layer: Layer.Layer<LatestCards, never, EventStore> = Layer.effect(
    LatestCards,
    Effect.map(EventStore, (eventStore) => makeLatestCustomerCards(eventStore)),
  )
}
