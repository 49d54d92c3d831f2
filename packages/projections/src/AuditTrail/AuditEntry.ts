/**
 * An audit entry: one stored Customer event as an auditor reads it (domain.md section 5: who, what,
 * when, why). Where the event sits (position, stream version, event id, chain hash), when it was
 * recorded and when it took effect, who did it in which role, a readable action ("Tier changed from
 * C to A"), the field-level changes, the reason, and the command, correlation and causation ids.
 *
 * One code path: the changes are the difference between the customer's state before and after the
 * decider's `evolve`, the same fold the customer card runs, so the trail can never tell another
 * story than the card. `auditEntryOf` is pure; the projection and `customerAuditTrailFromStore`
 * both call it.
 */
import {
  Actor,
  type Contact,
  CustomerDecider,
  type CustomerDecider as CustomerDeciderShape,
  type CustomerEvent,
  CustomerId,
  type CustomerState,
  canonicalJson,
  hashOf,
  Instant,
  type Json,
  type Money,
  type RecordedEvent,
} from "@relata/domain"
import { Schema } from "effect"
import { absurd } from "effect/Function"
import { recordedAtOf } from "../CustomerCard/CustomerCard.ts"

// ---------------------------------------------------------------------------------------------
// The entry
// ---------------------------------------------------------------------------------------------

/**
 * One field the event changed in the customer's state: a dotted path (`tier`, `profile.email`,
 * `purchases.totals.EUR`, `contacts[contact-1].title`), its value before and after. `null` stands
 * for "absent" on either side.
 */
export const FieldChange = Schema.Struct({
  field: Schema.String,
  before: Schema.Json,
  after: Schema.Json,
})
export type FieldChange = typeof FieldChange.Type

/** One audit entry per stored Customer event. */
export const AuditEntry = Schema.Struct({
  /** The event's global position, as a decimal string (JSON has no bigint). */
  position: Schema.String,
  customerId: CustomerId,
  streamId: Schema.String,
  /** The event's version in its stream (1 for the first). */
  version: Schema.Int,
  eventId: Schema.String,
  eventType: Schema.String,
  /** The version of the event's shape as stored (older ones are upcast before they are read). */
  schemaVersion: Schema.Int,
  /** When the store recorded it: the metadata's `recordedAt` (the handler's clock), else the business instant. */
  recordedAt: Instant,
  /** When it took effect in business terms: the command's effectiveAt when back-dated, else when it was issued. */
  effectiveAt: Instant,
  /** Who issued the command and in which role; null for an event written without an actor. */
  actor: Schema.NullOr(Actor),
  /** What happened, in words: "Tier changed from C to A". */
  action: Schema.String,
  /** The fields of the customer's state the event changed, in the state's field order. */
  changes: Schema.Array(FieldChange),
  /** Why: the event's own reason when it has one, else the command's. */
  reason: Schema.NullOr(Schema.String),
  correlationId: Schema.NullOr(Schema.String),
  causationId: Schema.NullOr(Schema.String),
  commandId: Schema.NullOr(Schema.String),
  commandType: Schema.NullOr(Schema.String),
  /** The event's chain hash (`metadata.hash`), as stored; `verifyCustomer` checks it. */
  hash: Schema.NullOr(Schema.String),
})
export type AuditEntry = typeof AuditEntry.Type

// ---------------------------------------------------------------------------------------------
// Field-level changes
// ---------------------------------------------------------------------------------------------

type Plain = { readonly [key: string]: unknown }

const isPlainObject = (value: unknown): value is Plain =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isAbsent = (value: unknown): value is null | undefined => value === null || value === undefined

/** Lists whose items are told apart by a key rather than by their place: a removed contact is not a shift. */
const keyedLists: { readonly [path: string]: string } = { contacts: "contactId" }

const byKey = (list: unknown, key: string): Map<string, unknown> | undefined => {
  if (isAbsent(list)) return new Map()
  if (!Array.isArray(list)) return undefined
  const map = new Map<string, unknown>()
  for (const item of list) {
    const id = isPlainObject(item) ? item[key] : undefined
    if (typeof id !== "string") return undefined
    map.set(id, item)
  }
  return map
}

