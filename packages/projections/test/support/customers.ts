/**
 * Customers made through the real command path for the card tests: commands go through the
 * Customer command handler on an event store, each at its own instant of the test clock (so the
 * events' recordedAt is the command's issue instant).
 */
import {
  ActorId,
  type CommandEnvelope,
  CommandId,
  type CommandResult,
  type CreditLevel,
  CurrencyCode,
  type CustomerCommandType,
  type CustomerEvent,
  CustomerId,
  type CustomerState,
  customerModel,
  type Email,
  type EventStoreService,
  Industry,
  Instant,
  LeadSource,
  makeCommandHandler,
  type Phone,
  type Purchase,
  Region,
  type Tier,
} from "@relata/domain"
import { type CommandFields, customerCommand } from "@relata/domain/testing"
import { Effect } from "effect"
import { TestClock } from "effect/testing"

export const instant = (iso: string): Instant => Instant.make(iso)
export const reps = [ActorId.make("rep-1"), ActorId.make("rep-2"), ActorId.make("rep-3")] as const
export const source = LeadSource.make("trade fair")
export const eur = (amountMinor: number): Purchase => ({
  amount: { amountMinor, currency: CurrencyCode.make("EUR") },
})

/** Sends Customer commands through the real handler, setting the test clock to each command's issue instant. */
export const customerCommands = (eventStore: EventStoreService) => {
  const handler = makeCommandHandler(customerModel(), { eventStore })
  let sent = 0
  return <T extends CustomerCommandType>(
    customerId: string,
    issuedAt: string,
    type: T,
    fields: CommandFields<T>,
    envelope: Partial<CommandEnvelope> = {},
  ): Effect.Effect<CommandResult<CustomerEvent, CustomerState>, unknown> =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse(issuedAt))
      sent++
      return yield* handler.handle(
        customerCommand(type, fields, {
          commandId: CommandId.make(`command-${sent}`),
          customerId: CustomerId.make(customerId),
          issuedAt: instant(issuedAt),
          ...envelope,
        }),
      )
    })
}

export type Send = ReturnType<typeof customerCommands>

const regions = ["north", "south", "east", "west"] as const
const industries = ["retail", "energy", "software"] as const
const credit: ReadonlyArray<CreditLevel> = ["excellent", "good", "fair", "poor"]
const tiers: ReadonlyArray<Tier> = ["A", "B", "C", "D"]
const names = [
  "Acme Trading",
  "Beijing Lighting Co.",
  "Café Lumière",
  "Delta Logistics",
  "East Wind Foods",
  "ＦＵＪＩ Components",
  "Golden Bridge",
  "Harbour Steel",
] as const

/** The customer id of the `i`-th customer of `aBookOfCustomers`. */
export const customerIdOf = (i: number): CustomerId => CustomerId.make(`c${String(i).padStart(2, "0")}`)

/** The instant of hour `hour` on the `i`-th day of 2024 (day 0 is January 1st). */
export const dayOf = (i: number, hour = 9): string => new Date(Date.UTC(2024, 0, 1 + i, hour)).toISOString()

/**
 * Registers `count` customers, one a day from January 1st 2024, with owners, regions, industries,
 * credit levels and tiers in rotation, and walks them through the lifecycle: by `i % 5` a lead, a
 * prospect, a customer with purchases, a churned customer, or a lead whose deal was lost; every
 * seventh is frozen and every fourth followed up. Answers the position of the last event.
 */
export const aBookOfCustomers = (send: Send, count = 24) =>
  Effect.gen(function* () {
    let position = 0n
    for (let i = 0; i < count; i++) {
      const id = customerIdOf(i)
      const hour = (h: number) => dayOf(i, h)
      const name = `${names[i % names.length]} ${i}`
      position = (yield* send(id, hour(9), "RegisterLead", {
        profile: {
          name,
          ...(i % 2 === 0 ? { email: `contact${i}@example.com` as Email } : {}),
          ...(i % 3 === 0 ? { company: `Group ${i % 4}` } : {}),
          ...(i % 4 === 1 ? { phone: `+86100000${String(i).padStart(4, "0")}` as Phone } : {}),
          region: Region.make(regions[i % regions.length] as string),
          industry: Industry.make(industries[Math.floor(i / 3) % industries.length] as string),
          creditLevel: credit[(i + 1) % credit.length] as CreditLevel,
        },
        source,
        owner: reps[i % reps.length] as ActorId,
        tier: tiers[i % tiers.length] as Tier,
      })).position
      switch (i % 5) {
        case 1:
          position = (yield* send(id, hour(10), "QualifyLead", {})).position
          break
        case 2:
        case 3:
          yield* send(id, hour(10), "QualifyLead", {})
          position = (yield* send(id, hour(11), "ConvertToCustomer", { firstPurchase: eur(1_000 * i) }))
            .position
          position = (yield* send(id, hour(12), "RecordPurchase", eur(500))).position
          if (i % 5 === 3)
            position = (yield* send(id, hour(13), "ChurnCustomer", { reason: "moved away" })).position
          break
        case 4:
          position = (yield* send(id, hour(10), "MarkDealLost", { reason: "no budget" })).position
          break
      }
      if (i % 4 === 0) {
        position = (yield* send(id, hour(14), "RecordFollowUp", {
          channel: "phone",
          summary: "called",
          outcome: "interested",
        })).position
      }
      if (i % 7 === 3)
        position = (yield* send(id, hour(15), "FreezeAccount", { reason: "payment dispute" })).position
    }
    return position
  })
