/**
 * The late-commit problem (docs/decisions/0007-postgres-late-commits.md): a transaction that holds
 * positions but commits after later positions are visible would make readers skip its events. Here
 * one append transaction is held open, after its positions are handed out, while other appends try
 * to commit; a running subscriber and readAll must still see every event once, in commit order.
 */
import { PostgresEventStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import { ExpectedVersion, type RecordedEvent } from "@relata/domain"
import { Effect, Fiber, Stream } from "effect"
import pg from "pg"
import { expect, it } from "vitest"
import { listen, newEvents, runScoped, summary, waitFor } from "./support/fixtures.ts"

describeWithPostgres(
  "PostgresEventStore with a late-committing append",
  (server) => {
    it("delivers every event exactly once, in commit order, while an append transaction is held open", () =>
      runScoped(
        Effect.gen(function* () {
          const schema = uniqueSchemaName("late")
          // A poll interval longer than the test: every delivery below comes from a NOTIFY at commit.
          const store = yield* PostgresEventStore.make({
            connectionString: server().connectionString,
            schema,
            pollIntervalMs: 600_000,
          })
          const subscription = yield* listen(store.subscribe())
          yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
          yield* waitFor(() => subscription.seen.length === 2, "the first two events")

          // A separate session appends through the same function in an explicit transaction and waits:
          // its positions are handed out, but it has not committed.
          const held = new pg.Client({ connectionString: server().connectionString })
          yield* Effect.promise(() => held.connect())
          yield* Effect.addFinalizer(() => Effect.promise(() => held.end().catch(() => undefined)))
          const heldEvents = newEvents(3, "HeldBack")
          yield* Effect.promise(() => held.query("BEGIN"))
          const heldResult = yield* Effect.promise(() =>
            held.query<{ appended: boolean; last_position: string }>(
              `SELECT appended, last_position FROM "${schema}".append_events($1, 'no_stream', NULL,
                 $2::text[], $3::text[], $4::integer[], $5::json[], $6::json[])`,
              [
                "customer-held",
                heldEvents.map((event) => event.eventId),
                heldEvents.map((event) => event.type),
                heldEvents.map((event) => event.schemaVersion),
                heldEvents.map((event) => JSON.stringify(event.data)),
                heldEvents.map((event) => JSON.stringify(event.metadata)),
              ],
            ),
          )
          expect(heldResult.rows[0]).toEqual({ appended: true, last_position: "5" })

          // Other writers append to other streams meanwhile.
          const completed: Array<string> = []
          const others = yield* Effect.forkChild(
            Effect.forEach(
              ["customer-2", "customer-3", "customer-4", "customer-5", "customer-6"],
              (streamId) =>
                Effect.tap(store.append(streamId, newEvents(2), ExpectedVersion.noStream), () =>
                  Effect.sync(() => completed.push(streamId)),
                ),
              { concurrency: "unbounded" },
            ),
          )
          yield* Effect.sleep(750)

          // While the held transaction is open, no later position can become visible: the other
          // appends wait for it, and no reader sees anything beyond the first two events.
          expect(completed).toEqual([])
          expect(subscription.seen).toHaveLength(2)
          expect(yield* Stream.runCollect(store.readAll())).toHaveLength(2)
          expect(yield* store.headPosition).toBe(2n)

          yield* Effect.promise(() => held.query("COMMIT"))
          const results = yield* Fiber.join(others)
          expect(completed).toHaveLength(5)
          yield* waitFor(() => subscription.seen.length >= 15, "all 15 events")
          yield* Effect.sleep(250) // a duplicate would arrive now

          const all = yield* Stream.runCollect(store.readAll())
          expect(summary(subscription.seen)).toEqual(summary(all))
          expect(all.map((event) => event.position)).toEqual(
            Array.from({ length: 15 }, (_, index) => BigInt(index + 1)),
          )
          expect(new Set(all.map((event) => event.eventId)).size).toBe(15)
          // The held append committed first among the late ones, so its events come right after the first two.
          expect(all.slice(2, 5).map((event) => event.eventId)).toEqual(
            heldEvents.map((event) => event.eventId),
          )
          for (const result of results)
            expect(all.some((event) => event.position === result.position)).toBe(true)
          yield* expectCommitOrder(server().adminConnectionString, schema, all)
        }),
      ))

    it("a held append that is rolled back leaves no gap readers wait for and no trace", () =>
      runScoped(
        Effect.gen(function* () {
          const schema = uniqueSchemaName("late")
          const store = yield* PostgresEventStore.make({
            connectionString: server().connectionString,
            schema,
            pollIntervalMs: 600_000,
          })
          const subscription = yield* listen(store.subscribe())
          yield* store.append("customer-1", newEvents(1), ExpectedVersion.noStream)
          const held = new pg.Client({ connectionString: server().connectionString })
          yield* Effect.promise(() => held.connect())
          yield* Effect.addFinalizer(() => Effect.promise(() => held.end().catch(() => undefined)))
          yield* Effect.promise(() => held.query("BEGIN"))
          yield* Effect.promise(() =>
            held.query(
              `SELECT * FROM "${schema}".append_events('customer-1', 'exact', 1,
                 ARRAY['held-1'], ARRAY['HeldBack'], ARRAY[1], ARRAY['{}'::json], ARRAY['{}'::json])`,
            ),
          )
          const waiting = yield* Effect.forkChild(
            store.append("customer-2", newEvents(1), ExpectedVersion.noStream),
          )
          yield* Effect.sleep(300)
          yield* Effect.promise(() => held.query("ROLLBACK"))
          const result = yield* Fiber.join(waiting)
          // The rolled-back append's position is handed out again: positions stay dense.
          expect(result.position).toBe(2n)
          yield* waitFor(() => subscription.seen.length >= 2, "both events")
          yield* Effect.sleep(250)
          expect(subscription.seen.map((event) => [event.position, event.streamId])).toEqual([
            [1n, "customer-1"],
            [2n, "customer-2"],
          ])
          expect((yield* store.readStream("customer-1")).map((event) => event.version)).toEqual([1])
          expect(yield* store.append("customer-1", newEvents(1), ExpectedVersion.exact(1))).toEqual({
            streamVersion: 2,
            position: 3n,
          })
        }),
      ))
  },
  // Commit timestamps let the first test check commit order against the server's own clock.
  { settings: { track_commit_timestamp: "on" } },
)

/** Positions must follow the order in which the server committed the events' transactions. */
const expectCommitOrder = (
  adminConnectionString: string,
  schema: string,
  all: ReadonlyArray<RecordedEvent>,
) =>
  Effect.promise(async () => {
    const admin = new pg.Client({ connectionString: adminConnectionString })
    await admin.connect()
    try {
      const result = await admin.query<{ position: string; out_of_order: boolean }>(
        `SELECT global_position::text AS position,
                pg_xact_commit_timestamp(xmin) < lag(pg_xact_commit_timestamp(xmin)) OVER (ORDER BY global_position)
                  AS out_of_order
           FROM "${schema}".events e ORDER BY e.global_position`,
      )
      expect(result.rows.map((row) => row.position)).toEqual(all.map((event) => String(event.position)))
      expect(result.rows.filter((row) => row.out_of_order === true)).toEqual([])
    } finally {
      await admin.end()
    }
  })
