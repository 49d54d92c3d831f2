/**
 * The Customer's commands: requests in the imperative, which the decider accepts (emitting events)
 * or rejects (with a rule violation). Each is an Effect Schema whose decoding also normalises input
 * (e-mail addresses, phone numbers, ISO instants), so a command decoded at the edge is canonical.
 */
import { Schema } from "effect"
import { Actor } from "./Actor.ts"
import { ActorId } from "./ActorId.ts"
import { CommandId } from "./CommandId.ts"
import { ContactChangesInput, ContactInput } from "./Contact.ts"
import { ContactId } from "./ContactId.ts"
import { CustomerId } from "./CustomerId.ts"
import { CustomerProfileInput, ProfileChangesInput } from "./CustomerProfile.ts"
import { Department } from "./Department.ts"
import { FollowUpChannel } from "./FollowUpChannel.ts"
import { InstantFromString } from "./Instant.ts"
import { boundedText, identifier } from "./internal/Text.ts"
import { LeadSource } from "./LeadSource.ts"
import { Purchase } from "./Purchase.ts"
import { Reason } from "./Reason.ts"
import { Tier } from "./Tier.ts"

/** What every command carries besides its own fields. */
export const CommandEnvelope = Schema.Struct({
  commandId: CommandId,
  customerId: CustomerId,
  actor: Actor,
  /** When the command was issued; the handler sets it from its Clock. */
  issuedAt: InstantFromString,
  /** The business instant when it differs from `issuedAt` (a back-dated change); never later than `issuedAt`. */
  effectiveAt: Schema.optionalKey(InstantFromString),
  correlationId: Schema.optionalKey(identifier),
  causationId: Schema.optionalKey(identifier),
})
export type CommandEnvelope = typeof CommandEnvelope.Type

const defineCommand = <const Tag extends string, const Fields extends Schema.Struct.Fields>(
  tag: Tag,
  fields: Fields,
) => Schema.TaggedStruct(tag, { ...CommandEnvelope.fields, ...fields })

/** Capture a new lead. `tier` defaults to D. A suspected duplicate needs `allowDuplicateReason`. */
export const RegisterLead = defineCommand("RegisterLead", {
  profile: CustomerProfileInput,
  source: LeadSource,
  owner: ActorId,
  department: Schema.optionalKey(Department),
  tier: Schema.optionalKey(Tier),
  duplicateOf: Schema.optionalKey(CustomerId),
  allowDuplicateReason: Schema.optionalKey(Reason),
})
export type RegisterLead = typeof RegisterLead.Type

/** Qualify a lead as a prospect. */
export const QualifyLead = defineCommand("QualifyLead", { reason: Schema.optionalKey(Reason) })
export type QualifyLead = typeof QualifyLead.Type

/** Mark the deal with a lead or prospect as lost; the reason is required. */
export const MarkDealLost = defineCommand("MarkDealLost", { reason: Reason })
export type MarkDealLost = typeof MarkDealLost.Type

/** Reopen a lost lead or prospect, as a lead. */
export const ReopenLead = defineCommand("ReopenLead", { reason: Schema.optionalKey(Reason) })
export type ReopenLead = typeof ReopenLead.Type

/** Convert a prospect into a customer with its first purchase. */
export const ConvertToCustomer = defineCommand("ConvertToCustomer", { firstPurchase: Purchase })
export type ConvertToCustomer = typeof ConvertToCustomer.Type

/** Record a purchase by a customer or loyal customer; may make the customer loyal by policy. */
export const RecordPurchase = defineCommand("RecordPurchase", Purchase.fields)
export type RecordPurchase = typeof RecordPurchase.Type

/** Promote a customer to loyal by hand; the reason is required. */
export const PromoteToLoyal = defineCommand("PromoteToLoyal", { reason: Reason })
export type PromoteToLoyal = typeof PromoteToLoyal.Type

/** Record that a customer or loyal customer was lost; the reason is required. */
export const ChurnCustomer = defineCommand("ChurnCustomer", { reason: Reason })
export type ChurnCustomer = typeof ChurnCustomer.Type

/** Start winning back a churned customer, who becomes a prospect again. */
export const WinBackCustomer = defineCommand("WinBackCustomer", { reason: Schema.optionalKey(Reason) })
export type WinBackCustomer = typeof WinBackCustomer.Type

