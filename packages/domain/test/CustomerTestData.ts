/** Shared values for the Customer tests: ids, instants and ready-made events. */
import {
  ActorId,
  addDays,
  ContactId,
  type CustomerEvent,
  CustomerId,
  Instant,
  LeadSource,
  type Purchase,
} from "@relata/domain"
import { fixtureEnvelope } from "@relata/domain/testing"

export const customerId = fixtureEnvelope.customerId
export const otherCustomerId = CustomerId.make("customer-2")
export const manager = fixtureEnvelope.actor
export const rep = ActorId.make("rep-1")
export const otherRep = ActorId.make("rep-2")
export const contactId = ContactId.make("contact-1")
export const source = LeadSource.make("trade fair")

/** The fixtures' issue instant, and days after it. */
export const t0 = fixtureEnvelope.issuedAt
export const day = (n: number): Instant => addDays(t0, n)
export const instant = (s: string): Instant => Instant.make(s)

const base = (occurredAt: Instant = t0) => ({ customerId, occurredAt })

export const purchase = (amountMinor = 10_000, currency = "EUR"): Purchase =>
  ({ amount: { amountMinor, currency } }) as Purchase

export const leadRegistered = (occurredAt: Instant = t0): CustomerEvent => ({
  _tag: "LeadRegistered",
  ...base(occurredAt),
  profile: { name: "Acme Trading" },
  source,
  owner: rep,
  tier: "D",
})
export const leadQualified = (occurredAt: Instant = t0): CustomerEvent => ({
  _tag: "LeadQualified",
  ...base(occurredAt),
})
export const dealLost = (occurredAt: Instant = t0): CustomerEvent => ({
  _tag: "DealLost",
  ...base(occurredAt),
  reason: "no budget this year",
})
export const customerConverted = (occurredAt: Instant = t0): CustomerEvent => ({
  _tag: "CustomerConverted",
  ...base(occurredAt),
  firstPurchase: purchase(),
})
export const purchaseRecorded = (occurredAt: Instant = t0, amountMinor = 10_000): CustomerEvent => ({
  _tag: "PurchaseRecorded",
  ...base(occurredAt),
  ...purchase(amountMinor),
})
export const becameLoyal = (occurredAt: Instant = t0): CustomerEvent => ({
  _tag: "CustomerBecameLoyal",
  ...base(occurredAt),
  by: "hand",
  reason: "strategic partner",
})
export const churned = (occurredAt: Instant = t0): CustomerEvent => ({
  _tag: "CustomerChurned",
  ...base(occurredAt),
  reason: "moved to a competitor",
})
export const accountFrozen = (occurredAt: Instant = t0): CustomerEvent => ({
  _tag: "AccountFrozen",
  ...base(occurredAt),
  reason: "payment dispute",
})
export const contactAdded = (occurredAt: Instant = t0): CustomerEvent => ({
  _tag: "ContactAdded",
  ...base(occurredAt),
  contact: { contactId, name: "Li Wei", title: "Buyer" },
})

/** Histories that leave the customer in each stage. */
export const asLead = [leadRegistered()]
export const asProspect = [...asLead, leadQualified()]
export const asCustomer = [...asProspect, customerConverted()]
export const asLoyal = [...asCustomer, becameLoyal()]
export const asChurned = [...asCustomer, churned()]
