/**
 * The Customer's events: business facts in the past tense, kept forever. Each event is an Effect
 * Schema of its data plus a `_tag` (its type) and carries its current `schemaVersion`; stored
 * older versions are upcast on read (see CustomerEventUpcasters.ts). A shipped event type never
 * changes meaning: a change is a new version plus an upcaster, or a new event type.
 *
 * Every event carries `customerId` and `occurredAt`, the business instant: the command's
 * `effectiveAt` when given, else its `issuedAt`. Data holds only strings, numbers, booleans and
 * plain objects so stored events decode fast.
 */
import { Schema } from "effect"
import { ActorId } from "./ActorId.ts"
import { ClassificationExplanation } from "./Classification.ts"
import { Contact, ContactChanges } from "./Contact.ts"
import { ContactId } from "./ContactId.ts"
import { CustomerId } from "./CustomerId.ts"
import { CustomerProfile, ProfileChanges } from "./CustomerProfile.ts"
import { Department } from "./Department.ts"
import { FollowUpChannel } from "./FollowUpChannel.ts"
import { Instant } from "./Instant.ts"
import { boundedText } from "./internal/Text.ts"
import { LeadSource } from "./LeadSource.ts"
import { Purchase } from "./Purchase.ts"
import { Reason } from "./Reason.ts"
import { Tier } from "./Tier.ts"

/** An event schema: the tagged struct of the domain event, its data schema as stored, and its version. */
export type EventSchema<Tag extends string, Fields extends Schema.Struct.Fields> = Schema.TaggedStruct<
  Tag,
  EventFields<Fields>
> & {
  readonly schemaVersion: number
  /** The stored `data`: the event without its `_tag`. */
  readonly data: Schema.Struct<EventFields<Fields>>
}

type EventFields<Fields extends Schema.Struct.Fields> = {
  readonly customerId: typeof CustomerId
  readonly occurredAt: typeof Instant
} & Fields

const defineEvent = <const Tag extends string, const Fields extends Schema.Struct.Fields>(
  tag: Tag,
  schemaVersion: number,
  fields: Fields,
): EventSchema<Tag, Fields> => {
  const all: EventFields<Fields> = { customerId: CustomerId, occurredAt: Instant, ...fields }
  return Object.assign(Schema.TaggedStruct(tag, all), { schemaVersion, data: Schema.Struct(all) })
}

/** A lead was captured: the customer exists from now on, as a lead with an owner. */
export const LeadRegistered = defineEvent("LeadRegistered", 1, {
  profile: CustomerProfile,
  source: LeadSource,
  owner: ActorId,
  department: Schema.optionalKey(Department),
  tier: Tier,
  /** A customer this one may duplicate (same normalised name, e-mail or phone), when one was found. */
  duplicateOf: Schema.optionalKey(CustomerId),
  /** Why the lead was registered despite the possible duplicate. */
  allowDuplicateReason: Schema.optionalKey(Reason),
})
export type LeadRegistered = typeof LeadRegistered.Type

/** The lead passed the company's screening and became a prospect. */
export const LeadQualified = defineEvent("LeadQualified", 1, { reason: Schema.optionalKey(Reason) })
export type LeadQualified = typeof LeadQualified.Type

/** The lead or prospect refused ("no intention for now"); it stays in its stage, marked lost, until reopened. */
export const DealLost = defineEvent("DealLost", 1, { reason: Reason })
export type DealLost = typeof DealLost.Type

/** A lost lead or prospect is nurtured again, as a lead. */
export const LeadReopened = defineEvent("LeadReopened", 1, { reason: Schema.optionalKey(Reason) })
export type LeadReopened = typeof LeadReopened.Type

/** The prospect bought for the first time and became a customer; the first purchase counts as a purchase. */
export const CustomerConverted = defineEvent("CustomerConverted", 1, { firstPurchase: Purchase })
export type CustomerConverted = typeof CustomerConverted.Type

/** A customer (or loyal customer) bought again. */
export const PurchaseRecorded = defineEvent("PurchaseRecorded", 1, Purchase.fields)
export type PurchaseRecorded = typeof PurchaseRecorded.Type

/** The customer became loyal, by the loyalty policy (with the rule it met) or by hand (with a reason). */
export const CustomerBecameLoyal = defineEvent("CustomerBecameLoyal", 1, {
  by: Schema.Literals(["policy", "hand"]),
  reason: Reason,
  rule: Schema.optionalKey(boundedText(200)),
})
export type CustomerBecameLoyal = typeof CustomerBecameLoyal.Type

