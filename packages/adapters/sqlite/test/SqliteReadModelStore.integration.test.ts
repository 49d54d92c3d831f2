import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { describe, expect, it } from "@effect/vitest"
import { makeSqliteEventStore, makeSqliteReadModelStore } from "@relata/adapter-sqlite"
import {
  ActorId,
  CommandId,
  CurrencyCode,
  type CustomerCommandType,
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
  Region,
} from "@relata/domain"
import { type CommandFields, customerCommand } from "@relata/domain/testing"
import {
  CustomerCardProjection,
  customerCard,
  customerStateOf,
  defineCollection,
  Field,
  listCustomerCards,
  makeProjectionRunner,
  overdueFollowUps,
  type ReadModelDefinition,
  ReadModelStore,
  type ReadModelStoreService,
} from "@relata/projections"
import { Effect, Result } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"

const tempFile = Effect.acquireRelease(
  Effect.sync(() =>
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-cards-")), "relata.sqlite"),
  ),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

/** Both stores on one file, each on its own connection, closed with the scope. */
const storesOn = (file: string) =>
  Effect.gen(function* () {
    const eventStore = yield* Effect.acquireRelease(
      makeSqliteEventStore({ path: file }),
      (store) => store.close,
    )
    const readModels = yield* Effect.acquireRelease(
      makeSqliteReadModelStore({ path: file }),
      (store) => store.close,
    )
    return { eventStore, readModels }
  })

const reps = [ActorId.make("rep-1"), ActorId.make("rep-2"), ActorId.make("rep-3")] as const
const regions = ["north", "south", "east"] as const
const now = Instant.make("2024-04-01T00:00:00.000Z")

/** Sends commands through the real Customer command handler, the test clock at each issue instant. */
const commandsOn = (eventStore: EventStoreService, first = 0) => {
  const handler = makeCommandHandler(customerModel(), { eventStore })
  let sent = first
  return <T extends CustomerCommandType>(
    customerId: string,
    issuedAt: string,
    type: T,
    fields: CommandFields<T>,
  ) =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse(issuedAt))
      sent++
      return yield* handler.handle(
        customerCommand(type, fields, {
          commandId: CommandId.make(`command-${sent}`),
          customerId: CustomerId.make(customerId),
          issuedAt: Instant.make(issuedAt),
        }),
      )
    })
}

const day = (n: number, hour = 9) => new Date(Date.UTC(2024, 0, 1 + n, hour)).toISOString()

/** `count` customers from day `from`: registered, most qualified, some converted with a purchase, some followed up. */
const customers = (send: ReturnType<typeof commandsOn>, from: number, count: number) =>
  Effect.gen(function* () {
    let position = 0n
    for (let i = from; i < from + count; i++) {
      const id = `c${String(i).padStart(3, "0")}`
      position = (yield* send(id, day(i), "RegisterLead", {
        profile: {
          name: `Customer ${i} ${i % 2 === 0 ? "Trading" : "Foods"}`,
          email: `buyer${i}@example.com` as Email,
          region: Region.make(regions[i % regions.length] as string),
        },
        source: LeadSource.make("web"),
        owner: reps[i % reps.length] as ActorId,
        tier: i % 3 === 0 ? "A" : "C",
      })).position
      if (i % 4 !== 0) position = (yield* send(id, day(i, 10), "QualifyLead", {})).position
      if (i % 4 === 2) {
        position = (yield* send(id, day(i, 11), "ConvertToCustomer", {
          firstPurchase: { amount: { amountMinor: 100 * i, currency: CurrencyCode.make("EUR") } },
        })).position
      }
      if (i % 5 === 0) {
        position = (yield* send(id, day(i, 12), "RecordFollowUp", {
          channel: "phone",
          summary: "s",
          outcome: "o",
        })).position
      }
    }
    return position
  })

/** Checks every card against the fold of its stream. */
const expectCardsToBeFolds = (
  eventStore: EventStoreService,
  readModels: ReadModelStoreService,
  ids: ReadonlyArray<string>,
) =>
  Effect.gen(function* () {
    for (const id of ids) {
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
      expect(card.position).toBe(recorded.at(-1)?.position.toString())
    }
  })