const sameValue = (a: unknown, b: unknown): boolean =>
  a === b || canonicalJson(a as Json) === canonicalJson(b as Json)

const diffInto = (out: Array<FieldChange>, path: string, before: unknown, after: unknown): void => {
  // evolve shares what it does not change: an unchanged branch is the same object, skipped at once.
  if (before === after) return
  const child = (key: string) => (path === "" ? key : `${path}.${key}`)
  if (
    (isPlainObject(before) || isPlainObject(after)) &&
    (isPlainObject(before) || isAbsent(before)) &&
    (isPlainObject(after) || isAbsent(after))
  ) {
    const b: Plain = isPlainObject(before) ? before : {}
    const a: Plain = isPlainObject(after) ? after : {}
    for (const key in b) diffInto(out, child(key), b[key], a[key])
    for (const key in a) if (!(key in b)) diffInto(out, child(key), undefined, a[key])
    return
  }
  const itemKey = keyedLists[path]
  if (itemKey !== undefined) {
    const b = byKey(before, itemKey)
    const a = byKey(after, itemKey)
    if (b !== undefined && a !== undefined) {
      for (const [id, item] of b) diffInto(out, `${path}[${id}]`, item, a.get(id))
      for (const [id, item] of a) if (!b.has(id)) diffInto(out, `${path}[${id}]`, undefined, item)
      return
    }
  }
  const b = (before ?? null) as Json
  const a = (after ?? null) as Json
  if (!sameValue(b, a)) out.push({ field: path, before: b, after: a })
}

/**
 * The fields that differ between two states of a customer, as dotted paths down to the leaves
 * (plain objects are descended, contacts are matched by contact id, other lists compare whole).
 * Absent and null are the same; a registration lists every field it sets.
 */
export const diffCustomerStates = (
  before: CustomerState,
  after: CustomerState,
): ReadonlyArray<FieldChange> => {
  const out: Array<FieldChange> = []
  diffInto(out, "", before, after)
  return out
}

// ---------------------------------------------------------------------------------------------
// Readable actions
// ---------------------------------------------------------------------------------------------

const fractionDigitsCache = new Map<string, number>()

/** The currency's minor-unit digits as ICU knows them (2 for EUR, 0 for JPY); 2 for a code it does not know. */
const fractionDigits = (currency: string): number => {
  let digits = fractionDigitsCache.get(currency)
  if (digits === undefined) {
    try {
      digits =
        new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
          .maximumFractionDigits ?? 2
    } catch {
      digits = 2
    }
    fractionDigitsCache.set(currency, digits)
  }
  return digits
}

/** "1234.50 EUR": no grouping, so the text is the same in every locale and easy to parse back. */
const formatMoney = (money: Money): string => {
  const digits = fractionDigits(money.currency)
  const scale = 10 ** digits
  const major = Math.floor(money.amountMinor / scale)
  const minor = money.amountMinor % scale
  return digits === 0
    ? `${major} ${money.currency}`
    : `${major}.${String(minor).padStart(digits, "0")} ${money.currency}`
}

const quoted = (text: string): string => JSON.stringify(text)

const contactName = (state: CustomerState, contactId: string): string => {
  const contact =
    state.status === "registered" ? state.contacts.find((c: Contact) => c.contactId === contactId) : undefined
  return contact === undefined ? contactId : quoted(contact.name)
}

const fieldList = (changes: object): string => Object.keys(changes).join(", ")

/**
 * What the event did, in one English sentence without a full stop, from the event and the state
 * it applied to. The reason is not repeated here: it has its own column.
 */
