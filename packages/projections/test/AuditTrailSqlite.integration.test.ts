import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { makeSqliteEventStore, makeSqliteReadModelStore } from "@relata/adapter-sqlite"
import { ActorId, CustomerId } from "@relata/domain"
import {
  type AuditEntry,
  type AuditTrailFilter,
  AuditTrailProjection,
  auditEntriesCollection,
  auditEntriesToCsv,
  customerAuditTrail,
  customerAuditTrailFromStore,
  exportAuditTrail,
  makeProjectionRunner,
  ReadModelStore,
  searchAuditTrail,
} from "@relata/projections"
import { Effect, Stream } from "effect"
import { aBookOfCustomers, customerCommands, customerIdOf, dayOf, instant } from "./support/customers.ts"

const tempFile = Effect.acquireRelease(
  Effect.sync(() => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-audit-rm-")), "relata.sqlite")),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

const count = 20
const rep = (n: number) => ({ id: ActorId.make(`rep-${n}`), role: "rep" as const })

/** Events and read models in one SQLite file, the audit trail projected in small batches. */
const world = Effect.gen(function* () {
  const file = yield* tempFile
  const eventStore = yield* Effect.acquireRelease(makeSqliteEventStore({ path: file }), (s) => s.close)
  const readModels = yield* Effect.acquireRelease(makeSqliteReadModelStore({ path: file }), (s) => s.close)
  const send = customerCommands(eventStore)
  yield* aBookOfCustomers(send, count)
  // Changes by reps, so the trail has more than one actor and role.
  for (let i = 0; i < count; i += 4) {
    yield* send(
      customerIdOf(i),
      dayOf(30 + i),
      "ChangeTier",
      { to: "A", reason: "grew" },
      { actor: rep(i % 2) },
    )
  }
  const head = (yield* send(
    customerIdOf(1),
    dayOf(60),
    "UpdateProfile",
    { changes: { company: 'Neu, "AG"' } },
    {
      actor: rep(1),
    },
  )).position
  const runner = yield* makeProjectionRunner(
    [AuditTrailProjection],
    { eventStore, readModels },
    { batchSize: 7 },
  )
  yield* runner.waitFor(head)
  const replayed: Array<AuditEntry> = []
  for (let i = 0; i < count; i++)
    replayed.push(...(yield* customerAuditTrailFromStore(eventStore, customerIdOf(i))))
  replayed.sort((a, b) =>
    a.recordedAt < b.recordedAt
      ? -1
      : a.recordedAt > b.recordedAt
        ? 1
        : Number(BigInt(a.position) - BigInt(b.position)),
  )
  const provide = <A, E>(effect: Effect.Effect<A, E, ReadModelStore>) =>
    Effect.provideService(effect, ReadModelStore, readModels)
  return { readModels, replayed, provide, head }
})

describe("AuditTrail on the SQLite read-model store", () => {
  it.effect("answers the same history, filters and exports as the replay from the event store", () =>
    Effect.gen(function* () {
      const { replayed, provide, head } = yield* world
      expect(replayed).toHaveLength(Number(head))
      for (let i = 0; i < count; i++) {
        const page = yield* provide(customerAuditTrail(customerIdOf(i), { limit: 1_000 }))
        expect(page.entries).toEqual(
          replayed.filter((e) => e.customerId === customerIdOf(i)).sort((a, b) => a.version - b.version),
        )
      }
      const filters: ReadonlyArray<readonly [AuditTrailFilter, (e: AuditEntry) => boolean]> = [
        [{ actor: rep(1).id }, (e) => e.actor?.id === "rep-1"],
        [{ actorRole: "manager" }, (e) => e.actor?.role === "manager"],
        [
          { eventType: ["TierChanged", "ProfileUpdated"] },
          (e) => e.eventType === "TierChanged" || e.eventType === "ProfileUpdated",
        ],
        [
          { recordedFrom: instant(dayOf(3)), recordedBefore: instant(dayOf(9)) },
          (e) => e.recordedAt >= dayOf(3) && e.recordedAt < dayOf(9),
        ],
        [
          { actor: [rep(0).id, rep(1).id], recordedFrom: instant(dayOf(35)) },
          (e) => e.actor?.role === "rep" && e.recordedAt >= dayOf(35),
        ],
        [
          { customerId: CustomerId.make("c03"), eventType: "CustomerChurned" },
          (e) => e.customerId === "c03" && e.eventType === "CustomerChurned",
        ],
      ]
      for (const [filter, keep] of filters) {
        const expected = replayed.filter(keep)
        expect(expected.length).toBeGreaterThan(0)
        const seen: Array<AuditEntry> = []
        let after: string | undefined
        do {
          const page = yield* provide(
            searchAuditTrail(filter, { limit: 4, ...(after === undefined ? {} : { after }) }),
          )
          seen.push(...page.entries)
          after = page.next
        } while (after !== undefined)
        expect(seen).toEqual(expected)
      }
      const exported = yield* provide(
        Effect.map(Stream.runCollect(exportAuditTrail("csv", {}, { pageSize: 10 })), (chunks) =>
          Buffer.concat(chunks).toString("utf8"),
        ),
      )
      const expectedCsv = (yield* Stream.runCollect(auditEntriesToCsv(Stream.fromIterable(replayed)))).join(
        "",
      )
      expect(exported).toBe(expectedCsv)
    }),
  )

  it.effect("answers one customer's history and the filtered trail from indexes, without a sort step", () =>
    Effect.gen(function* () {
      const { readModels } = yield* world
      const plan = (query: Parameters<typeof readModels.explain>[1]) =>
        readModels.explain(auditEntriesCollection, query)
      const byCustomer = yield* plan({ where: { customerId: "c01" }, orderBy: { field: "version" } })
      const byActor = yield* plan({
        where: { actor: "rep-1", recordedAt: { gte: dayOf(3), lt: dayOf(40) } },
        orderBy: { field: "recordedAt" },
      })
      const byType = yield* plan({
        where: { eventType: "TierChanged" },
        orderBy: { field: "recordedAt", direction: "desc" },
      })
      const timeline = yield* plan({
        where: { recordedAt: { gte: dayOf(3) } },
        orderBy: { field: "recordedAt" },
      })
      // A filter that matches most of the trail (reps make most changes) must not sort it.
      const byOtherFilters = yield* Effect.forEach(
        [{ actorRole: "rep" }, { commandType: "ChangeTier" }, { correlationId: "k-1" }],
        (where) => plan({ where, orderBy: { field: "recordedAt" } }),
      )
      for (const explained of [byCustomer, byActor, byType, timeline, ...byOtherFilters]) {
        expect(explained).toContain("USING INDEX")
        expect(explained).not.toContain("TEMP B-TREE")
      }
    }),
  )
})
