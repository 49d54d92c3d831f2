import { describe, expect, it } from "@effect/vitest"
import {
  ActorId,
  ContactId,
  CustomerDecider,
  type CustomerEvent,
  type CustomerId,
  customerStreamId,
  Department,
  decodeCustomerEvent,
  type Email,
  type EventStoreService,
  foldEvents,
  isFollowUpOverdue,
  makeInMemoryEventStore,
  nextFollowUpDue,
} from "@relata/domain"
import {
  CustomerCardProjection,
  customerCard,
  customerCardAsOf,
  customerStateOf,
  makeInMemoryReadModelStore,
  makeProjectionRunner,
  ReadModelStore,
  type ReadModelStoreService,
} from "@relata/projections"
import { Effect, Result } from "effect"
import { aBookOfCustomers, customerCommands, customerIdOf, dayOf, eur, instant } from "./support/customers.ts"

const now = instant("2024-03-01T00:00:00.000Z")

/** The customer's events as stored, decoded. */
const streamOf = (eventStore: EventStoreService, customerId: CustomerId) =>
  Effect.map(eventStore.readStream(customerStreamId(customerId)), (recorded) => ({
    recorded,
    events: recorded.map((e) => Result.getOrThrow(decodeCustomerEvent(e))) as ReadonlyArray<CustomerEvent>,
  }))

/** Checks that the card of every customer is the fold of its events, with the derived fields. */
const expectCardsToBeFolds = (
  eventStore: EventStoreService,
  readModels: ReadModelStoreService,
  customerIds: ReadonlyArray<CustomerId>,
) =>
  Effect.gen(function* () {
    for (const customerId of customerIds) {
      const { recorded, events } = yield* streamOf(eventStore, customerId)
      const state = foldEvents(CustomerDecider, events)
      if (state.status !== "registered") throw new Error(`${customerId} is not registered`)
      const card = yield* Effect.provideService(customerCard(customerId, { now }), ReadModelStore, readModels)
      if (card === undefined) throw new Error(`no card for ${customerId}`)
      const { overdue, ...stored } = card
      expect(customerStateOf(stored)).toEqual(state)
      expect(card).toMatchObject({
        version: recorded.length,
        position: recorded.at(-1)?.position.toString(),
        createdAt: recorded[0]?.metadata.recordedAt,
        modifiedAt: recorded.at(-1)?.metadata.recordedAt,
        nextFollowUpDue: nextFollowUpDue(state),
        lifetimeValue: state.purchases.totals,
      })
      expect(overdue).toBe(isFollowUpOverdue(state, now))
    }
  })

describe("CustomerCardProjection", () => {
  it.effect("keeps every card equal to the fold of its customer's events, plus the derived fields", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      const send = customerCommands(eventStore)
      yield* aBookOfCustomers(send, 24)
      // One customer goes through everything else the card shows.
      const c = customerIdOf(0)
      const contactId = ContactId.make("contact-1")
      yield* send(c, dayOf(40), "AddContact", { contact: { contactId, name: "Li Wei", title: "Buyer" } })
      yield* send(c, dayOf(41), "UpdateContact", { contactId, changes: { title: "Head of purchasing" } })
      yield* send(c, dayOf(42), "ChangeTier", { to: "B", reason: "bigger orders expected" })
      yield* send(c, dayOf(43), "AssignOwner", {
        to: ActorId.make("rep-9"),
        department: Department.make("Key accounts"),
      })
      yield* send(c, dayOf(44), "UpdateProfile", {
        changes: { email: "buyer@acme.example" as Email, company: null },
      })
      yield* send(c, dayOf(45), "QualifyLead", {})
      yield* send(c, dayOf(46), "ConvertToCustomer", { firstPurchase: eur(70_000) })
      yield* send(c, dayOf(47), "PromoteToLoyal", { reason: "strategic partner" })
      const head = (yield* send(c, dayOf(48), "RecordFollowUp", {
        channel: "visit",
        summary: "visit",
        outcome: "happy",
      })).position

      const readModels = makeInMemoryReadModelStore()
      // Small batches: a customer's events are spread over several transactions.
      const runner = yield* makeProjectionRunner(
        [CustomerCardProjection],
        { eventStore, readModels },
        { batchSize: 7 },
      )
      yield* runner.waitFor(head)
      const ids = Array.from({ length: 24 }, (_, i) => customerIdOf(i))
      yield* expectCardsToBeFolds(eventStore, readModels, ids)

      const card = yield* Effect.provideService(customerCard(c, { now }), ReadModelStore, readModels)
      expect(card).toMatchObject({
        stage: "loyal",
        tier: "B",
        owner: "rep-9",
        department: "Key accounts",
        contacts: [{ contactId: "contact-1", name: "Li Wei", title: "Head of purchasing" }],
        purchases: { count: 1, totals: { EUR: 70_000 } },
        lifetimeValue: { EUR: 70_000 },
        followUps: 2,
        profile: { name: "Acme Trading 0", email: "buyer@acme.example" },
      })
      expect(card?.profile.company).toBeUndefined()
      expect(
        yield* Effect.provideService(customerCard(customerIdOf(99)), ReadModelStore, readModels),
      ).toBeUndefined()
    }),
  )

  it.effect("gives the same cards after a rebuild, and the same as the card as of the head", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      const head = yield* aBookOfCustomers(customerCommands(eventStore), 15)
      const readModels = makeInMemoryReadModelStore()
      const runner = yield* makeProjectionRunner([CustomerCardProjection], { eventStore, readModels })
      yield* runner.waitFor(head)
      const ids = Array.from({ length: 15 }, (_, i) => customerIdOf(i))
      const cardsOf = Effect.forEach(ids, (id) =>
        Effect.provideService(customerCard(id, { now }), ReadModelStore, readModels),
      )
      const before = yield* cardsOf
      expect((yield* runner.rebuild("customer-cards")).state).toBe("switched")
      expect(yield* cardsOf).toEqual(before)
      for (const [i, id] of ids.entries()) {
        const asOf = yield* customerCardAsOf(eventStore, id, { position: head })
        expect({ ...asOf, overdue: before[i]?.overdue }).toEqual(before[i])
      }
    }),
  )
})
