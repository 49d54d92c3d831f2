/** Random command sequences for property tests: a step is a command type plus the choices that fill it in. */
import {
  ActorId,
  ActorRole,
  addDays,
  ContactId,
  type CustomerCommand,
  type CustomerCommandType,
  customerCommandTypes,
  type Instant,
  lifecycleCommandTypes,
  Tier,
} from "@relata/domain"
import { customerCommand } from "@relata/domain/testing"
import fc from "fast-check"
import { otherCustomerId, purchase, source } from "./CustomerTestData.ts"

export const owners = [ActorId.make("rep-1"), ActorId.make("rep-2")]
export const contacts = [ContactId.make("contact-1"), ContactId.make("contact-2")]

/** One random step: a command type and the choices that fill it in. */
// Lifecycle commands are drawn more often, so sequences travel far through the lifecycle.
export const commandType = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...lifecycleCommandTypes) },
  { weight: 3, arbitrary: fc.constantFrom(...customerCommandTypes) },
)
export const stepWith = (type: fc.Arbitrary<CustomerCommandType>) =>
  fc.record({
    type,
    // Mostly managers, so most commands get past the permission check.
    role: fc.oneof(
      { weight: 8, arbitrary: fc.constant<ActorRole>("manager") },
      { weight: 2, arbitrary: fc.constantFrom(...ActorRole.literals) },
    ),
    daysLater: fc.integer({ min: 0, max: 30 }),
    backDays: fc.option(fc.integer({ min: -3, max: 400 }), { freq: 4 }),
    tier: fc.constantFrom(...Tier.literals),
    owner: fc.constantFrom(...owners),
    contact: fc.constantFrom(...contacts),
    withContact: fc.boolean(),
    duplicate: fc.constantFrom("none", "with reason", "without reason"),
    amountMinor: fc.integer({ min: 0, max: 1_000_000 }),
  })
export const step = stepWith(commandType)
export type Step = typeof step extends fc.Arbitrary<infer A> ? A : never

/** Builds the step's command, issued `daysLater` after the previous one (effectiveAt may be back- or future-dated). */
export const toCommand = (s: Step, issuedAt: Instant, index: number): CustomerCommand => {
  const envelope = {
    commandId: customerCommand("QualifyLead", {}).commandId,
    issuedAt,
    actor: { id: owners[0] as ActorId, role: s.role },
    ...(s.backDays === null ? {} : { effectiveAt: addDays(issuedAt, -s.backDays) }),
  }
  const reason = { reason: `reason ${index}` }
  const make = <T extends CustomerCommandType>(type: T, fields: Parameters<typeof customerCommand<T>>[1]) =>
    customerCommand(type, fields, envelope)
  switch (s.type) {
    case "RegisterLead":
      return make("RegisterLead", {
        profile: { name: "Acme Trading" },
        source,
        owner: s.owner,
        ...(s.duplicate === "none" ? {} : { duplicateOf: otherCustomerId }),
        ...(s.duplicate === "with reason" ? { allowDuplicateReason: "another branch" } : {}),
      })
    case "QualifyLead":
    case "ReopenLead":
    case "WinBackCustomer":
    case "ClassifyCustomer":
      return make(s.type, {})
    case "MarkDealLost":
    case "PromoteToLoyal":
    case "ChurnCustomer":
    case "FreezeAccount":
    case "UnfreezeAccount":
      return make(s.type, reason)
    case "ConvertToCustomer":
      return make("ConvertToCustomer", { firstPurchase: purchase(s.amountMinor) })
    case "RecordPurchase":
      return make("RecordPurchase", purchase(s.amountMinor))
    case "ChangeTier":
      return make("ChangeTier", { to: s.tier, ...reason })
    case "AssignOwner":
      return make("AssignOwner", { to: s.owner })
    case "AddContact":
      return make("AddContact", { contact: { contactId: s.contact, name: `Contact ${index}` } })
    case "UpdateContact":
      return make("UpdateContact", { contactId: s.contact, changes: { name: `Contact ${index % 3}` } })
    case "RemoveContact":
      return make("RemoveContact", { contactId: s.contact })
    case "RecordFollowUp":
      return make("RecordFollowUp", {
        channel: "phone",
        summary: "call",
        outcome: "fine",
        ...(s.withContact ? { contactId: s.contact } : {}),
      })
    case "UpdateProfile":
      return make("UpdateProfile", { changes: { company: `Company ${index % 2}` } })
  }
}

// Most sequences start by registering the customer; the rest show what an unknown customer rejects.
export const firstStep = stepWith(
  fc.oneof(
    { weight: 9, arbitrary: fc.constant<CustomerCommandType>("RegisterLead") },
    { weight: 1, arbitrary: commandType },
  ),
)
export const steps = fc
  .tuple(firstStep, fc.array(step, { minLength: 4, maxLength: 50, size: "max" }))
  .map(([first, rest]) => [first, ...rest])
