/**
 * Crash safety of the read side on the server setup (events and read models in one PostgreSQL
 * schema): a projection process running the API's three projections is killed (SIGKILL) at random
 * instants, again and again, while it catches up and while new events arrive. Because each batch's
 * documents and checkpoint commit in one transaction, every restart resumes exactly where the last
 * commit left off: every collection ends equal to a from-scratch rebuild into a fresh schema.
 *
 * The kill instants come from a seeded generator; the seed is printed, and RELATA_CRASH_SEED=<seed>
 * replays the same instants, batch sizes and appends (the process's progress still depends on timing).
 */
import { fileURLToPath } from "node:url"
import { makePostgresEventStore, makePostgresReadModelStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import {
  ActorId,
  CommandId,
  CurrencyCode,
  CustomerId,
  customerModel,
  type Email,
  type EventStoreService,
  type GlobalPosition,
  Instant,
  LeadSource,
  makeCommandHandler,
} from "@relata/domain"
import { customerCommand } from "@relata/domain/testing"
import {
  AnalyticsProjection,
  type AnyProjection,
  AuditTrailProjection,
  CustomerCardProjection,
  makeProjectionRunner,
} from "@relata/projections"
import { activeCheckpointOf, allDocuments, spawnProjector, untilCommitted } from "@relata/projections/testing"
import { Effect } from "effect"
import { expect, it } from "vitest"

const projector = fileURLToPath(new URL("./fixtures/projectInAnotherProcess.ts", import.meta.url))

/** The projections the child runs, as the API server does. */
const projections: ReadonlyArray<AnyProjection> = [
  CustomerCardProjection as AnyProjection,
  AuditTrailProjection as AnyProjection,
  AnalyticsProjection as AnyProjection,
]

const seed = Number(process.env.RELATA_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))