export const describeAction = (event: CustomerEvent, before: CustomerState): string => {
  const stage = before.status === "registered" ? before.stage : undefined
  switch (event._tag) {
    case "LeadRegistered":
      return (
        `Lead ${quoted(event.profile.name)} registered from ${event.source}, owned by ${event.owner}, tier ${event.tier}` +
        (event.duplicateOf === undefined ? "" : `, despite a possible duplicate of ${event.duplicateOf}`)
      )
    case "LeadQualified":
      return "Lead qualified as a prospect"
    case "DealLost":
      return stage === undefined ? "Deal lost" : `Deal lost while a ${stage}`
    case "LeadReopened":
      return "Lost deal reopened as a lead"
    case "CustomerConverted":
      return `Converted to a customer with a first purchase of ${formatMoney(event.firstPurchase.amount)}`
    case "PurchaseRecorded":
      return (
        `Purchase of ${formatMoney(event.amount)} recorded` +
        (event.purchaseId === undefined ? "" : ` (${event.purchaseId})`)
      )
    case "CustomerBecameLoyal":
      return event.by === "policy"
        ? `Became loyal by the loyalty rule${event.rule === undefined ? "" : ` (${event.rule})`}`
        : "Promoted to loyal by hand"
    case "CustomerChurned":
      return stage === undefined ? "Customer churned" : `Customer churned (was ${stage})`
    case "CustomerWinBackStarted":
      return "Win-back started: the churned customer is a prospect again"
    case "TierChanged":
      return (
        `Tier changed from ${event.from} to ${event.to}` +
        (event.classification === undefined
          ? event.suggestion === undefined
            ? ""
            : ` (suggested ${event.suggestion})`
          : ` by classification ${event.classification.ruleVersion}, score ${event.classification.score}`)
      )
    case "AccountFrozen":
      return "Account frozen"
    case "AccountUnfrozen":
      return "Account unfrozen"
    case "OwnerAssigned":
      return event.from === event.to
        ? `Department changed to ${event.department ?? "none"}`
        : `Owner changed from ${event.from} to ${event.to}` +
            (event.department === undefined ? "" : `, department ${event.department}`)
    case "ContactAdded":
      return `Contact ${quoted(event.contact.name)} added`
    case "ContactUpdated":
      return `Contact ${contactName(before, event.contactId)} updated: ${fieldList(event.changes)}`
    case "ContactRemoved":
      return `Contact ${contactName(before, event.contactId)} removed`
    case "FollowUpRecorded":
      return `Follow-up by ${event.channel} recorded, outcome: ${event.outcome}`
    case "ProfileUpdated":
      return `Profile updated: ${fieldList(event.changes)}`
    default:
      return absurd(event)
  }
}

// ---------------------------------------------------------------------------------------------
// The entry of one event
// ---------------------------------------------------------------------------------------------

const isActor = Schema.is(Actor)

const text = (value: unknown): string | null => (typeof value === "string" ? value : null)

/** The event's own reason, when its type has one. */
const reasonOf = (event: CustomerEvent): string | undefined =>
  "reason" in event && typeof event.reason === "string" ? event.reason : undefined

/** The audit entry of one event and the customer's state after it. */
export interface AuditStep {
  readonly entry: AuditEntry
  readonly state: CustomerState
}

/**
 * Folds one event into the customer's state with the decider's `evolve` and describes it: the
 * entry's changes are the difference between the state before and after. Every event gets an entry,
 * also one `evolve` ignores (its changes are then empty).
 */
export const auditEntryOf = (
  before: CustomerState,
  event: CustomerEvent,
  recorded: RecordedEvent,
  decider: CustomerDeciderShape = CustomerDecider,
): AuditStep => {
  const state = decider.evolve(before, event)
  const metadata = recorded.metadata
  const entry: AuditEntry = {
    position: recorded.position.toString(),
    customerId: event.customerId,
    streamId: recorded.streamId,
    version: recorded.version,
    eventId: recorded.eventId,
    eventType: recorded.type,
    schemaVersion: recorded.schemaVersion,
    recordedAt: recordedAtOf(recorded, event),
    effectiveAt: event.occurredAt,
    actor: isActor(metadata.actor) ? { id: metadata.actor.id, role: metadata.actor.role } : null,
    action: describeAction(event, before),
    changes: diffCustomerStates(before, state),
    reason: reasonOf(event) ?? text(metadata.reason),
    correlationId: text(metadata.correlationId),
    causationId: text(metadata.causationId),
    commandId: text(metadata.commandId),
    commandType: text(metadata.commandType),
    hash: hashOf(recorded) ?? null,
  }
  return { entry, state }
}
