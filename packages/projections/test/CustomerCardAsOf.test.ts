import { describe, expect, it } from "@effect/vitest"
import { CustomerId, makeInMemoryEventStore } from "@relata/domain"
import {
  CustomerCardProjection,
  customerCard,
  customerCardAsOf,
  makeInMemoryReadModelStore,
  makeProjectionRunner,
  ReadModelStore,
} from "@relata/projections"
import { Effect } from "effect"
import { customerCommands, eur, instant, reps, source } from "./support/customers.ts"

const customerId = CustomerId.make("c1")

/**
 * One customer's year: registered on January 1st (tier D), qualified on the 10th, raised to A on
 * February 1st, converted on February 20th, then, on March 1st, someone records that it had really
 * been tier B since January 15th (a back-dated change).
 */
const aYear = Effect.gen(function* () {
  const eventStore = makeInMemoryEventStore()
  const send = customerCommands(eventStore)
  const registered = yield* send(customerId, "2024-01-01T09:00:00.000Z", "RegisterLead", {
    profile: { name: "Acme Trading" },
    source,
    owner: reps[0],
  })
  const qualified = yield* send(customerId, "2024-01-10T09:00:00.000Z", "QualifyLead", {})
  const raised = yield* send(customerId, "2024-02-01T09:00:00.000Z", "ChangeTier", {
    to: "A",
    reason: "big order coming",
  })
  yield* send(customerId, "2024-02-20T09:00:00.000Z", "ConvertToCustomer", { firstPurchase: eur(50_000) })
  const corrected = yield* send(
    customerId,
    "2024-03-01T09:00:00.000Z",
    "ChangeTier",
    { to: "B", reason: "correction: B since mid-January" },
    { effectiveAt: instant("2024-01-15T00:00:00.000Z") },
  )
  return { eventStore, registered, qualified, raised, corrected }
})

describe("customerCardAsOf", () => {
  it.effect("rebuilds the card as the store held it at a global position", () =>
    Effect.gen(function* () {
      const { eventStore, registered, qualified } = yield* aYear
      expect(
        yield* customerCardAsOf(eventStore, customerId, { position: registered.position - 1n }),
      ).toBeUndefined()
      expect(
        yield* customerCardAsOf(eventStore, customerId, { position: registered.position }),
      ).toMatchObject({
        stage: "lead",
        tier: "D",
        version: 1,
        position: registered.position.toString(),
      })
      expect(yield* customerCardAsOf(eventStore, customerId, { position: qualified.position })).toMatchObject(
        {
          stage: "prospect",
          stageSince: "2024-01-10T09:00:00.000Z",
          version: 2,
          modifiedAt: "2024-01-10T09:00:00.000Z",
        },
      )
    }),
  )

  it.effect("as recorded by an instant: later corrections do not count", () =>
    Effect.gen(function* () {
      const { eventStore } = yield* aYear
      const asRecorded = (at: string) => customerCardAsOf(eventStore, customerId, { recordedAt: instant(at) })
      expect(yield* asRecorded("2023-12-31T00:00:00.000Z")).toBeUndefined()
      expect(yield* asRecorded("2024-01-20T00:00:00.000Z")).toMatchObject({ stage: "prospect", tier: "D" })
      expect(yield* asRecorded("2024-02-25T00:00:00.000Z")).toMatchObject({
        stage: "customer",
        tier: "A",
        tierSince: "2024-02-01T09:00:00.000Z",
        lifetimeValue: { EUR: 50_000 },
        version: 4,
      })
      // On March 1st the back-dated correction was recorded: B, since January 15th.
      expect(yield* asRecorded("2024-03-02T00:00:00.000Z")).toMatchObject({
        tier: "B",
        tierSince: "2024-01-15T00:00:00.000Z",
        version: 5,
      })
    }),
  )

  it.effect("as effective at a business date: a back-dated tier change counts from its effective date", () =>
    Effect.gen(function* () {
      const { eventStore } = yield* aYear
      const effectiveAt = (at: string) =>
        customerCardAsOf(eventStore, customerId, { effectiveAt: instant(at) })
      // Knowing what we know now, the customer was tier B from January 15th...
      expect(yield* effectiveAt("2024-01-12T00:00:00.000Z")).toMatchObject({ stage: "prospect", tier: "D" })
      expect(yield* effectiveAt("2024-01-20T00:00:00.000Z")).toMatchObject({
        stage: "prospect",
        tier: "B",
        tierSince: "2024-01-15T00:00:00.000Z",
      })
      // ...then A from February 1st, the change that was effective later.
      expect(yield* effectiveAt("2024-02-10T00:00:00.000Z")).toMatchObject({ tier: "A", stage: "prospect" })
      expect(yield* effectiveAt("2024-02-25T00:00:00.000Z")).toMatchObject({
        tier: "A",
        stage: "customer",
        version: 5,
      })
      // Both readings at once: as recorded on February 15th, effective on January 20th, B was not known yet.
      expect(
        yield* customerCardAsOf(eventStore, customerId, {
          recordedAt: instant("2024-02-15T00:00:00.000Z"),
          effectiveAt: instant("2024-01-20T00:00:00.000Z"),
        }),
      ).toMatchObject({ tier: "D", stage: "prospect" })
    }),
  )

  it.effect("at the head equals the projected card, which shows the last recorded tier", () =>
    Effect.gen(function* () {
      const { eventStore, corrected } = yield* aYear
      const readModels = makeInMemoryReadModelStore()
      const runner = yield* makeProjectionRunner([CustomerCardProjection], { eventStore, readModels })
      yield* runner.waitFor(corrected.position)
      const now = instant("2024-03-02T00:00:00.000Z")
      const card = yield* Effect.provideService(customerCard(customerId, { now }), ReadModelStore, readModels)
      const asOf = yield* customerCardAsOf(eventStore, customerId, { position: corrected.position })
      expect(card).toEqual({ ...asOf, overdue: card?.overdue })
      expect(card).toMatchObject({ tier: "B", tierSince: "2024-01-15T00:00:00.000Z" })
    }),
  )
})
