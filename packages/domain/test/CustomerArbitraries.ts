/**
 * fast-check arbitraries for Customer events. Literal sets come from the schemas; every generated
 * event is checked against the `CustomerEvent` schema, so a drift between the two fails loudly.
 */
import {
  ActorRole,
  CompanySize,
  CreditLevel,
  type CustomerEvent,
  CustomerEvent as CustomerEventSchema,
  FollowUpChannel,
  Tier,
} from "@relata/domain"
import { Schema } from "effect"
import fc from "fast-check"

const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,30}$/)
const instant = fc
  .date({
    min: new Date("1990-01-01T00:00:00.000Z"),
    max: new Date("2090-12-31T23:59:59.999Z"),
    noInvalidDate: true,
  })
  .map((date) => date.toISOString())
const text = (maxLength: number) =>
  fc
    .string({ minLength: 1, maxLength, unit: "binary" })
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
const email = fc
  .emailAddress()
  .map((s) => s.toLowerCase())
  .filter((s) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s) && s.length <= 254)
const phone = fc.stringMatching(/^\+?\d{3,20}$/)
const money = fc.record({
  amountMinor: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  currency: fc.stringMatching(/^[A-Z]{3}$/),
})
const purchase = fc.record(
  { purchaseId: id, amount: money, description: text(500) },
  { requiredKeys: ["amount"] },
)
const reason = text(2000)
const tier = fc.constantFrom(...Tier.literals)
const profileFields = {
  company: text(200),
  email,
  phone,
  fax: phone,
  address: text(500),
  website: text(500),
  industry: text(100),
  size: fc.constantFrom(...CompanySize.literals),
  region: text(100),
  creditLevel: fc.constantFrom(...CreditLevel.literals),
}
const profile = fc.record({ name: text(200), ...profileFields }, { requiredKeys: ["name"] })
const nullable = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null })
const profileChanges = fc.record(
  {
    name: text(200),
    ...Object.fromEntries(
      Object.entries(profileFields).map(([key, arbitrary]) => [key, nullable(arbitrary)]),
    ),
  },
  { requiredKeys: [] },
)
const contact = fc.record(
  { contactId: id, name: text(200), title: text(200), phone, email },
  { requiredKeys: ["contactId", "name"] },
)
const contactChanges = fc.record(
  { name: text(200), title: nullable(text(200)), phone: nullable(phone), email: nullable(email) },
  { requiredKeys: [] },
)
// JSON has no -0: it comes back as 0, so the round trip could not be exact.
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n))
const classification = fc.record({
  score: fc.double({ min: 0, max: 100, noNaN: true }),
  ruleVersion: text(50),
  inputs: fc.dictionary(fc.string(), fc.oneof(finite, fc.string(), fc.boolean(), fc.constant(null))),
})

const event = <Fields extends Record<string, fc.Arbitrary<unknown>>>(
  tag: string,
  fields: Fields,
  requiredKeys: ReadonlyArray<keyof Fields & string> = Object.keys(fields),
) =>
  fc
    .record(
      { customerId: id, occurredAt: instant, ...fields },
      { requiredKeys: ["customerId", "occurredAt", ...requiredKeys] },
    )
    .map((data) => ({ _tag: tag, ...data }))

/** Any Customer event, with every optional field sometimes present. */
export const customerEventArbitrary: fc.Arbitrary<CustomerEvent> = fc
  .oneof(
    event(
      "LeadRegistered",
      {
        profile,
        source: text(100),
        owner: id,
        department: text(100),
        tier,
        duplicateOf: id,
        allowDuplicateReason: reason,
      },
      ["profile", "source", "owner", "tier"],
    ),
    event("LeadQualified", { reason }, []),
    event("DealLost", { reason }),
    event("LeadReopened", { reason }, []),
    event("CustomerConverted", { firstPurchase: purchase }),
    fc.tuple(purchase, instant, id).map(([p, occurredAt, customerId]) => ({
      _tag: "PurchaseRecorded",
      customerId,
      occurredAt,
      ...p,
    })),
    event(
      "CustomerBecameLoyal",
      { by: fc.constantFrom("policy" as const, "hand" as const), reason, rule: text(200) },
      ["by", "reason"],
    ),
    event("CustomerChurned", { reason }),
    event("CustomerWinBackStarted", { reason }, []),
    event("TierChanged", { from: tier, to: tier, reason, suggestion: tier, classification }, [
      "from",
      "to",
      "reason",
    ]),
    event("AccountFrozen", { reason }),
    event("AccountUnfrozen", { reason }),
    event("OwnerAssigned", { from: id, to: id, department: text(100), reason }, ["from", "to"]),
    event("ContactAdded", { contact }),
    event("ContactUpdated", { contactId: id, changes: contactChanges }),
    event("ContactRemoved", { contactId: id, reason }, ["contactId"]),
    event(
      "FollowUpRecorded",
      {
        at: instant,
        channel: fc.constantFrom(...FollowUpChannel.literals),
        contactId: id,
        summary: text(5000),
        outcome: text(1000),
      },
      ["at", "channel", "summary", "outcome"],
    ),
    event("ProfileUpdated", { changes: profileChanges }),
  )
  .map((generated) => Schema.decodeUnknownSync(CustomerEventSchema)(generated))

/** An actor role, from the schema's literals. */
export const actorRoleArbitrary = fc.constantFrom(...ActorRole.literals)
