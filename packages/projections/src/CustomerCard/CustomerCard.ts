/**
 * The customer card (domain.md section 4): everything about one customer, as a document. It is the
 * Customer decider's registered state (profile, stage and since when, tier, frozen and why, owner,
 * contacts, purchases, follow-ups...) plus what is derived from it and from the events' records:
 * when the next follow-up is due, the lifetime value, the stream version, the global position and
 * when it was created and last changed.
 *
 * One code path: a card only ever changes through `nextCard`, which folds one event into it with
 * the decider's `evolve`. The projection calls it per event; `customerCardAsOf` calls it over a
 * stream's events.
 *
 * "Overdue" depends on the instant one asks at, so the card keeps when the next follow-up is due,
 * and the views readers get (`CustomerCardView`) say whether it is overdue at their `now`.
 */
import {
  CurrencyCode,
  CustomerDecider,
  type CustomerDecider as CustomerDeciderShape,
  type CustomerEvent,
  type CustomerState,
  defaultFollowUpCadence,
  type FollowUpSchedule,
  type GlobalPosition,
  Instant,
  initialState,
  makeFollowUpSchedule,
  type RecordedEvent,
  RegisteredCustomer,
} from "@relata/domain"
import { Schema, Struct } from "effect"

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** The customer card, as stored and as the API shows it. */
export const CustomerCard = Schema.Struct({
  ...Struct.omit(RegisteredCustomer.fields, ["status"]),
  /** When the next follow-up is due under the cadence, or null when none is (frozen, lost deal, churned). */
  nextFollowUpDue: Schema.NullOr(Instant),
  /** Everything the customer has spent, per currency, in minor units (no conversion between currencies). */
  lifetimeValue: Schema.Record(CurrencyCode, Count),
  /** The version of the customer's stream the card reflects: the number of its events folded in. */
  version: Count,
  /** The global position of the newest event folded in, as a decimal string (JSON has no bigint). */
  position: Schema.String,
  /** When the customer's first event was recorded. */
  createdAt: Instant,
  /** When the newest event folded in was recorded. */
  modifiedAt: Instant,
})
export type CustomerCard = typeof CustomerCard.Type

/** A card as a reader sees it at some instant: with whether the follow-up is overdue then. */
export const CustomerCardView = Schema.Struct({
  ...CustomerCard.fields,
  /** The next follow-up was due before the instant the card was read at. */
  overdue: Schema.Boolean,
})
export type CustomerCardView = typeof CustomerCardView.Type

/** How cards are folded: the decider whose `evolve` builds the state, and the follow-up cadence. */
export interface CustomerCardPolicy {
  readonly decider: CustomerDeciderShape
  readonly schedule: FollowUpSchedule
}

/** The Customer decider and the default cadence. */
export const defaultCustomerCardPolicy: CustomerCardPolicy = {
  decider: CustomerDecider,
  schedule: makeFollowUpSchedule(defaultFollowUpCadence),
}

/** The decider's state a card holds. */
export const customerStateOf = (card: CustomerCard): RegisteredCustomer => {
  const { nextFollowUpDue, lifetimeValue, version, position, createdAt, modifiedAt, ...state } = card
  return { status: "registered", ...state }
}

const isInstant = Schema.is(Instant)

/** When an event was recorded: its metadata's `recordedAt`, or its business instant when it has none. */
export const recordedAtOf = (recorded: RecordedEvent, event: CustomerEvent): Instant => {
  const at = recorded.metadata.recordedAt
  return isInstant(at) ? at : event.occurredAt
}

const laterPosition = (card: CustomerCard, position: GlobalPosition): string =>
  BigInt(card.position) >= position ? card.position : position.toString()

/**
 * Folds one event into a card (undefined: no card yet) with the decider's `evolve`. Undefined while
 * the customer is not registered (an event before its LeadRegistered changes nothing). Version,
 * position and the recorded times keep the newest (creation: the oldest), so folding in any order
 * (as `customerCardAsOf` does by business date) still describes the events folded in.
 */
export const nextCard = (
  card: CustomerCard | undefined,
  event: CustomerEvent,
  recorded: RecordedEvent,
  policy: CustomerCardPolicy = defaultCustomerCardPolicy,
): CustomerCard | undefined => {
  const before: CustomerState = card === undefined ? initialState : customerStateOf(card)
  const state = policy.decider.evolve(before, event)
  if (state.status !== "registered") return undefined
  const recordedAt = recordedAtOf(recorded, event)
  const { status, ...fields } = state
  return {
    ...fields,
    nextFollowUpDue: policy.schedule.nextFollowUpDue(state),
    lifetimeValue: state.purchases.totals,
    version: card === undefined ? recorded.version : Math.max(card.version, recorded.version),
    position: card === undefined ? recorded.position.toString() : laterPosition(card, recorded.position),
    createdAt: card === undefined || recordedAt < card.createdAt ? recordedAt : card.createdAt,
    modifiedAt: card === undefined || recordedAt > card.modifiedAt ? recordedAt : card.modifiedAt,
  }
}

/** Whether the card's next follow-up was due before `now`. */
export const overdueAt = (card: CustomerCard, now: Instant): boolean =>
  card.nextFollowUpDue !== null && card.nextFollowUpDue < now

/** The view of a card at `now`: overdue when its next follow-up was due before `now`. */
export const viewOf = (card: CustomerCard, now: Instant): CustomerCardView => ({
  ...card,
  overdue: overdueAt(card, now),
})
