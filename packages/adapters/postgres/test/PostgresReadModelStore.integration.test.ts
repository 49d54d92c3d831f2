/**
 * The PostgreSQL read-model store under the real read side: customer cards projected from events
 * that the Customer command handler appended to the PostgreSQL event store, in the same schema.
 */
import { makePostgresEventStore, makePostgresReadModelStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import {
  ActorId,
  CommandId,
  CurrencyCode,
  CustomerDecider,
  type CustomerEvent,
  CustomerId,
  customerModel,
  customerStreamId,
  decodeCustomerEvent,
  type Email,
  type EventStoreService,
  foldEvents,
  Instant,
  LeadSource,
  makeCommandHandler,
} from "@relata/domain"
import { customerCommand } from "@relata/domain/testing"
import {
  CustomerCardProjection,
  customerCard,
  customerStateOf,
  findDuplicateCandidates,
  listCustomerCards,
  makeProjectionRunner,
  ReadModelStore,
  type ReadModelStoreService,
} from "@relata/projections"
import { Effect, Result } from "effect"
import pg from "pg"
import { expect, it } from "vitest"

const reps = [ActorId.make("rep-1"), ActorId.make("rep-2")] as const
const now = Instant.make("2024-06-01T00:00:00.000Z")
const ids = Array.from({ length: 30 }, (_, i) => `c${String(i).padStart(2, "0")}`)

const storesOn = (connectionString: string, schema: string) =>
  Effect.gen(function* () {
    const eventStore = yield* Effect.acquireRelease(
      makePostgresEventStore({ connectionString, schema, poolSize: 2 }),
      (store) => store.close,
    )
    const readModels = yield* Effect.acquireRelease(
      makePostgresReadModelStore({ connectionString, schema, poolSize: 2 }),
      (store) => store.close,
    )
    return { eventStore, readModels }
  })

/** Registers the customers `from..to`, qualifies the odd ones and converts every third. */
const customers = (eventStore: EventStoreService, from: number, to: number) =>
  Effect.gen(function* () {
    const handler = makeCommandHandler(customerModel(), { eventStore })
    let position = 0n
    for (const [i, id] of ids.entries()) {
      if (i < from || i >= to) continue
      const envelope = (n: number) => ({
        commandId: CommandId.make(`${id}-${n}`),
        customerId: CustomerId.make(id),
        issuedAt: Instant.make(new Date(Date.UTC(2024, 0, 1 + i, 9 + n)).toISOString()),
      })
      position = (yield* handler.handle(
        customerCommand(
          "RegisterLead",
          {
            profile: { name: `Customer ${i}`, email: `c${i}@example.com` as Email },
            source: LeadSource.make("web"),
            owner: reps[i % 2] as ActorId,
          },
          envelope(0),
        ),
      )).position
      if (i % 2 === 1)
        position = (yield* handler.handle(customerCommand("QualifyLead", {}, envelope(1)))).position
      if (i % 6 === 1) {
        position = (yield* handler.handle(
          customerCommand(
            "ConvertToCustomer",
            { firstPurchase: { amount: { amountMinor: 1_000 * i, currency: CurrencyCode.make("CNY") } } },
            envelope(2),
          ),
        )).position
      }
    }
    return position
  })

const expectCardsToBeFolds = (
  eventStore: EventStoreService,
  readModels: ReadModelStoreService,
  customerIds: ReadonlyArray<string>,
) =>
  Effect.gen(function* () {
    for (const id of customerIds) {
      const recorded = yield* eventStore.readStream(customerStreamId(CustomerId.make(id)))
      const events = recorded.map((e) =>
        Result.getOrThrow(decodeCustomerEvent(e)),
      ) as ReadonlyArray<CustomerEvent>
      const card = yield* Effect.provideService(
        customerCard(CustomerId.make(id), { now }),
        ReadModelStore,
        readModels,
      )
      if (card === undefined) throw new Error(`no card for ${id}`)
      const { overdue, ...stored } = card
      expect(customerStateOf(stored)).toEqual(foldEvents(CustomerDecider, events))
      expect(card.version).toBe(recorded.length)
    }
  })

const tablesOf = async (connectionString: string, schema: string): Promise<ReadonlyArray<string>> => {
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    const result = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'rm\\_%' ORDER BY 1",
      [schema],
    )
    return result.rows.map((row) => row.table_name)
  } finally {
    await client.end()
  }
}

describeWithPostgres("PostgresReadModelStore", (server) => {
  it("keeps customer cards beside the events: handler, runner, queries, a restart, a rebuild", async () => {
    const { connectionString } = server()
    const schema = uniqueSchemaName("cards")
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { eventStore, readModels } = yield* storesOn(connectionString, schema)
          const head = yield* customers(eventStore, 0, 20)
          const runner = yield* makeProjectionRunner(
            [CustomerCardProjection],
            { eventStore, readModels },
            { batchSize: 8 },
          )
          yield* runner.waitFor(head)
          yield* expectCardsToBeFolds(eventStore, readModels, ids.slice(0, 20))
        }),
      ),
    )
    expect(await tablesOf(connectionString, schema)).toEqual([
      "rm_customer_cards_g1",
      "rm_customer_duplicate_keys_g1",
    ])

    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { eventStore, readModels } = yield* storesOn(connectionString, schema)
          const head = yield* customers(eventStore, 20, 30)
          const runner = yield* makeProjectionRunner([CustomerCardProjection], { eventStore, readModels })
          // Resumes from its checkpoint: a repeated or missing event would stop the projection.
          yield* runner.waitFor(head)
          yield* expectCardsToBeFolds(eventStore, readModels, ids)

          const provide = <A, E>(effect: Effect.Effect<A, E, ReadModelStore>) =>
            Effect.provideService(effect, ReadModelStore, readModels)
          const prospects = yield* provide(
            listCustomerCards({
              now,
              filter: { owner: reps[1], stage: "prospect" },
              search: "CUSTOMER",
              limit: 4,
            }),
          )
          expect(prospects.cards).toHaveLength(4)
          expect(prospects.cards.every((c) => c.owner === reps[1] && c.stage === "prospect")).toBe(true)
          const names = prospects.cards.map((c) => c.profile.name.toLowerCase())
          expect([...names].sort()).toEqual(names)
          const duplicates = yield* provide(
            findDuplicateCandidates({ name: "customer 7", email: "c7@example.com" as Email }),
          )
          expect(duplicates.map((d) => [d.customerId, d.matchedOn])).toEqual([["c07", ["name", "email"]]])
          // The plan depends on the table's statistics; that it reads the active generation's table holds.
          expect(
            yield* readModels.explain("customer_cards", {
              where: { owner: "rep-1" },
              orderBy: { field: "name" },
            }),
          ).toContain("rm_customer_cards_g1")

          const before = yield* readModels.query("customer_cards", { limit: 1_000 })
          expect((yield* runner.rebuild("customer-cards")).state).toBe("switched")
          expect(yield* readModels.query("customer_cards", { limit: 1_000 })).toEqual(before)
        }),
      ),
    )
    expect(await tablesOf(connectionString, schema)).toEqual([
      "rm_customer_cards_g2",
      "rm_customer_duplicate_keys_g2",
    ])
  })
})
