/**
 * Reads under switches of generations made by another process (another store, another pool): a
 * reader that remembers where a collection lives reads the newly active generation at once, goes
 * on reading after the old one is dropped, and reads a document in one round trip.
 */
import { PostgresReadModelStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import {
  CollectionNotFound,
  defineCollection,
  Field,
  type ReadModelDefinition,
  type ReadModelStoreService,
} from "@relata/projections"
import { Effect } from "effect"
import pg from "pg"
import { expect, it } from "vitest"

interface Card {
  readonly label: string
  readonly round: number
}

const cards = defineCollection<Card>({
  name: "switch_cards",
  fields: { label: Field.text((c) => c.label), round: Field.number((c) => c.round) },
})

const model: ReadModelDefinition = { name: "switch", version: 1, collections: [cards] }

/** Two stores on one schema, each with its pool, as a reader process and a projections worker. */
const readerAndWriter = (connectionString: string) =>
  Effect.gen(function* () {
    const schema = uniqueSchemaName("read_model_switch")
    const open = PostgresReadModelStore.make({ connectionString, schema, poolSize: 2 })
    return { reader: yield* open, writer: yield* open }
  })

/** A new generation holding the cards c1..c3 of `round`, filled but not active. */
const generationOf = (writer: ReadModelStoreService, round: number) =>
  Effect.gen(function* () {
    const generation = yield* writer.createGeneration(model)
    yield* writer.transact(generation, (tx) =>
      Effect.sync(() => {
        for (const id of ["c1", "c2", "c3"]) tx.put(cards.name, id, { label: `${id} of ${round}`, round })
      }),
    )
    return generation
  })

/**
 * The answer of `effect` and the statements that every pg client of this process sent meanwhile:
 * one statement is one round trip (each is sent whole and answered before the next).
 */
const withStatements = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const prototype = pg.Client.prototype as unknown as { query: (...args: Array<unknown>) => unknown }
      const original = prototype.query
      const counter = { count: 0, restore: () => (prototype.query = original) }
      prototype.query = function (this: unknown, ...args: Array<unknown>) {
        counter.count++
        return original.apply(this, args)
      }
      return counter
    }),
    (counter) => Effect.map(effect, (answer) => ({ answer, statements: counter.count })),
    (counter) => Effect.sync(() => counter.restore()),
  )

const labelOf = (reader: ReadModelStoreService, id: string) =>
  Effect.map(reader.get(cards.name, id), (doc) => doc?.label)

const labelsOf = (reader: ReadModelStoreService) =>
  Effect.map(reader.query(cards.name, { orderBy: { field: "label" } }), (page) =>
    page.items.map((item) => item.document.label),
  )

describeWithPostgres("PostgresReadModelStore reads across switches of generations", (server) => {
  it("reads the generation another store activates at once, and after the old one is dropped", () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { reader, writer } = yield* readerAndWriter(server().connectionString)
          const first = yield* generationOf(writer, 1)
          yield* writer.activate(first)
          expect(yield* labelOf(reader, "c1")).toBe("c1 of 1")

          // The reader remembers generation 1; the writer switches to 2 behind its back.
          const second = yield* generationOf(writer, 2)
          yield* writer.activate(second)
          expect(yield* labelOf(reader, "c1")).toBe("c1 of 2")
          expect(yield* labelsOf(reader)).toEqual(["c1 of 2", "c2 of 2", "c3 of 2"])
          const many = yield* reader.getMany(cards.name, ["c2", "c9"])
          expect([...many].map(([id, doc]) => [id, doc.label])).toEqual([["c2", "c2 of 2"]])

          yield* writer.drop(first)
          expect(yield* labelOf(reader, "c3")).toBe("c3 of 2")
          const pinned = yield* Effect.flip(reader.get(cards.name, "c1", { generation: first.generation }))
          expect(pinned).toBeInstanceOf(CollectionNotFound)

          // Switched and the remembered generation's table dropped before the reader reads again.
          const third = yield* generationOf(writer, 3)
          yield* writer.activate(third)
          yield* writer.drop(second)
          expect(yield* labelsOf(reader)).toEqual(["c1 of 3", "c2 of 3", "c3 of 3"])
          const fourth = yield* generationOf(writer, 4)
          yield* writer.activate(fourth)
          yield* writer.drop(third)
          expect(yield* labelOf(reader, "c2")).toBe("c2 of 4")
          expect((yield* reader.get(cards.name, "c2", { generation: fourth.generation }))?.label).toBe(
            "c2 of 4",
          )
        }),
      ),
    ))

  it("reads a document, a few by id or a page in one round trip once it knows the collection", () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { reader, writer } = yield* readerAndWriter(server().connectionString)
          yield* writer.activate(yield* generationOf(writer, 1))
          yield* labelOf(reader, "c1")
          const one = yield* withStatements(labelOf(reader, "c2"))
          expect(one).toEqual({ answer: "c2 of 1", statements: 1 })
          const many = yield* withStatements(reader.getMany(cards.name, ["c1", "c3"]))
          expect([many.answer.size, many.statements]).toEqual([2, 1])
          const page = yield* withStatements(labelsOf(reader))
          expect(page).toEqual({ answer: ["c1 of 1", "c2 of 1", "c3 of 1"], statements: 1 })
          const nothing = yield* withStatements(reader.query(cards.name, { where: { label: { in: [] } } }))
          expect(nothing).toEqual({ answer: { items: [] }, statements: 1 })
          const pinned = yield* withStatements(reader.get(cards.name, "c3", { generation: 1 }))
          yield* withStatements(reader.get(cards.name, "c3", { generation: 1 }))
          expect(pinned.answer?.label).toBe("c3 of 1")

          // After a switch, the first read finds out and resolves again; the next is one round trip.
          yield* writer.activate(yield* generationOf(writer, 2))
          expect(yield* labelOf(reader, "c1")).toBe("c1 of 2")
          expect(yield* withStatements(labelOf(reader, "c1"))).toEqual({ answer: "c1 of 2", statements: 1 })
          expect((yield* withStatements(reader.get(cards.name, "c3", { generation: 1 }))).statements).toBe(1)
        }),
      ),
    ))

  it("never answers from a generation older than the one active when the read began", () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { reader, writer } = yield* readerAndWriter(server().connectionString)
          let active = 1
          let previous = yield* generationOf(writer, 1)
          yield* writer.activate(previous)
          let switching = true
          // Each round: a new generation, activated, then the previous one dropped, as rebuilds do.
          const switches = Effect.gen(function* () {
            for (let round = 2; round <= 12; round++) {
              const next = yield* generationOf(writer, round)
              yield* writer.activate(next)
              active = round
              yield* writer.drop(previous)
              previous = next
            }
            switching = false
          })
          const reads = Effect.gen(function* () {
            // A few reads after the last switch too.
            for (let after = 0; after < 3; after += switching ? 0 : 1) {
              const atStart = active
              const doc = yield* reader.get(cards.name, "c1")
              const many = yield* reader.getMany(cards.name, ["c2"])
              const page = yield* reader.query(cards.name, { where: { label: "c3 of 1" } })
              expect(doc?.round).toBeGreaterThanOrEqual(atStart)
              expect(many.get("c2")?.round).toBeGreaterThanOrEqual(atStart)
              expect(page.items.every((item) => item.document.round === 1)).toBe(true)
              if (atStart > 1) expect(page.items).toEqual([])
            }
          })
          yield* Effect.all([switches, reads], { concurrency: 2 })
          expect((yield* reader.get(cards.name, "c1"))?.round).toBe(12)
        }),
      ),
    ))
})
