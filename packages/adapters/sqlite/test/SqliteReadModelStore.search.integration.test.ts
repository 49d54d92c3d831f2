/**
 * Search on SQLite (decision 0017): the trigram index finds a rare word's candidates; a common word
 * sorted by a field reads that field's index in order, as without the index; the index follows
 * writes, survives VACUUM, and a generation with deferred indexes gets it from `buildIndexes`.
 */
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { describe, expect, it } from "@effect/vitest"
import { makeSqliteReadModelStore } from "@relata/adapter-sqlite"
import type { ReadModelQuery } from "@relata/projections"
import { firmCount, firmIdOf, firmOf, firms, firmsModel } from "@relata/projections/testing"
import { Effect } from "effect"

const model = firmsModel
const idOf = firmIdOf

const tempFile = Effect.acquireRelease(
  Effect.sync(() => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-search-")), "rm.sqlite")),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

/** A store on a fresh file with every firm in generation 1, active; indexes deferred when asked. */
const storeWithFirms = (deferIndexes: boolean) =>
  Effect.gen(function* () {
    const file = yield* tempFile
    const store = yield* Effect.acquireRelease(makeSqliteReadModelStore({ path: file }), (s) => s.close)
    const generation = yield* store.createGeneration(model, { deferIndexes })
    yield* store.activate(generation)
    yield* store.transact(generation, (tx) =>
      Effect.sync(() => {
        for (let i = 0; i < firmCount; i++) tx.put(firms.name, idOf(i), firmOf(i) as never)
      }),
    )
    return { file, store, generation }
  })

/** The ids a query answers, every page followed. */
const allIds = (store: Effect.Success<ReturnType<typeof storeWithFirms>>["store"], query: ReadModelQuery) =>
  Effect.gen(function* () {
    const ids: Array<string> = []
    let after: string | undefined
    do {
      const page = yield* store.query(firms.name, { ...query, ...(after === undefined ? {} : { after }) })
      ids.push(...page.items.map((item) => item.id))
      after = page.next
    } while (after !== undefined)
    return ids
  })

const searchIndex = "rm_firms_g1_search_fts"

describe("SqliteReadModelStore search", () => {
  it.effect(
    "finds a rare word through the trigram index and pages a common one in the sort field's order",
    () =>
      Effect.gen(function* () {
        const { store } = yield* storeWithFirms(false)
        const rare = { search: "PHOENIX", orderBy: { field: "name" } } as const
        const common = { search: "springfield", orderBy: { field: "name" } } as const
        const rarePlan = yield* store.explain(firms.name, rare)
        expect(rarePlan).toContain(`SCAN ${searchIndex} VIRTUAL TABLE INDEX`)
        const commonPlan = yield* store.explain(firms.name, common)
        expect(commonPlan).toContain("USING INDEX rm_firms_g1_name")
        expect(commonPlan).not.toContain(searchIndex)
        expect(commonPlan).not.toContain("TEMP B-TREE")
        // Words too short for a trigram are checked on the rows alone.
        expect(yield* store.explain(firms.name, { search: "ph" })).not.toContain(searchIndex)

        const byName = Array.from({ length: firmCount }, (_, i) => i).sort((a, b) =>
          firmOf(a).name < firmOf(b).name ? -1 : firmOf(a).name > firmOf(b).name ? 1 : a - b,
        )
        const matching = (word: string) =>
          byName.filter((i) => `${firmOf(i).name} ${firmOf(i).city}`.toLowerCase().includes(word)).map(idOf)
        expect(yield* allIds(store, { ...rare, limit: 7 })).toEqual(matching("phoenix"))
        expect(yield* allIds(store, { ...rare, search: "phoenix ogden", limit: 3 })).toEqual(
          matching("phoenix").filter((id) => matching("ogden").includes(id)),
        )
        const first = yield* store.query(firms.name, { ...common, limit: 50 })
        expect(first.items.map((item) => item.id)).toEqual(matching("springfield").slice(0, 50))
      }),
  )

  it.effect("keeps the index in step with updates and deletes, through VACUUM", () =>
    Effect.gen(function* () {
      const { file, store, generation } = yield* storeWithFirms(false)
      yield* store.transact(generation, (tx) =>
        Effect.gen(function* () {
          const ids = Array.from({ length: 300 }, (_, i) => idOf(i * 20))
          yield* tx.load(firms.name, ids)
          for (const [n, id] of ids.entries()) {
            if (n % 3 === 0) tx.delete(firms.name, id)
            else
              tx.put(firms.name, id, {
                name: `Zephyr ${id}`,
                city: n % 3 === 1 ? "Ogdenville" : "Capital City",
              })
          }
        }),
      )
      const zephyrs = (yield* allIds(store, { search: "zephyr" })).length
      expect(zephyrs).toBe(200)
      const db = new DatabaseSync(file)
      try {
        // Deletes leave gaps VACUUM may close by renumbering rowids; the index refers to rid, which it keeps.
        db.exec("VACUUM")
        db.exec(`INSERT INTO ${searchIndex} (${searchIndex}, rank) VALUES ('integrity-check', 1)`)
      } finally {
        db.close()
      }
      expect((yield* allIds(store, { search: "zephyr" })).length).toBe(zephyrs)
      expect(yield* allIds(store, { search: "zephyr capital", orderBy: { field: "name" } })).toEqual(
        Array.from({ length: 300 }, (_, n) => n)
          .filter((n) => n % 3 === 2)
          .map((n) => idOf(n * 20)),
      )
      expect(yield* store.explain(firms.name, { search: "zephyr" })).toContain(searchIndex)
    }),
  )

  it.effect("a generation with deferred indexes scans until buildIndexes adds the search index", () =>
    Effect.gen(function* () {
      const { store, generation } = yield* storeWithFirms(true)
      const query = { search: "phoenix", orderBy: { field: "name" }, limit: 10 } as const
      expect(yield* store.explain(firms.name, query)).not.toContain(searchIndex)
      const before = yield* allIds(store, query)
      yield* store.buildIndexes(generation)
      expect(yield* store.explain(firms.name, query)).toContain(searchIndex)
      expect(yield* allIds(store, query)).toEqual(before)
      expect(before).toHaveLength(firmCount / 100)
    }),
  )

  it.effect(
    "a generation made before search indexes gets its other indexes and keeps searching by scan",
    () =>
      Effect.gen(function* () {
        const { file, store } = yield* storeWithFirms(true)
        const query = { search: "phoenix", orderBy: { field: "name" }, limit: 10 } as const
        const expected = yield* allIds(store, query)
        yield* store.close
        // The table as the previous version made it: id as the primary key, no rid for an index to refer to.
        const db = new DatabaseSync(file)
        db.exec(`
        CREATE TABLE old_shape (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL, search TEXT, f_name TEXT, f_city TEXT) STRICT;
        INSERT INTO old_shape SELECT id, doc, search, f_name, f_city FROM rm_firms_g1;
        DROP TABLE rm_firms_g1;
        ALTER TABLE old_shape RENAME TO rm_firms_g1;
      `)
        db.close()

        const reopened = yield* Effect.acquireRelease(
          makeSqliteReadModelStore({ path: file }),
          (s) => s.close,
        )
        yield* reopened.attach(model, 1)
        yield* reopened.buildIndexes({ projection: model.name, generation: 1 })
        const plan = yield* reopened.explain(firms.name, query)
        expect(plan).not.toContain(searchIndex)
        expect(plan).toContain("rm_firms_g1_name")
        expect(yield* allIds(reopened, query)).toEqual(expected)
        yield* reopened.transact({ projection: model.name, generation: 1 }, (tx) =>
          Effect.sync(() => tx.put(firms.name, "f-new", { name: "Phoenix 99999", city: "Shelbyville" })),
        )
        expect(yield* allIds(reopened, query)).toEqual([...expected, "f-new"])
      }),
  )
})
