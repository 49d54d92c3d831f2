/**
 * The shared contract every ReadModelStore adapter runs: what the projection runner and the read
 * models' queries rely on. An adapter is done when it passes it against real storage.
 */
import type { JsonObject } from "@relata/domain"
import { StartOfStore } from "@relata/domain"
import { Effect, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import { normaliseSearchText, searchTerms } from "../CollectionLayout.ts"
import {
  defineCollection,
  Field,
  type ReadModelDefinition,
  type ReadModelQuery,
  type ReadModelStoreService,
} from "../ReadModelStore.ts"
import { DocumentNotLoaded } from "../TransactionBuffer.ts"

/** Gives a fresh, empty read-model store for one test; scoped resources are released after it. */
export type AcquireReadModelStore = () => Effect.Effect<ReadModelStoreService, unknown, Scope.Scope>

interface Person {
  readonly name: string
  readonly team: string | null
  readonly score: number | null
  readonly active: boolean
  readonly email?: string
  readonly notes?: JsonObject
}

const people = defineCollection<Person>({
  name: "contract_people",
  fields: {
    name: Field.text((p) => p.name),
    team: Field.text((p) => p.team),
    score: Field.number((p) => p.score),
    active: Field.boolean((p) => p.active),
  },
  indexes: [["team", "score"]],
  search: (p) => `${p.name} ${p.email ?? ""}`,
})

const tags = defineCollection<{ readonly label: string }>({
  name: "contract_tags",
  fields: { label: Field.text((t) => t.label) },
})

const model: ReadModelDefinition = { name: "contract", version: 1, collections: [people, tags] }

const person = (
  name: string,
  team: string | null,
  score: number | null,
  active = true,
  email?: string,
): Person => ({
  name,
  team,
  score,
  active,
  ...(email === undefined ? {} : { email }),
})

const asJson = (p: Person): JsonObject => p as unknown as JsonObject

/** Ten people, ids p01..p10, with ties, nulls, fractions and negative numbers. */
const crowd: ReadonlyArray<readonly [string, Person]> = [
  ["p01", person("Ana", "red", 10, true, "ana@example.com")],
  ["p02", person("bob", "blue", 9.5, false)],
  ["p03", person("Chen Wei 陈伟", "red", null, true, "chen@example.cn")],
  ["p04", person("dora", null, 10, true)],
  ["p05", person("Émile", "blue", -3, true, "emile@example.fr")],
  ["p06", person("ＡＣＭＥ Trading", "green", 100, false, "sales@acme.example")],
  ["p07", person("acme supplies", "green", 0, true)],
  ["p08", person("Zoë", null, null, false)],
  ["p09", person("𝒜lpha", "red", 10, true)],
  ["p10", person("Ｂeta", "blue", 2, true)],
]

/**
 * Names that SQL LIKE, FTS query syntax or quoting could take for something else, short and long
 * words, repeated trigrams, text outside the BMP and compatibility forms; ids s01..s14.
 */
const oddNames: ReadonlyArray<readonly [string, string, string | undefined]> = [
  ["s01", "100% pure_cotton", "sales@100percent.example"],
  ["s02", "100 percent purecotton", undefined],
  ["s03", 'The "Best" Shop', undefined],
  ["s04", "O'Brien & Sons", "ob@sons.example"],
  ["s05", "star*gazer", undefined],
  ["s06", "back\\slash co", undefined],
  ["s07", "NEAR OR AND NOT", undefined],
  ["s08", "x-ray: ^caret (paren) {brace} [bracket]", undefined],
  ["s09", "café crème", undefined],
  ["s10", "𠀋𠀋𠀋 😀😀 ok", undefined],
  ["s11", "ab", undefined],
  ["s12", "aaaa", undefined],
  ["s13", "abcabx ＦＵＬＬ", undefined],
  ["s14", "under_score%percent", "x_y@z.example"],
]

/** Searches of `oddNames` whose answers the contract checks against the port's own definition. */
const oddSearches: ReadonlyArray<string> = [
  "%",
  "_",
  "%_",
  "100%",
  "0%",
  "e_c",
  "pure_",
  "purec",
  "_cot",
  "r_s",
  '"',
  '"best"',
  '"best',
  "'",
  "o'b",
  "o'brien &",
  "*",
  "r*g",
  "star*",
  "\\",
  "k\\s",
  "\\%",
  "near",
  "or and",
  "not near",
  "and*",
  "x-ray:",
  "^caret",
  "(paren)",
  "{brace} [bracket]",
  "-",
  ":",
  "😀",
  "😀😀",
  "😀😀😀",
  "𠀋",
  "𠀋𠀋",
  "𠀋𠀋𠀋",
  "𠀋𠀋𠀋𠀋",
  "𠀋😀",
  "𝒜𝒜𝒜",
  "ab",
  "aaa",
  "aaaa",
  "aaaaa",
  "cab",
  "abca",
  "abcabx",
  "bcb",
  "crème",
  "CAFÉ crème",
  "full",
  "ｆｕｌｌ",
  "co",
  "c",
  "o",
  "best shop",
  "shop best",
  "sons o'brien",
  "100 percent",
  "percent 100",
  "sales example",
  "nothing-here",
]

/** Whether a document with this search text matches a search: every word a substring, after normalising. */
const matchesSearch = (text: string, search: string): boolean =>
  searchTerms(search).every((term) => normaliseSearchText(text).includes(term))

/** Runs the ReadModelStore contract against the store `acquire` gives, a fresh one per test. */
export const readModelStoreContract = (name: string, acquire: AcquireReadModelStore): void => {
  const test = (
    title: string,
    body: (store: ReadModelStoreService) => Effect.Effect<void, unknown>,
  ): void => {
    it(title, () => Effect.runPromise(Effect.scoped(Effect.flatMap(acquire(), body))))
  }

  /** A store with the crowd committed to generation 1, active, at checkpoint 10. */
  const withCrowd = (store: ReadModelStoreService) =>
    Effect.gen(function* () {
      const generation = yield* store.createGeneration(model)
      yield* store.activate(generation)
      yield* store.transact(generation, (tx) =>
        Effect.sync(() => {
          for (const [id, p] of crowd) tx.put(people.name, id, asJson(p))
          tx.saveCheckpoint(10n)
        }),
      )
      return generation
    })

  /** Every id a query gives, following `next` page by page. */
  const allPages = (store: ReadModelStoreService, query: ReadModelQuery) =>
    Effect.gen(function* () {
      const ids: Array<string> = []
      let after: string | undefined
      for (let pages = 0; pages < 100; pages++) {
        const page = yield* store.query(people.name, { ...query, ...(after === undefined ? {} : { after }) })
        ids.push(...page.items.map((item) => item.id))
        if (page.next === undefined) return ids
        after = page.next
      }
      throw new Error("more than 100 pages")
    })

  const ids = (store: ReadModelStoreService, query: ReadModelQuery) =>
    Effect.map(store.query(people.name, { limit: 1_000, ...query }), (page) =>
      page.items.map((item) => item.id),
    )

  describe(`${name} satisfies the ReadModelStore contract`, () => {
    describe("generations", () => {
      test("a new generation is empty, inactive and at the start; readers see it once activated", (store) =>
        Effect.gen(function* () {
          expect(yield* store.generations("contract")).toEqual([])
          const created = yield* store.createGeneration(model)
          expect(created).toEqual({
            projection: "contract",
            generation: 1,
            version: 1,
            checkpoint: StartOfStore,
            active: false,
          })
          const before = yield* Effect.flip(store.get(people.name, "p01"))
          expect(before._tag).toBe("CollectionNotFound")
          expect(yield* store.get(people.name, "p01", { generation: 1 })).toBeUndefined()
          expect(yield* store.activate(created)).toBe(true)
          expect(yield* store.get(people.name, "p01")).toBeUndefined()
          expect(yield* store.generations("contract")).toEqual([{ ...created, active: true }])
        }))

      test("numbers generations per projection and refuses a collection another projection owns", (store) =>
        Effect.gen(function* () {
          expect((yield* store.createGeneration(model)).generation).toBe(1)
          expect((yield* store.createGeneration(model)).generation).toBe(2)
          const other = { name: "other", version: 1, collections: [tags] }
          const error = yield* Effect.flip(store.createGeneration(other))
          expect(error._tag).toBe("ReadModelStoreError")
          expect(error.message).toContain("contract_tags")
          expect(yield* store.generations("other")).toEqual([])
        }))

      test("rejects invalid definitions", (store) =>
        Effect.gen(function* () {
          const badName = { ...model, collections: [{ ...tags, name: "Bad-Name" }] }
          expect((yield* Effect.flip(store.createGeneration(badName)))._tag).toBe("ReadModelStoreError")
          const badIndex = { ...model, collections: [{ ...people, indexes: [["nope"]] }] }
          expect((yield* Effect.flip(store.createGeneration(badIndex))).message).toContain("nope")
          // A field without an index of its own must be in a compound index, or queries on it would scan.
          const unindexed = {
            ...model,
            collections: [
              {
                ...people,
                fields: { ...people.fields, name: Field.text<Person>((p) => p.name, { ownIndex: false }) },
              },
            ],
          }
          expect((yield* Effect.flip(store.createGeneration(unindexed))).message).toContain(
            `field "name" of contract_people has no index of its own and is in no compound index`,
          )
          expect(yield* store.generations("contract")).toEqual([])
        }))

      test("a new generation stays invisible until activated, then every collection switches at once", (store) =>
        Effect.gen(function* () {
          const first = yield* withCrowd(store)
          const second = yield* store.createGeneration(model)
          yield* store.transact(second, (tx) =>
            Effect.sync(() => {
              tx.put(people.name, "p01", asJson(person("Ana v2", "red", 1)))
              tx.put(tags.name, "t1", { label: "new" })
              tx.saveCheckpoint(3n)
            }),
          )
          expect((yield* store.get(people.name, "p01"))?.name).toBe("Ana")
          expect(yield* store.get(tags.name, "t1")).toBeUndefined()
          expect((yield* store.get(people.name, "p01", { generation: 2 }))?.name).toBe("Ana v2")

          // Behind the active generation (3 < 10): not switched with ifCaughtUp.
          expect(yield* store.activate(second, { ifCaughtUp: true })).toBe(false)
          expect((yield* store.get(people.name, "p01"))?.name).toBe("Ana")
          yield* store.transact(second, (tx) => Effect.sync(() => tx.saveCheckpoint(10n)))
          expect(yield* store.activate(second, { ifCaughtUp: true })).toBe(true)
          expect((yield* store.get(people.name, "p01"))?.name).toBe("Ana v2")
          expect(yield* store.get(tags.name, "t1")).toEqual({ label: "new" })
          expect(
            (yield* store.generations("contract")).map((g) => [g.generation, g.active, g.checkpoint]),
          ).toEqual([
            [1, false, 10n],
            [2, true, 10n],
          ])

          expect((yield* Effect.flip(store.drop(second)))._tag).toBe("ReadModelStoreError")
          yield* store.drop(first)
          yield* store.drop(first)
          expect((yield* store.generations("contract")).map((g) => g.generation)).toEqual([2])
          expect((yield* Effect.flip(store.get(people.name, "p01", { generation: 1 })))._tag).toBe(
            "CollectionNotFound",
          )
          expect((yield* Effect.flip(store.transact(first, () => Effect.void)))._tag).toBe(
            "ReadModelStoreError",
          )
        }))

      test("a field without an index of its own filters and sorts through its compound index", (store) =>
        Effect.gen(function* () {
          const squads = defineCollection<Person>({
            name: "contract_squads",
            fields: {
              team: Field.text((p) => p.team, { ownIndex: false }),
              score: Field.number((p) => p.score),
            },
            indexes: [["team", "score"]],
          })
          const generation = yield* store.createGeneration(
            { name: "contract-squads", version: 1, collections: [squads] },
            { deferIndexes: true },
          )
          yield* store.activate(generation)
          yield* store.transact(generation, (tx) =>
            Effect.sync(() => {
              for (const [id, p] of crowd) tx.put(squads.name, id, asJson(p))
              tx.saveCheckpoint(10n)
            }),
          )
          const query = (q: ReadModelQuery) =>
            Effect.map(store.query(squads.name, q), (page) => page.items.map((item) => item.id))
          const reds = { where: { team: "red" }, orderBy: { field: "score", direction: "desc" } } as const
          const before = yield* query(reds)
          expect(before).toEqual(["p09", "p01", "p03"])
          yield* store.buildIndexes(generation)
          expect(yield* query(reds)).toEqual(before)
          // Sorting by it: null first, then by code point, then by id, as for any indexed field.
          const byTeam = [...crowd]
            .sort(([a, p], [b, q]) =>
              p.team === q.team
                ? a < b
                  ? -1
                  : 1
                : p.team === null
                  ? -1
                  : q.team === null
                    ? 1
                    : p.team < q.team
                      ? -1
                      : 1,
            )
            .map(([id]) => id)
          const paged: Array<string> = []
          let after: string | undefined
          do {
            const page = yield* store.query(squads.name, {
              orderBy: { field: "team" },
              limit: 4,
              ...(after === undefined ? {} : { after }),
            })
            paged.push(...page.items.map((item) => item.id))
            after = page.next
          } while (after !== undefined)
          expect(paged).toEqual(byTeam)
        }))

      test("a generation created with deferred indexes answers alike before and after they are built", (store) =>
        Effect.gen(function* () {
          const generation = yield* store.createGeneration(model, { deferIndexes: true })
          yield* store.activate(generation)
          yield* store.transact(generation, (tx) =>
            Effect.sync(() => {
              for (const [id, p] of crowd) tx.put(people.name, id, asJson(p))
              tx.saveCheckpoint(10n)
            }),
          )
          const queries: ReadonlyArray<ReadModelQuery> = [
            { where: { team: "red" }, orderBy: { field: "score", direction: "desc" } },
            { where: { team: { in: ["blue", "green"] }, score: { gte: 0 } }, orderBy: { field: "score" } },
            { where: { active: true }, orderBy: { field: "name" }, limit: 3 },
            { where: { team: null } },
            { search: "acme", orderBy: { field: "name", direction: "desc" } },
            { search: "e example", orderBy: { field: "name" }, limit: 2 },
            { search: "@", where: { active: true } },
          ]
          const answers = () => Effect.forEach(queries, (query) => allPages(store, query))
          const before = yield* answers()
          expect(before[0]).toEqual(["p09", "p01", "p03"])
          yield* store.buildIndexes(generation)
          expect(yield* answers()).toEqual(before)
          // Idempotent, and writes after it keep the indexes in step with the documents.
          yield* store.buildIndexes(generation)
          yield* store.transact(generation, (tx) =>
            Effect.gen(function* () {
              yield* tx.load(people.name, ["p09"])
              tx.put(people.name, "p09", asJson(person("𝒜lpha", "blue", 10, true)))
              tx.saveCheckpoint(11n)
            }),
          )
          expect(yield* allPages(store, queries[0] as ReadModelQuery)).toEqual(["p01", "p03"])
          yield* store.transact(generation, (tx) =>
            Effect.gen(function* () {
              yield* tx.load(people.name, ["p06"])
              tx.put(people.name, "p06", asJson(person("Zenith", "green", 100, false)))
              tx.delete(people.name, "p07")
              tx.put(people.name, "p11", asJson(person("Acme Nova", "red", 1, true)))
            }),
          )
          expect(yield* ids(store, { search: "acme" })).toEqual(["p11"])
          expect(yield* ids(store, { search: "zenith" })).toEqual(["p06"])
          expect((yield* store.generations("contract"))[0]?.checkpoint).toBe(11n)
          const unknown = yield* Effect.flip(store.buildIndexes({ projection: "contract", generation: 7 }))
          expect(unknown._tag).toBe("ReadModelStoreError")
        }))

      test("attaches a generation built by the same definition, and refuses a changed one", (store) =>
        Effect.gen(function* () {
          const generation = yield* withCrowd(store)
          expect(yield* store.attach(model, 1)).toEqual({ ...generation, checkpoint: 10n, active: true })
          const changed = {
            ...model,
            collections: [
              { ...people, fields: { ...people.fields, extra: Field.text<Person>((p) => p.name) } },
              tags,
            ],
          }
          const error = yield* Effect.flip(store.attach(changed, 1))
          expect(error._tag).toBe("ReadModelStoreError")
          expect(error.message).toContain("version")
          expect((yield* Effect.flip(store.attach({ ...model, version: 2 }, 1)))._tag).toBe(
            "ReadModelStoreError",
          )
          expect((yield* Effect.flip(store.attach(model, 7)))._tag).toBe("ReadModelStoreError")
        }))
    })

    describe("transactions", () => {
      test("commits documents and the checkpoint together, JSON exactly as given", (store) =>
        Effect.gen(function* () {
          const generation = yield* store.createGeneration(model)
          yield* store.activate(generation)
          const rich = {
            ...person("客户 Acme ✓ \u{1F600}", "red", 0.1),
            notes: { list: [1, 2.5, null, true, "x"], nested: { deep: { empty: {} } }, quote: '"\\\n' },
          }
          const result = yield* store.transact(generation, (tx) =>
            Effect.sync(() => {
              tx.put(people.name, "p1", asJson(rich))
              tx.put(tags.name, "t1", { label: "one" })
              tx.saveCheckpoint(42n)
              return "done"
            }),
          )
          expect(result).toBe("done")
          expect(yield* store.get(people.name, "p1")).toEqual(rich)
          expect(yield* store.get(tags.name, "t1")).toEqual({ label: "one" })
          expect((yield* store.generations("contract"))[0]?.checkpoint).toBe(42n)
        }))

      test("a failing transaction writes nothing", (store) =>
        Effect.gen(function* () {
          const generation = yield* withCrowd(store)
          const error = yield* Effect.flip(
            store.transact(generation, (tx) =>
              Effect.suspend(() => {
                tx.put(people.name, "p01", asJson(person("changed", "red", 1)))
                tx.delete(people.name, "p02")
                tx.put(people.name, "new", asJson(person("new", "red", 1)))
                tx.saveCheckpoint(11n)
                return Effect.fail("boom" as const)
              }),
            ),
          )
          expect(error).toBe("boom")
          expect((yield* store.get(people.name, "p01"))?.name).toBe("Ana")
          expect((yield* store.get(people.name, "p02"))?.name).toBe("bob")
          expect(yield* store.get(people.name, "new")).toBeUndefined()
          expect((yield* store.generations("contract"))[0]?.checkpoint).toBe(10n)
        }))

      test("refuses a stale expected checkpoint and writes nothing", (store) =>
        Effect.gen(function* () {
          const generation = yield* withCrowd(store)
          const error = yield* Effect.flip(
            store.transact(
              generation,
              (tx) =>
                Effect.sync(() => {
                  tx.put(people.name, "p01", asJson(person("changed", "red", 1)))
                  tx.saveCheckpoint(20n)
                }),
              { expectedCheckpoint: 5n },
            ),
          )
          expect(error).toMatchObject({
            _tag: "CheckpointConflict",
            projection: "contract",
            expected: 5n,
            actual: 10n,
          })
          expect((yield* store.get(people.name, "p01"))?.name).toBe("Ana")
          yield* store.transact(generation, (tx) => Effect.sync(() => tx.saveCheckpoint(20n)), {
            expectedCheckpoint: 10n,
          })
          expect((yield* store.generations("contract"))[0]?.checkpoint).toBe(20n)
        }))

      test("reads its own writes and what it loaded; reading what it did not load throws", (store) =>
        Effect.gen(function* () {
          const generation = yield* withCrowd(store)
          yield* store.transact(generation, (tx) =>
            Effect.gen(function* () {
              expect(() => tx.get(people.name, "p01")).toThrow(DocumentNotLoaded)
              yield* tx.load(people.name, ["p01", "p02", "missing", "p01"])
              expect(tx.get(people.name, "p01")).toEqual(crowd[0]?.[1])
              expect(tx.get(people.name, "missing")).toBeUndefined()
              tx.put(people.name, "p01", asJson(person("Ana 2", "red", 1)))
              expect(tx.get(people.name, "p01")?.name).toBe("Ana 2")
              yield* tx.load(people.name, ["p01"])
              expect(tx.get(people.name, "p01")?.name).toBe("Ana 2")
              tx.delete(people.name, "p02")
              expect(tx.get(people.name, "p02")).toBeUndefined()
              tx.put(tags.name, "t9", { label: "nine" })
              expect(tx.get(tags.name, "t9")).toEqual({ label: "nine" })
              expect(() => tx.put("no_such_collection", "x", {})).toThrow()
            }),
          )
          expect((yield* store.get(people.name, "p01"))?.name).toBe("Ana 2")
          expect(yield* store.get(people.name, "p02")).toBeUndefined()
        }))

      test("keeps the last write of a document and updates its indexed values", (store) =>
        Effect.gen(function* () {
          const generation = yield* withCrowd(store)
          yield* store.transact(generation, (tx) =>
            Effect.sync(() => {
              tx.put(people.name, "p01", asJson(person("Ana", "blue", 10)))
              tx.put(people.name, "p01", asJson(person("Ana", "green", 11)))
              tx.delete(people.name, "p04")
              tx.put(people.name, "p04", asJson(person("dora", "green", 1)))
              tx.put(people.name, "p05", asJson(person("Émile", "blue", -3)))
              tx.delete(people.name, "p05")
            }),
          )
          expect(yield* ids(store, { where: { team: "green" } })).toEqual(["p01", "p04", "p06", "p07"])
          expect(yield* ids(store, { where: { team: "blue" } })).toEqual(["p02", "p10"])
          expect(yield* store.get(people.name, "p05")).toBeUndefined()
        }))

      test("a loaded document rewritten with some values changed is found by its new values only", (store) =>
        Effect.gen(function* () {
          const generation = yield* withCrowd(store)
          yield* store.transact(generation, (tx) =>
            Effect.gen(function* () {
              yield* tx.load(people.name, ["p01", "p02", "p07", "p08"])
              // One value changed; the search text and another value; nothing indexed; deleted.
              tx.put(people.name, "p01", asJson(person("Ana", "red", 12, true, "ana@example.com")))
              tx.put(people.name, "p02", asJson(person("bob", "green", 9.5, false, "bob@example.org")))
              tx.put(people.name, "p07", { ...asJson(person("acme supplies", "green", 0)), notes: { a: 1 } })
              tx.delete(people.name, "p08")
              tx.saveCheckpoint(11n)
            }),
          )
          expect(yield* ids(store, { where: { score: 12 } })).toEqual(["p01"])
          expect(yield* ids(store, { where: { score: 10 } })).toEqual(["p04", "p09"])
          expect(yield* ids(store, { where: { team: "red", active: true } })).toEqual(["p01", "p03", "p09"])
          expect(yield* ids(store, { where: { team: "green" } })).toEqual(["p02", "p06", "p07"])
          expect(yield* ids(store, { where: { team: "blue" } })).toEqual(["p05", "p10"])
          expect(yield* ids(store, { search: "example.org" })).toEqual(["p02"])
          expect(yield* ids(store, { where: { active: false } })).toEqual(["p02", "p06"])
          expect(yield* ids(store, { orderBy: { field: "score", direction: "desc" }, limit: 2 })).toEqual([
            "p06",
            "p01",
          ])
          expect(yield* store.get(people.name, "p07")).toEqual({
            ...asJson(person("acme supplies", "green", 0)),
            notes: { a: 1 },
          })
          expect(yield* store.get(people.name, "p08")).toBeUndefined()
          expect((yield* store.generations("contract"))[0]?.checkpoint).toBe(11n)
        }))

      test("gets many documents at once, only those that exist", (store) =>
        Effect.gen(function* () {
          yield* withCrowd(store)
          const found = yield* store.getMany(people.name, ["p03", "nope", "p01"])
          expect([...found.keys()].sort()).toEqual(["p01", "p03"])
          expect(found.get("p03")).toEqual(crowd[2]?.[1])
          expect((yield* store.getMany(people.name, [])).size).toBe(0)
        }))
    })

    describe("queries", () => {
      test("filters by equality, null, lists and ranges, all conditions at once", (store) =>
        Effect.gen(function* () {
          yield* withCrowd(store)
          expect(yield* ids(store, { where: { team: "red" } })).toEqual(["p01", "p03", "p09"])
          expect(yield* ids(store, { where: { team: null } })).toEqual(["p04", "p08"])
          expect(yield* ids(store, { where: { score: 10 } })).toEqual(["p01", "p04", "p09"])
          expect(yield* ids(store, { where: { active: false } })).toEqual(["p02", "p06", "p08"])
          expect(yield* ids(store, { where: { team: { in: ["green", "blue"] } } })).toEqual([
            "p02",
            "p05",
            "p06",
            "p07",
            "p10",
          ])
          expect(yield* ids(store, { where: { score: { gt: 2, lte: 10 } } })).toEqual([
            "p01",
            "p02",
            "p04",
            "p09",
          ])
          expect(yield* ids(store, { where: { score: { lt: 0 } } })).toEqual(["p05"])
          expect(yield* ids(store, { where: { score: { gte: 10 } } })).toEqual(["p01", "p04", "p06", "p09"])
          expect(yield* ids(store, { where: { team: "red", score: { gte: 10 }, active: true } })).toEqual([
            "p01",
            "p09",
          ])
          expect(yield* ids(store, { where: { name: { gte: "a", lt: "b" } } })).toEqual(["p07"])
          expect(yield* ids(store, { where: { team: { in: [] } } })).toEqual([])
          expect(yield* ids(store, { where: { team: undefined } })).toHaveLength(10)
        }))

      test("sorts by a field then by id; null first ascending, last descending; text by code point", (store) =>
        Effect.gen(function* () {
          yield* withCrowd(store)
          expect(yield* ids(store, {})).toEqual(crowd.map(([id]) => id))
          expect(yield* ids(store, { orderBy: { field: "score" } })).toEqual([
            "p03",
            "p08",
            "p05",
            "p07",
            "p10",
            "p02",
            "p01",
            "p04",
            "p09",
            "p06",
          ])
          expect(yield* ids(store, { orderBy: { field: "score", direction: "desc" } })).toEqual([
            "p06",
            "p09",
            "p04",
            "p01",
            "p02",
            "p10",
            "p07",
            "p05",
            "p08",
            "p03",
          ])
          // Code points: A < C < Z < a < b < d < É (U+00C9) < Ａ (U+FF21) < Ｂ (U+FF22) < 𝒜 (U+1D49C).
          expect(yield* ids(store, { orderBy: { field: "name" } })).toEqual([
            "p01",
            "p03",
            "p08",
            "p07",
            "p02",
            "p04",
            "p05",
            "p06",
            "p10",
            "p09",
          ])
          expect(yield* ids(store, { orderBy: { field: "active", direction: "desc" }, limit: 3 })).toEqual([
            "p10",
            "p09",
            "p07",
          ])
          expect(
            yield* ids(store, { where: { team: "red" }, orderBy: { field: "score", direction: "desc" } }),
          ).toEqual(["p09", "p01", "p03"])
        }))

      test("pages through every sort order with cursors: each document once, in order", (store) =>
        Effect.gen(function* () {
          yield* withCrowd(store)
          const orders: ReadonlyArray<ReadModelQuery["orderBy"]> = [
            undefined,
            { field: "score" },
            { field: "score", direction: "desc" },
            { field: "team" },
            { field: "team", direction: "desc" },
            { field: "name", direction: "desc" },
            { field: "active" },
          ]
          for (const orderBy of orders) {
            const query = orderBy === undefined ? {} : { orderBy }
            const expected = yield* ids(store, query)
            for (const limit of [1, 2, 3, 5, 10]) {
              expect(yield* allPages(store, { ...query, limit })).toEqual(expected)
            }
          }
          const filtered = {
            where: { team: { in: ["red", "blue"] } },
            orderBy: { field: "score" },
            limit: 2,
          } as const
          expect(yield* allPages(store, filtered)).toEqual(yield* ids(store, { ...filtered, limit: 1_000 }))
          const firstPage = yield* store.query(people.name, { limit: 10 })
          expect(firstPage.items).toHaveLength(10)
          expect(firstPage.next).toBeUndefined()
          const page = yield* store.query(people.name, { limit: 4, orderBy: { field: "score" } })
          expect(page.items.map((item) => item.document)).toEqual(
            ["p03", "p08", "p05", "p07"].map((id) => crowd.find(([i]) => i === id)?.[1]),
          )
        }))

      test("searches words case- and width-insensitively in the search text, with filters", (store) =>
        Effect.gen(function* () {
          yield* withCrowd(store)
          expect(yield* ids(store, { search: "acme" })).toEqual(["p06", "p07"])
          expect(yield* ids(store, { search: "ACME trad" })).toEqual(["p06"])
          expect(yield* ids(store, { search: "ａｃｍｅ" })).toEqual(["p06", "p07"])
          expect(yield* ids(store, { search: "example.com" })).toEqual(["p01"])
          expect(yield* ids(store, { search: "陈伟" })).toEqual(["p03"])
          expect(yield* ids(store, { search: "émile" })).toEqual(["p05"])
          expect(yield* ids(store, { search: "acme", where: { active: true } })).toEqual(["p07"])
          expect(yield* ids(store, { search: "   " })).toHaveLength(10)
          expect(yield* ids(store, { search: "nobody" })).toEqual([])
          expect(yield* allPages(store, { search: "e", orderBy: { field: "name" }, limit: 2 })).toEqual(
            yield* ids(store, { search: "e", orderBy: { field: "name" } }),
          )
        }))

      test("searches substrings exactly: short words, LIKE and FTS syntax, quotes, text outside the BMP", (store) =>
        Effect.gen(function* () {
          const generation = yield* store.createGeneration(model)
          yield* store.activate(generation)
          yield* store.transact(generation, (tx) =>
            Effect.sync(() => {
              for (const [id, name, email] of oddNames) {
                tx.put(people.name, id, asJson(person(name, id < "s08" ? "red" : "blue", 1, true, email)))
              }
              tx.saveCheckpoint(1n)
            }),
          )
          const textOf = new Map(oddNames.map(([id, name, email]) => [id, `${name} ${email ?? ""}`]))
          for (const search of oddSearches) {
            const expected = oddNames
              .map(([id]) => id)
              .filter((id) => matchesSearch(textOf.get(id) ?? "", search))
            expect({ search, ids: yield* ids(store, { search }) }).toEqual({ search, ids: expected })
          }
          // A few answers spelled out, so that the reference itself is checked.
          expect(yield* ids(store, { search: "%" })).toEqual(["s01", "s14"])
          expect(yield* ids(store, { search: "_" })).toEqual(["s01", "s14"])
          expect(yield* ids(store, { search: "e_c" })).toEqual(["s01"])
          expect(yield* ids(store, { search: '"best"' })).toEqual(["s03"])
          expect(yield* ids(store, { search: "\\" })).toEqual(["s06"])
          expect(yield* ids(store, { search: "or and" })).toEqual(["s07"])
          expect(yield* ids(store, { search: "𠀋𠀋" })).toEqual(["s10"])
          expect(yield* ids(store, { search: "𝒜𝒜𝒜" })).toEqual(["s12"])
          expect(yield* ids(store, { search: "aaaaa" })).toEqual([])
          expect(yield* ids(store, { search: "bcb" })).toEqual([])
          expect(yield* ids(store, { search: "ｆｕｌｌ" })).toEqual(["s13"])
          expect(yield* ids(store, { search: "ab" })).toEqual(["s11", "s13"])
          // With a filter, a sort and pages.
          expect(yield* ids(store, { search: "e", where: { team: "blue" } })).toEqual(["s08", "s09", "s14"])
          for (const search of ["e", "co", "percent", "pure_ 100%"]) {
            for (const direction of ["asc", "desc"] as const) {
              const query = { search, orderBy: { field: "name", direction } } as const
              const expected = yield* ids(store, query)
              const sorted = yield* ids(store, { orderBy: query.orderBy })
              expect(expected).toEqual(sorted.filter((id) => matchesSearch(textOf.get(id) ?? "", search)))
              for (const limit of [1, 2, 3])
                expect(yield* allPages(store, { ...query, limit })).toEqual(expected)
            }
          }
        }))

      test("a search follows writes that change the search text, deletes and re-inserts", (store) =>
        Effect.gen(function* () {
          const generation = yield* withCrowd(store)
          expect(yield* ids(store, { search: "acme" })).toEqual(["p06", "p07"])
          yield* store.transact(generation, (tx) =>
            Effect.gen(function* () {
              yield* tx.load(people.name, ["p06", "p07", "p01"])
              // The search text changes; only another value changes; deleted; a new one.
              tx.put(
                people.name,
                "p06",
                asJson(person("Zenith Trading", "green", 100, false, "z@zenith.example")),
              )
              tx.put(people.name, "p07", asJson(person("acme supplies", "blue", 0, true)))
              tx.delete(people.name, "p01")
              tx.put(people.name, "p11", asJson(person("Acme Zenith", null, null, true)))
              tx.saveCheckpoint(11n)
            }),
          )
          expect(yield* ids(store, { search: "acme" })).toEqual(["p07", "p11"])
          expect(yield* ids(store, { search: "trading" })).toEqual(["p06"])
          expect(yield* ids(store, { search: "zenith" })).toEqual(["p06", "p11"])
          expect(yield* ids(store, { search: "acme", where: { team: "blue" } })).toEqual(["p07"])
          expect(yield* ids(store, { search: "example.com" })).toEqual([])
          expect(yield* ids(store, { search: "ana" })).toEqual([])
          // Deleted and put again in one transaction, then back under its old name.
          yield* store.transact(generation, (tx) =>
            Effect.gen(function* () {
              yield* tx.load(people.name, ["p11"])
              tx.delete(people.name, "p11")
              tx.put(people.name, "p11", asJson(person("Nova Industries", null, null, true)))
              tx.put(people.name, "p01", asJson(person("Ana", "red", 10, true, "ana@example.com")))
              tx.saveCheckpoint(12n)
            }),
          )
          expect(yield* ids(store, { search: "zenith" })).toEqual(["p06"])
          expect(yield* ids(store, { search: "nova ind" })).toEqual(["p11"])
          expect(yield* ids(store, { search: "example.com" })).toEqual(["p01"])
          expect(yield* allPages(store, { search: "a", orderBy: { field: "name" }, limit: 2 })).toEqual(
            yield* ids(store, { search: "a", orderBy: { field: "name" } }),
          )
        }))

      test("rejects what the collection cannot answer with an index", (store) =>
        Effect.gen(function* () {
          yield* withCrowd(store)
          const invalid = (query: ReadModelQuery, collection = people.name) =>
            Effect.map(Effect.flip(store.query(collection, query)), (error) => error._tag)
          expect(yield* invalid({ where: { email: "x" } })).toBe("InvalidReadModelQuery")
          expect(yield* invalid({ where: { score: "10" } })).toBe("InvalidReadModelQuery")
          expect(yield* invalid({ where: { active: { gt: 0 } } })).toBe("InvalidReadModelQuery")
          expect(yield* invalid({ where: { team: { in: ["red", 1] } } })).toBe("InvalidReadModelQuery")
          expect(yield* invalid({ orderBy: { field: "email" } })).toBe("InvalidReadModelQuery")
          expect(yield* invalid({ limit: 0 })).toBe("InvalidReadModelQuery")
          expect(yield* invalid({ limit: 1_001 })).toBe("InvalidReadModelQuery")
          expect(yield* invalid({ after: "not a cursor" })).toBe("InvalidReadModelQuery")
          expect(yield* invalid({ search: "x" }, tags.name)).toBe("InvalidReadModelQuery")
          const page = yield* store.query(people.name, { orderBy: { field: "score" }, limit: 2 })
          expect(yield* invalid({ orderBy: { field: "name" }, after: page.next as string })).toBe(
            "InvalidReadModelQuery",
          )
          expect((yield* Effect.flip(store.query("no_such_collection", {})))._tag).toBe("CollectionNotFound")
        }))
    })
  })
}