/** Change the tier by hand; the reason is required, `suggestion` is the tier a policy had suggested. */
export const ChangeTier = defineCommand("ChangeTier", {
  to: Tier,
  reason: Reason,
  suggestion: Schema.optionalKey(Tier),
})
export type ChangeTier = typeof ChangeTier.Type

/** Apply the classification policy: change the tier to the one it computes, with its explanation. */
export const ClassifyCustomer = defineCommand("ClassifyCustomer", { reason: Schema.optionalKey(Reason) })
export type ClassifyCustomer = typeof ClassifyCustomer.Type

/** Freeze the account: no activity until it is unfrozen; the reason is required. */
export const FreezeAccount = defineCommand("FreezeAccount", { reason: Reason })
export type FreezeAccount = typeof FreezeAccount.Type

/** Unfreeze a frozen account; the reason is required. */
export const UnfreezeAccount = defineCommand("UnfreezeAccount", { reason: Reason })
export type UnfreezeAccount = typeof UnfreezeAccount.Type

/** Hand the customer over to another rep, and optionally another department. */
export const AssignOwner = defineCommand("AssignOwner", {
  to: ActorId,
  department: Schema.optionalKey(Department),
  reason: Schema.optionalKey(Reason),
})
export type AssignOwner = typeof AssignOwner.Type

/** Add a contact person to the account. */
export const AddContact = defineCommand("AddContact", { contact: ContactInput })
export type AddContact = typeof AddContact.Type

/** Change a contact person's details: given fields are set, `null` clears an optional field. */
export const UpdateContact = defineCommand("UpdateContact", {
  contactId: ContactId,
  changes: ContactChangesInput,
})
export type UpdateContact = typeof UpdateContact.Type

/** Remove a contact person from the account. */
export const RemoveContact = defineCommand("RemoveContact", {
  contactId: ContactId,
  reason: Schema.optionalKey(Reason),
})
export type RemoveContact = typeof RemoveContact.Type

/** Record a follow-up; `at` (when it took place) defaults to the command's business instant. */
export const RecordFollowUp = defineCommand("RecordFollowUp", {
  channel: FollowUpChannel,
  summary: boundedText(5000),
  outcome: boundedText(1000),
  at: Schema.optionalKey(InstantFromString),
  contactId: Schema.optionalKey(ContactId),
})
export type RecordFollowUp = typeof RecordFollowUp.Type

/** Change the customer's basic information: given fields are set, `null` clears an optional field. */
export const UpdateProfile = defineCommand("UpdateProfile", { changes: ProfileChangesInput })
export type UpdateProfile = typeof UpdateProfile.Type

/** Every Customer command schema, by type. */
export const CustomerCommandSchemas = {
  RegisterLead,
  QualifyLead,
  MarkDealLost,
  ReopenLead,
  ConvertToCustomer,
  RecordPurchase,
  PromoteToLoyal,
  ChurnCustomer,
  WinBackCustomer,
  ChangeTier,
  ClassifyCustomer,
  FreezeAccount,
  UnfreezeAccount,
  AssignOwner,
  AddContact,
  UpdateContact,
  RemoveContact,
  RecordFollowUp,
  UpdateProfile,
} as const

/** Any command to a Customer. */
export const CustomerCommand = Schema.Union(Object.values(CustomerCommandSchemas)).pipe(
  Schema.toTaggedUnion("_tag"),
)
export type CustomerCommand = typeof CustomerCommand.Type

/** The type (`_tag`) of a Customer command. */
export type CustomerCommandType = CustomerCommand["_tag"]

/** Every Customer command type. */
export const customerCommandTypes = Object.keys(CustomerCommandSchemas) as ReadonlyArray<CustomerCommandType>

/** The commands that move a customer through the lifecycle (RegisterLead creates one; it is not among them). */
export const lifecycleCommandTypes = [
  "QualifyLead",
  "MarkDealLost",
  "ReopenLead",
  "ConvertToCustomer",
  "RecordPurchase",
  "PromoteToLoyal",
  "ChurnCustomer",
  "WinBackCustomer",
] as const satisfies ReadonlyArray<CustomerCommandType>
/** The type of a lifecycle command. */
export type LifecycleCommandType = (typeof lifecycleCommandTypes)[number]