/** The customer (or loyal customer) was lost. */
export const CustomerChurned = defineEvent("CustomerChurned", 1, { reason: Reason })
export type CustomerChurned = typeof CustomerChurned.Type

/** A win-back attempt started: the churned customer is a prospect again. */
export const CustomerWinBackStarted = defineEvent("CustomerWinBackStarted", 1, {
  reason: Schema.optionalKey(Reason),
})
export type CustomerWinBackStarted = typeof CustomerWinBackStarted.Type

/**
 * The customer's tier changed, by hand (`suggestion`: the tier a policy had suggested, if the rep
 * acted on one) or by the classification policy (`classification`: its score, rule and inputs).
 */
export const TierChanged = defineEvent("TierChanged", 1, {
  from: Tier,
  to: Tier,
  reason: Reason,
  suggestion: Schema.optionalKey(Tier),
  classification: Schema.optionalKey(ClassificationExplanation),
})
export type TierChanged = typeof TierChanged.Type

/** The account was frozen: it accepts no activity until it is unfrozen. */
export const AccountFrozen = defineEvent("AccountFrozen", 1, { reason: Reason })
export type AccountFrozen = typeof AccountFrozen.Type

/** The account was unfrozen and is active again. */
export const AccountUnfrozen = defineEvent("AccountUnfrozen", 1, { reason: Reason })
export type AccountUnfrozen = typeof AccountUnfrozen.Type

/** Another rep became responsible for the customer (a handover); `department` is set when it changed too. */
export const OwnerAssigned = defineEvent("OwnerAssigned", 1, {
  from: ActorId,
  to: ActorId,
  department: Schema.optionalKey(Department),
  reason: Schema.optionalKey(Reason),
})
export type OwnerAssigned = typeof OwnerAssigned.Type

/** A contact person was added to the account. */
export const ContactAdded = defineEvent("ContactAdded", 1, { contact: Contact })
export type ContactAdded = typeof ContactAdded.Type

/** A contact person's details changed (only the changed fields; `null` cleared a field). */
export const ContactUpdated = defineEvent("ContactUpdated", 1, {
  contactId: ContactId,
  changes: ContactChanges,
})
export type ContactUpdated = typeof ContactUpdated.Type

/** A contact person was removed from the account. */
export const ContactRemoved = defineEvent("ContactRemoved", 1, {
  contactId: ContactId,
  reason: Schema.optionalKey(Reason),
})
export type ContactRemoved = typeof ContactRemoved.Type

/**
 * A follow-up (revisit) took place at `at`, through a channel, with a summary and an outcome.
 * Version 2: version 1 stored a free `note` and no `outcome` (upcast on read).
 */
export const FollowUpRecorded = defineEvent("FollowUpRecorded", 2, {
  at: Instant,
  channel: FollowUpChannel,
  contactId: Schema.optionalKey(ContactId),
  summary: boundedText(5000),
  outcome: boundedText(1000),
})
export type FollowUpRecorded = typeof FollowUpRecorded.Type

/** The customer's basic information changed (only the changed fields; `null` cleared a field). */
export const ProfileUpdated = defineEvent("ProfileUpdated", 1, { changes: ProfileChanges })
export type ProfileUpdated = typeof ProfileUpdated.Type

/** Every Customer event schema, by type. */
export const CustomerEventSchemas = {
  LeadRegistered,
  LeadQualified,
  DealLost,
  LeadReopened,
  CustomerConverted,
  PurchaseRecorded,
  CustomerBecameLoyal,
  CustomerChurned,
  CustomerWinBackStarted,
  TierChanged,
  AccountFrozen,
  AccountUnfrozen,
  OwnerAssigned,
  ContactAdded,
  ContactUpdated,
  ContactRemoved,
  FollowUpRecorded,
  ProfileUpdated,
} as const

/** Any event of a Customer's stream. */
export const CustomerEvent = Schema.Union(Object.values(CustomerEventSchemas)).pipe(
  Schema.toTaggedUnion("_tag"),
)
export type CustomerEvent = typeof CustomerEvent.Type

/** The type (`_tag`) of a Customer event. */
export type CustomerEventType = CustomerEvent["_tag"]

/** Every Customer event type. */
export const customerEventTypes = Object.keys(CustomerEventSchemas) as ReadonlyArray<CustomerEventType>
