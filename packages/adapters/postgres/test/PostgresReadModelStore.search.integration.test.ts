/**
 * Search on PostgreSQL (decision 0017): the store installs pg_trgm, a searchable collection gets a
 * trigram GIN index; the planner finds a rare word's rows through it and pages a common word sorted
 * by a field in that field's index order, as without it.
 */
import { makePostgresReadModelStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import type { ReadModelQuery } from "@relata/projections"
import { firmCount, firmIdOf, firmOf, firms, firmsModel } from "@relata/projections/testing"
import { Effect } from "effect"
import pg from "pg"
import { expect, it } from "vitest"

const model = firmsModel
const idOf = firmIdOf

describeWithPostgres("PostgresReadModelStore search", (server) => {
  it("finds a rare word through the trigram index and pages a common one in the sort field's order", () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const schema = uniqueSchemaName("read_model_search")
          const store = yield* Effect.acquireRelease(
            makePostgresReadModelStore({ connectionString: server().connectionString, schema, poolSize: 2 }),
            (s) => s.close,
          )
          const generation = yield* store.createGeneration(model, { deferIndexes: true })
          yield* store.activate(generation)
          yield* store.transact(generation, (tx) =>
            Effect.sync(() => {
              for (let i = 0; i < firmCount; i++) tx.put(firms.name, idOf(i), firmOf(i) as never)
            }),
          )
          yield* store.buildIndexes(generation)
          // The plans depend on the table's statistics, which autovacuum would gather in its own time.
          yield* Effect.promise(async () => {
            const client = new pg.Client({ connectionString: server().connectionString })
            await client.connect()
            try {
              await client.query(`ANALYZE "${schema}".rm_firms_g1`)
            } finally {
              await client.end()
            }
          })

          const rare = { search: "phoenix", orderBy: { field: "name" } } as const
          const common = { search: "springfield", orderBy: { field: "name" } } as const
          // Which of the statement's two ways ran (its two gated Result nodes, in order): the other
          // is "never executed".
          const ways = (plan: string) => {
            const [, few = "", many = ""] = plan.split(/\n\s*->\s+Result /)
            return {
              few: !few.includes("never executed"),
              many: !many.includes("never executed"),
              few$: few,
              many$: many,
            }
          }
          // A rare word (80 of 8,000): its candidates, through the trigram index, then sorted.
          const rarePlan = ways(yield* store.explain(firms.name, rare))
          expect(rarePlan).toMatchObject({ few: true, many: false })
          expect(rarePlan.few$).toContain("Bitmap Index Scan on rm_firms_g1_search_trgm")
          // A common one (more candidates than the limit): the name index in order, no sort.
          const commonPlan = ways(yield* store.explain(firms.name, common))
          expect(commonPlan).toMatchObject({ few: false, many: true })
          expect(commonPlan.many$).toContain("Index Scan using rm_firms_g1_name")
          expect(commonPlan.many$).not.toMatch(/^\s*(->\s*)?Sort/m)

          const byName = Array.from({ length: firmCount }, (_, i) => i).sort((a, b) =>
            firmOf(a).name < firmOf(b).name ? -1 : firmOf(a).name > firmOf(b).name ? 1 : a - b,
          )
          const matching = (word: string) =>
            byName.filter((i) => `${firmOf(i).name} ${firmOf(i).city}`.toLowerCase().includes(word)).map(idOf)
          const allIds = (query: ReadModelQuery) =>
            Effect.gen(function* () {
              const ids: Array<string> = []
              let after: string | undefined
              do {
                const page = yield* store.query(firms.name, {
                  ...query,
                  ...(after === undefined ? {} : { after }),
                })
                ids.push(...page.items.map((item) => item.id))
                after = page.next
              } while (after !== undefined)
              return ids
            })
          expect(yield* allIds({ ...rare, limit: 7 })).toEqual(matching("phoenix"))
          expect(yield* allIds({ ...rare, search: "phoenix ogden", limit: 3 })).toEqual(
            matching("phoenix").filter((id) => matching("ogden").includes(id)),
          )
          const first = yield* store.query(firms.name, { ...common, limit: 50 })
          expect(first.items.map((item) => item.id)).toEqual(matching("springfield").slice(0, 50))
        }),
      ),
    ))
})