/** A small deterministic generator (mulberry32), so a failing run can be replayed. */
const seeded = (state: number) => () => {
  state = (state + 0x6d2b79f5) | 0
  let t = Math.imul(state ^ (state >>> 15), 1 | state)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

/**
 * Registers customers `from..from+count` through the command handler and gives each a few more
 * events, among them some of every kind the three projections keep (tier changes, lost deals, churn).
 */
const customers = (eventStore: EventStoreService, from: number, count: number) =>
  Effect.gen(function* () {
    const handler = makeCommandHandler(customerModel(), { eventStore })
    for (let i = from; i < from + count; i++) {
      const envelope = (n: number) => ({
        commandId: CommandId.make(`c${i}-${n}`),
        customerId: CustomerId.make(`c${i}`),
        issuedAt: Instant.make(new Date(Date.UTC(2024, 0, 1, 0, i, n)).toISOString()),
      })
      yield* handler.handle(
        customerCommand(
          "RegisterLead",
          {
            profile: { name: `Customer ${i}`, email: `c${i}@example.com` as Email },
            source: LeadSource.make(i % 3 === 0 ? "referral" : "web"),
            owner: ActorId.make(`rep-${i % 4}`),
          },
          envelope(0),
        ),
      )
      yield* handler.handle(customerCommand("QualifyLead", {}, envelope(1)))
      if (i % 2 === 0) {
        const amount = { amountMinor: 100 * i, currency: CurrencyCode.make("EUR") }
        yield* handler.handle(
          customerCommand("ConvertToCustomer", { firstPurchase: { amount } }, envelope(2)),
        )
        yield* handler.handle(customerCommand("RecordPurchase", { amount }, envelope(3)))
      }
      if (i % 3 === 0) {
        yield* handler.handle(
          customerCommand("UpdateProfile", { changes: { name: `Customer ${i} Ltd` } }, envelope(4)),
        )
      }
      if (i % 5 === 0) {
        const to = i % 2 === 0 ? "A" : "B"
        yield* handler.handle(customerCommand("ChangeTier", { to, reason: "Key account" }, envelope(5)))
      }
      if (i % 4 === 0) {
        yield* handler.handle(customerCommand("ChurnCustomer", { reason: `Price ${i % 3}` }, envelope(6)))
      } else if (i % 4 === 1) {
        yield* handler.handle(customerCommand("MarkDealLost", { reason: `Budget ${i % 3}` }, envelope(6)))
      }
    }
  })

const startProjector = (connectionString: string, schema: string, batchSize: number) =>
  spawnProjector(projector, [connectionString, schema, String(batchSize)])

/** A projector that is killed when the test's scope closes, should the test fail before it does. */
const projectorIn = (connectionString: string, schema: string, batchSize: number) =>
  Effect.acquireRelease(
    Effect.sync(() => startProjector(connectionString, schema, batchSize)),
    (child) => Effect.sync(() => child.process.kill("SIGKILL")),
  )

describeWithPostgres("PostgresReadModelStore under SIGKILL", (server) => {
  it("a projection process killed at random instants, again and again, ends equal to a from-scratch rebuild", async () => {
    const { connectionString } = server()
    const schema = uniqueSchemaName("crash")
    console.log(`PostgresReadModelStore crash test: seed ${seed} (RELATA_CRASH_SEED=${seed} replays it)`)
    const random = seeded(seed)
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const eventStore = yield* Effect.acquireRelease(
            makePostgresEventStore({ connectionString, schema, poolSize: 2 }),
            (store) => store.close,
          )
          const readModels = yield* Effect.acquireRelease(
            makePostgresReadModelStore({ connectionString, schema, poolSize: 2 }),
            (store) => store.close,
          )
          yield* customers(eventStore, 0, 120)
          let next = 120
          /** Per round and projection: its checkpoint after the kill, and the head then. */
          const rounds: Array<{
            readonly round: number
            readonly projection: string
            readonly checkpoint: GlobalPosition
            readonly head: GlobalPosition
          }> = []

          for (let round = 0; round < 14; round++) {
            const child = yield* projectorIn(connectionString, schema, 1 + Math.floor(random() * 8))
            const delay = Math.floor(random() * 50)
            const arriving = Math.floor(random() * 3) * 10
            const since = new Map<string, GlobalPosition>()
            for (const { name } of projections) since.set(name, yield* activeCheckpointOf(readModels, name))
            yield* Effect.promise(() => child.ready)
            // New events arrive while it runs; it dies at a random instant soon after its first
            // commit, while behind most of the time.
            yield* Effect.all(
              [
                customers(eventStore, next, arriving),
                untilCommitted(readModels, since).pipe(
                  Effect.andThen(Effect.sleep(delay)),
                  Effect.andThen(Effect.sync(() => child.process.kill("SIGKILL"))),
                ),
              ],
              { concurrency: 2 },
            )
            next += arriving
            const exit = yield* Effect.promise(() => child.exit)
            expect(exit.signal, `seed ${seed}, round ${round}: ${exit.stderr}`).toBe("SIGKILL")
            const head = yield* eventStore.headPosition
            for (const { name } of projections) {
              const checkpoint = yield* activeCheckpointOf(readModels, name)
              rounds.push({ round, projection: name, checkpoint, head })
            }
            yield* customers(eventStore, next, 10)
            next += 10
          }

          const head = yield* eventStore.headPosition
          const last = yield* projectorIn(connectionString, schema, 50)
          yield* Effect.promise(() => last.done(head))
          last.process.stdin.end()
          expect((yield* Effect.promise(() => last.exit)).code, `seed ${seed}`).toBe(0)

          // No restart went back in time, and most kills landed while a projection had moved on
          // since the last one but was still behind the head.
          const behind = new Set<number>()
          for (const { name } of projections) {
            const mine = rounds.filter((r) => r.projection === name)
            const checkpoints = mine.map((r) => r.checkpoint)
            expect(
              [...checkpoints].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
              name,
            ).toEqual(checkpoints)
            for (const [i, r] of mine.entries()) {
              if (r.checkpoint > (checkpoints[i - 1] ?? 0n) && r.checkpoint < r.head) behind.add(r.round)
            }
          }
          expect(behind.size, `seed ${seed}: ${rounds.map((r) => r.checkpoint).join(" ")}`).toBeGreaterThan(5)

          for (const projection of projections) {
            expect(yield* readModels.generations(projection.name)).toEqual([
              {
                projection: projection.name,
                generation: 1,
                version: projection.version,
                checkpoint: head,
                active: true,
              },
            ])
          }

          // The same events projected by one uninterrupted runner into a schema of its own.
          const rebuilt = yield* Effect.acquireRelease(
            makePostgresReadModelStore({
              connectionString,
              schema: uniqueSchemaName("rebuilt"),
              poolSize: 2,
            }),
            (store) => store.close,
          )
          const runner = yield* makeProjectionRunner(projections, { eventStore, readModels: rebuilt })
          yield* runner.waitFor(head)
          for (const projection of projections) {
            for (const { name } of projection.collections) {
              const survived = yield* allDocuments(readModels, name)
              const expected = yield* allDocuments(rebuilt, name)
              expect(expected.length, `${name} is empty`).toBeGreaterThan(0)
              expect(survived, `seed ${seed}: ${name}`).toEqual(expected)
            }
          }
        }),
      ),
    )
  }, 90_000)
})