const tablesOf = (file: string): ReadonlyArray<string> => {
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    return db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rm\\_%' ESCAPE '\\' ORDER BY name",
      )
      .all()
      .map((row) => String(row.name))
  } finally {
    db.close()
  }
}

/** A searchable table's FTS5 search index and the tables FTS5 keeps it in. */
const searchIndexTables = (table: string): ReadonlyArray<string> =>
  ["", "_config", "_data", "_idx"].map((suffix) => `${table}_search_fts${suffix}`)

/** The secondary indexes of a table (not its primary key's). */
const indexesOf = (file: string, table: string): ReadonlyArray<string> => {
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    return db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name NOT LIKE 'sqlite\\_autoindex%' ESCAPE '\\' ORDER BY name",
      )
      .all(table)
      .map((row) => String(row.name))
  } finally {
    db.close()
  }
}

describe("SqliteReadModelStore", () => {
  it.effect(
    "keeps customer cards in the events' file: commands through the handler, the runner, queries, a restart",
    () =>
      Effect.gen(function* () {
        const file = yield* tempFile
        const ids = Array.from({ length: 60 }, (_, i) => `c${String(i).padStart(3, "0")}`)

        yield* Effect.scoped(
          Effect.gen(function* () {
            const { eventStore, readModels } = yield* storesOn(file)
            const head = yield* customers(commandsOn(eventStore), 0, 40)
            const runner = yield* makeProjectionRunner(
              [CustomerCardProjection],
              { eventStore, readModels },
              { batchSize: 25 },
            )
            yield* runner.waitFor(head)
            yield* expectCardsToBeFolds(eventStore, readModels, ids.slice(0, 40))
            expect(yield* readModels.generations("customer-cards")).toEqual([
              {
                projection: "customer-cards",
                generation: 1,
                version: CustomerCardProjection.version,
                checkpoint: head,
                active: true,
              },
            ])
          }),
        )
        expect(tablesOf(file)).toEqual([
          "rm_customer_cards_g1",
          ...searchIndexTables("rm_customer_cards_g1"),
          "rm_customer_duplicate_keys_g1",
        ])

        // Reopened: the runner goes on from its checkpoint; a repeated or missing event would stop it.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { eventStore, readModels } = yield* storesOn(file)
            const head = yield* customers(commandsOn(eventStore, 1_000), 40, 20)
            const runner = yield* makeProjectionRunner([CustomerCardProjection], { eventStore, readModels })
            yield* runner.waitFor(head)
            expect((yield* runner.statusOf("customer-cards")).state).toBe("running")
            yield* expectCardsToBeFolds(eventStore, readModels, ids)

            const provide = <A, E>(effect: Effect.Effect<A, E, ReadModelStore>) =>
              Effect.provideService(effect, ReadModelStore, readModels)
            const page = yield* provide(
              listCustomerCards({
                now,
                filter: { owner: reps[1], stage: "prospect" },
                search: "FOODS",
                limit: 3,
              }),
            )
            expect(page.cards.length).toBe(3)
            expect(page.cards.every((c) => c.owner === reps[1] && c.stage === "prospect")).toBe(true)
            expect(page.cards.every((c) => c.profile.name.includes("Foods"))).toBe(true)
            const names = page.cards.map((c) => c.profile.name.toLowerCase())
            expect([...names].sort()).toEqual(names)

            const overdue = yield* provide(overdueFollowUps([reps[0], reps[2]], { now, limit: 1_000 }))
            expect(overdue.cards.length).toBeGreaterThan(0)
            expect(overdue.cards.every((c) => c.overdue && c.owner !== reps[1])).toBe(true)
            const dues = overdue.cards.map((c) => c.nextFollowUpDue ?? "")
            expect([...dues].sort()).toEqual(dues)
          }),
        )
      }),
  )

  it.effect("answers the card lists from indexes, without a sort step", () =>
    Effect.gen(function* () {
      const file = yield* tempFile
      const { eventStore, readModels } = yield* storesOn(file)
      const head = yield* customers(commandsOn(eventStore), 0, 30)
      const runner = yield* makeProjectionRunner([CustomerCardProjection], { eventStore, readModels })
      yield* runner.waitFor(head)
      const plan = (query: Parameters<typeof readModels.explain>[1]) =>
        readModels.explain("customer_cards", query)
      const byOwnerAndName = yield* plan({ where: { owner: "rep-1" }, orderBy: { field: "name" } })
      expect(byOwnerAndName).toContain("USING INDEX rm_customer_cards_g1_i0")
      const overdue = yield* plan({
        where: { owner: { in: ["rep-1", "rep-2"] }, followUpDue: { lt: now } },
        orderBy: { field: "followUpDue" },
      })
      expect(overdue).toMatch(/USING INDEX rm_customer_cards_g1_(i1|followUpDue)/)
      const byStage = yield* plan({
        where: { stage: "lead" },
        orderBy: { field: "registeredAt", direction: "desc" },
      })
      expect(byStage).toContain("USING INDEX")
      // The lists reps and managers open most: a stage of one owner by name, one owner by last
      // change, a stage by name; each read in the index's order.
      const byOwnerStageAndName = yield* plan({
        where: { owner: "rep-1", stage: "lead" },
        orderBy: { field: "name" },
      })
      expect(byOwnerStageAndName).toContain("USING INDEX rm_customer_cards_g1_i2")
      const byOwnerAndChange = yield* plan({
        where: { owner: "rep-1" },
        orderBy: { field: "updatedAt", direction: "desc" },
      })
      expect(byOwnerAndChange).toContain("USING INDEX rm_customer_cards_g1_i3")
      const byStageAndName = yield* plan({ where: { stage: "customer" }, orderBy: { field: "name" } })
      expect(byStageAndName).toContain("USING INDEX rm_customer_cards_g1_i4")
      const page = yield* readModels.query("customer_cards", { orderBy: { field: "name" }, limit: 5 })
      const next = yield* plan({ orderBy: { field: "name" }, after: page.next as string })
      for (const explained of [byOwnerAndName, byOwnerStageAndName, byOwnerAndChange, byStageAndName, next]) {
        expect(explained).not.toContain("TEMP B-TREE")
        expect(explained).not.toMatch(/SCAN rm_customer_cards_g1$/m)
      }
      expect(next).toContain("USING INDEX rm_customer_cards_g1_name")
    }),
  )

  it.effect("rebuilds into new tables beside the old ones and drops the old ones after the switch", () =>
    Effect.gen(function* () {
      const file = yield* tempFile
      const { eventStore, readModels } = yield* storesOn(file)
      const head = yield* customers(commandsOn(eventStore), 0, 25)
      const runner = yield* makeProjectionRunner(
        [CustomerCardProjection],
        { eventStore, readModels },
        { batchSize: 10 },
      )
      yield* runner.waitFor(head)
      const before = yield* readModels.query("customer_cards", { limit: 1_000 })
      const progress = yield* runner.rebuild("customer-cards")
      expect(progress).toMatchObject({
        generation: 2,
        state: "switched",
        done: Number(head),
        total: Number(head),
      })
      // The old generation's search index went with its table.
      expect(tablesOf(file)).toEqual([
        "rm_customer_cards_g2",
        ...searchIndexTables("rm_customer_cards_g2"),
        "rm_customer_duplicate_keys_g2",
      ])
      expect(yield* readModels.query("customer_cards", { limit: 1_000 })).toEqual(before)
      expect((yield* readModels.generations("customer-cards")).map((g) => [g.generation, g.active])).toEqual([
        [2, true],
      ])
    }),
  )

  it.effect(
    "fills a new generation's tables without secondary indexes and builds them before readers switch",
    () =>
      Effect.gen(function* () {
        const file = yield* tempFile
        const { eventStore, readModels } = yield* storesOn(file)
        const head = yield* customers(commandsOn(eventStore), 0, 20)
        // What the indexes of the card table were at each commit to generation 2 and when it was activated.
        const atCommit: Array<number> = []
        let atActivation: ReadonlyArray<string> | undefined
        const watched: ReadModelStoreService = {
          ...readModels,
          transact: (target, body, options) =>
            Effect.suspend(() => {
              if (target.generation === 2) atCommit.push(indexesOf(file, "rm_customer_cards_g2").length)
              return readModels.transact(target, body, options)
            }),
          activate: (target, options) =>
            Effect.suspend(() => {
              if (target.generation === 2) atActivation = indexesOf(file, "rm_customer_cards_g2")
              return readModels.activate(target, options)
            }),
        }
        const runner = yield* makeProjectionRunner(
          [CustomerCardProjection],
          { eventStore, readModels: watched },
          { batchSize: 10 },
        )
        // The first generation serves at once; its indexes come once it has reached the head.
        yield* runner.waitFor(head)
        const first = indexesOf(file, "rm_customer_cards_g1")
        expect(first).toContain("rm_customer_cards_g1_name")
        yield* runner.rebuild("customer-cards")
        expect(atCommit.length).toBeGreaterThan(1)
        expect(atCommit.every((count) => count === 0)).toBe(true)
        expect(atActivation).toEqual(first.map((name) => name.replace("_g1_", "_g2_")))
        // Building again finds every index there: nothing to do, nothing fails.
        yield* readModels.buildIndexes({ projection: "customer-cards", generation: 2 })
        expect(indexesOf(file, "rm_customer_cards_g2")).toEqual(atActivation)
      }),
  )

  it.effect(
    "a reader sees a switch of generations made on another connection or its own at its next read",
    () =>
      Effect.gen(function* () {
        const file = yield* tempFile
        const notes = defineCollection<{ readonly text: string }>({
          name: "switch_notes",
          fields: { text: Field.text((note) => note.text) },
        })
        const model: ReadModelDefinition = { name: "switch", version: 1, collections: [notes] }
        const generationWith = (store: ReadModelStoreService, text: string) =>
          Effect.gen(function* () {
            const generation = yield* store.createGeneration(model)
            yield* store.transact(generation, (tx) => Effect.sync(() => tx.put(notes.name, "n1", { text })))
            return generation
          })
        // The writer is the worker's connection, the reader the server's: one file, two connections.
        const writer = yield* Effect.acquireRelease(makeSqliteReadModelStore({ path: file }), (s) => s.close)
        const reader = yield* Effect.acquireRelease(makeSqliteReadModelStore({ path: file }), (s) => s.close)
        yield* writer.activate(yield* generationWith(writer, "first"))
        expect(yield* reader.get(notes.name, "n1")).toEqual({ text: "first" })
        expect(yield* reader.get(notes.name, "n1")).toEqual({ text: "first" })

        // Switched, the old generation kept: its table still answers, so only noticing the switch helps.
        yield* writer.activate(yield* generationWith(writer, "second"))
        expect(yield* reader.get(notes.name, "n1")).toEqual({ text: "second" })

        // The reader's own switch, which moves nothing another connection could see.
        const third = yield* generationWith(reader, "third")
        expect(yield* reader.get(notes.name, "n1")).toEqual({ text: "second" })
        yield* reader.activate(third)
        expect(yield* reader.get(notes.name, "n1")).toEqual({ text: "third" })

        // The table it read from dropped by the other connection: resolved afresh, not an error.
        yield* writer.activate(yield* generationWith(writer, "fourth"))
        yield* writer.drop({ projection: "switch", generation: third.generation })
        expect(yield* reader.get(notes.name, "n1")).toEqual({ text: "fourth" })
        expect(yield* reader.get(notes.name, "missing")).toBeUndefined()
      }),
  )

  describe("documents read again", () => {
    interface Note {
      readonly text: string
    }
    const notes = defineCollection<Note>({
      name: "kept_notes",
      fields: { text: Field.text((note) => note.text) },
    })
    const model: ReadModelDefinition = { name: "kept", version: 1, collections: [notes] }

    /** One file, two connections: the server's (which reads, and writes as the in-process projection) and a worker's. */
    const connections = Effect.gen(function* () {
      const file = yield* tempFile
      const server = yield* Effect.acquireRelease(makeSqliteReadModelStore({ path: file }), (s) => s.close)
      const worker = yield* Effect.acquireRelease(makeSqliteReadModelStore({ path: file }), (s) => s.close)
      const generation = yield* server.createGeneration(model)
      yield* server.activate(generation)
      yield* worker.attach(model, generation.generation)
      const write = (store: ReadModelStoreService, id: string, note: Note | undefined) =>
        store.transact(generation, (tx) =>
          Effect.sync(() =>
            note === undefined ? tx.delete(notes.name, id) : tx.put(notes.name, id, { ...note }),
          ),
        )
      return { server, worker, write }
    })

    it("are never older than the last commit, whichever connection made it", async () => {
      const id = fc.constantFrom("n1", "n2")
      const step = fc.oneof(
        fc.record({ kind: fc.constant("read" as const), id }),
        fc.record({
          kind: fc.constantFrom("server" as const, "worker" as const),
          id,
          text: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
        }),
      )
      await fc.assert(
        fc.asyncProperty(fc.array(step, { maxLength: 30 }), (steps) =>
          Effect.runPromise(
            Effect.scoped(
              Effect.gen(function* () {
                const { server, worker, write } = yield* connections
                const expected = new Map<string, Note>()
                for (const s of steps) {
                  if (s.kind === "read") {
                    expect(yield* server.get(notes.name, s.id)).toEqual(expected.get(s.id))
                    continue
                  }
                  const note = s.text === undefined ? undefined : { text: s.text }
                  yield* write(s.kind === "server" ? server : worker, s.id, note)
                  if (note === undefined) expected.delete(s.id)
                  else expected.set(s.id, note)
                }
              }),
            ),
          ),
        ),
        { numRuns: 100 },
      )
    })

    it.effect(
      "are the same frozen object while the file is unchanged, and again right past a thousand of them",
      () =>
        Effect.gen(function* () {
          const { server, worker, write } = yield* connections
          yield* write(server, "n1", { text: "first" })
          const first = yield* server.get(notes.name, "n1")
          expect(yield* server.get(notes.name, "n1")).toBe(first)
          expect(Object.isFrozen(first)).toBe(true)
          // Reading it at a named generation is a read of its own, outside what is kept.
          expect(yield* server.get(notes.name, "n1", { generation: 1 })).not.toBe(first)

          const ids = Array.from({ length: 1_050 }, (_, i) => `m${i}`)
          yield* worker.transact({ projection: "kept", generation: 1 }, (tx) =>
            Effect.sync(() => {
              for (const id of ids) tx.put(notes.name, id, { text: id })
            }),
          )
          const firstReads = new Map<string, unknown>()
          for (const id of ids) {
            const read = yield* server.get(notes.name, id)
            expect(read).toEqual({ text: id })
            firstReads.set(id, read)
          }
          // The last thousand read are kept (the same objects); the first fifty went to make room.
          expect(yield* server.get(notes.name, "m1049")).toBe(firstReads.get("m1049"))
          expect(yield* server.get(notes.name, "m50")).toBe(firstReads.get("m50"))
          expect(yield* server.get(notes.name, "m0")).not.toBe(firstReads.get("m0"))
          // A worker's commit (moves data_version), then the server's own (moves only its changes count).
          yield* write(worker, "m0", { text: "changed" })
          expect(yield* server.get(notes.name, "m0")).toEqual({ text: "changed" })
          yield* write(server, "m1049", { text: "changed too" })
          expect(yield* server.get(notes.name, "m1049")).toEqual({ text: "changed too" })
          expect(yield* server.get(notes.name, "m1")).toEqual({ text: "m1" })
        }),
    )
  })
})
