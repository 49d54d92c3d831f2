/**
 * Crash safety of the read side: a projection process is killed (SIGKILL) at random instants while
 * it catches up, many times, with new events arriving between the kills. Because each batch's
 * documents and checkpoint commit in one transaction, every restart resumes exactly where the last
 * commit left off: the read model in the file ends equal to a from-scratch rebuild of the same events.
 */
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { makeSqliteEventStore, makeSqliteReadModelStore } from "@relata/adapter-sqlite"
import {
  ActorId,
  CommandId,
  CurrencyCode,
  CustomerId,
  customerModel,
  type Email,
  type EventStoreService,
  Instant,
  LeadSource,
  makeCommandHandler,
} from "@relata/domain"
import { customerCommand } from "@relata/domain/testing"
import {
  CustomerCardProjection,
  customerCardsCollection,
  customerDuplicateKeysCollection,
  makeInMemoryReadModelStore,
  makeProjectionRunner,
} from "@relata/projections"
import { activeCheckpointOf, allDocuments, spawnProjector, untilCommitted } from "@relata/projections/testing"
import { Effect } from "effect"

const projector = fileURLToPath(new URL("./fixtures/projectCardsInAnotherProcess.ts", import.meta.url))

const withTempFolder = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-crash-"))),
  (folder) => Effect.sync(() => fs.rmSync(folder, { recursive: true, force: true })),
)

/** A small deterministic generator (mulberry32), so a failing run can be replayed. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

/** Registers customers `from..from+count` through the command handler and gives each a few more events. */
const customers = (eventStore: EventStoreService, from: number, count: number) =>
  Effect.gen(function* () {
    const handler = makeCommandHandler(customerModel(), { eventStore })
    let position = 0n
    for (let i = from; i < from + count; i++) {
      const envelope = (n: number) => ({
        commandId: CommandId.make(`c${i}-${n}`),
        customerId: CustomerId.make(`c${i}`),
        issuedAt: Instant.make(new Date(Date.UTC(2024, 0, 1, 0, i, n)).toISOString()),
      })
      position = (yield* handler.handle(
        customerCommand(
          "RegisterLead",
          {
            profile: { name: `Customer ${i}`, email: `c${i}@example.com` as Email },
            source: LeadSource.make("web"),
            owner: ActorId.make(`rep-${i % 4}`),
          },
          envelope(0),
        ),
      )).position
      position = (yield* handler.handle(customerCommand("QualifyLead", {}, envelope(1)))).position
      if (i % 2 === 0) {
        const amount = { amountMinor: 100 * i, currency: CurrencyCode.make("EUR") }
        position = (yield* handler.handle(
          customerCommand("ConvertToCustomer", { firstPurchase: { amount } }, envelope(2)),
        )).position
        position = (yield* handler.handle(customerCommand("RecordPurchase", { amount }, envelope(3))))
          .position
      }
      if (i % 3 === 0) {
        position = (yield* handler.handle(
          customerCommand("UpdateProfile", { changes: { name: `Customer ${i} Ltd` } }, envelope(4)),
        )).position
      }
    }
    return position
  })

const startProjector = (file: string, batchSize: number) =>
  spawnProjector(projector, [file, String(batchSize)])

describe("SqliteReadModelStore under SIGKILL", () => {
  it.live(
    "a projection process killed at random instants, again and again, ends equal to a from-scratch rebuild",
    () =>
      Effect.gen(function* () {
        const folder = yield* withTempFolder
        const file = path.join(folder, "relata.sqlite")
        const eventStore = yield* Effect.acquireRelease(makeSqliteEventStore({ path: file }), (s) => s.close)
        const readModels = yield* Effect.acquireRelease(
          makeSqliteReadModelStore({ path: file }),
          (s) => s.close,
        )
        const random = seeded(20_240_101)
        let head = yield* customers(eventStore, 0, 200)
        let next = 200
        const checkpoints: Array<bigint> = []

        for (let round = 0; round < 12; round++) {
          const child = startProjector(file, 1 + Math.floor(random() * 4))
          yield* Effect.promise(() => child.ready)
          // At a random instant soon after its first commit: while it is still behind, most of the
          // time. (A fixed delay after start can pass before the first commit on a loaded machine.)
          const since = checkpoints.at(-1) ?? 0n
          yield* untilCommitted(readModels, new Map([["customer-cards", since]]))
          yield* Effect.sleep(Math.floor(random() * 20))
          child.process.kill("SIGKILL")
          const exit = yield* Effect.promise(() => child.exit)
          expect(exit.signal, exit.stderr).toBe("SIGKILL")
          checkpoints.push(yield* activeCheckpointOf(readModels, "customer-cards"))
          head = yield* customers(eventStore, next, 40)
          next += 40
        }

        const last = startProjector(file, 50)
        yield* Effect.promise(() => last.done(head))
        last.process.stdin.end()
        expect((yield* Effect.promise(() => last.exit)).code).toBe(0)

        // The kills did land while it was behind, and no restart went back in time.
        const behind = checkpoints.filter((c, round) => c > (checkpoints[round - 1] ?? 0n) && c < head)
        expect(behind.length).toBeGreaterThan(3)
        expect([...checkpoints].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(checkpoints)

        const generations = yield* readModels.generations("customer-cards")
        expect(generations).toEqual([
          {
            projection: "customer-cards",
            generation: 1,
            version: CustomerCardProjection.version,
            checkpoint: head,
            active: true,
          },
        ])
        const rebuilt = makeInMemoryReadModelStore()
        const runner = yield* makeProjectionRunner([CustomerCardProjection], {
          eventStore,
          readModels: rebuilt,
        })
        yield* runner.waitFor(head)
        for (const collection of [customerCardsCollection, customerDuplicateKeysCollection]) {
          const survived = yield* allDocuments(readModels, collection)
          expect(survived.length).toBeGreaterThan(300)
          expect(survived).toEqual(yield* allDocuments(rebuilt, collection))
        }
      }),
    120_000,
  )
})
