/**
 * Group commit (docs/decisions/0015-postgres-group-commit.md): appends issued together go to the
 * server as one statement and one transaction, yet each is judged and answered on its own, in the
 * order issued; a transient failure fails every append of the batch, retryable, with nothing written.
 */
import { PostgresEventStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import { type EventToAppend, ExpectedVersion, StoreUnavailable } from "@relata/domain"
import { Effect, Fiber, Result, Stream } from "effect"
import pg from "pg"
import { expect, it } from "vitest"
import {
  listen,
  newEvent,
  newEvents,
  runScoped,
  summary,
  terminateWhenWaitingOnLock,
  waitFor,
  withClient,
} from "./support/fixtures.ts"

/** The transaction ids that wrote the events at `positions`: one id means one transaction. */
const writersOf = (connectionString: string, schema: string, positions: ReadonlyArray<bigint>) =>
  Effect.promise(() =>
    withClient(connectionString, async (client) => {
      const result = await client.query<{ writer: string }>(
        `SELECT DISTINCT xmin::text AS writer FROM "${schema}".events WHERE global_position = ANY($1::bigint[])`,
        [positions.map(String)],
      )
      return result.rows.map((row) => row.writer)
    }),
  )

/** A store's appends, issued at once (they reach the store in one turn of the event loop), each settled on its own. */
const allAtOnce = <A, E>(appends: ReadonlyArray<Effect.Effect<A, E>>) =>
  Effect.all(appends.map(Effect.result), { concurrency: "unbounded" })

/** A session holding the schema's append lock in an open transaction, as a slow appender would. */
const holdAppendLock = (connectionString: string, schema: string) =>
  Effect.gen(function* () {
    const held = new pg.Client({ connectionString })
    yield* Effect.promise(() => held.connect())
    yield* Effect.addFinalizer(() => Effect.promise(() => held.end().catch(() => undefined)))
    yield* Effect.promise(() => held.query("BEGIN"))
    yield* Effect.promise(() =>
      held.query(`SELECT * FROM "${schema}".append_events('held', 'any', NULL,
        ARRAY['held-1'], ARRAY['HeldBack'], ARRAY[1], ARRAY['{}'::json], ARRAY['{}'::json])`),
    )
    return held
  })

describeWithPostgres("PostgresEventStore group commit", (server) => {
  it("judges each append of one batch on its own, in order, seeing the batch's earlier appends", () =>
    runScoped(
      Effect.gen(function* () {
        const schema = uniqueSchemaName("group")
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema,
          pollIntervalMs: 600_000, // deliveries below come from the batch's NOTIFY
        })
        const subscription = yield* listen(store.subscribe())
        yield* store.append("customer-1", newEvents(1), ExpectedVersion.noStream)

        const results = yield* allAtOnce([
          store.append("customer-1", newEvents(2), ExpectedVersion.exact(1)),
          store.append("customer-1", newEvents(1), ExpectedVersion.exact(1)), // behind the one before
          store.append("customer-2", newEvents(2), ExpectedVersion.noStream),
          store.append("customer-1", newEvents(1), ExpectedVersion.exact(3)), // after the first
          store.append("customer-3", newEvents(1), ExpectedVersion.streamExists),
          store.append("customer-2", newEvents(1), ExpectedVersion.noStream),
          store.append("customer-2", [], ExpectedVersion.exact(2)),
          store.append("customer-4", newEvents(1), ExpectedVersion.any),
        ])
        expect(
          results.map((result) =>
            Result.isSuccess(result)
              ? result.success
              : { _tag: result.failure._tag, actual: (result.failure as { actual?: number }).actual },
          ),
        ).toEqual([
          { streamVersion: 3, position: 3n },
          { _tag: "WrongExpectedVersion", actual: 3 },
          { streamVersion: 2, position: 5n },
          { streamVersion: 4, position: 6n },
          { _tag: "WrongExpectedVersion", actual: 0 },
          { _tag: "WrongExpectedVersion", actual: 2 },
          { streamVersion: 2, position: 5n },
          { streamVersion: 1, position: 7n },
        ])

        // One transaction wrote them all, at dense positions in the order the appends were issued.
        expect(yield* writersOf(server().connectionString, schema, [2n, 3n, 4n, 5n, 6n, 7n])).toHaveLength(1)
        const all = yield* Stream.runCollect(store.readAll())
        expect(all.map((event) => [event.position, event.streamId, event.version])).toEqual([
          [1n, "customer-1", 1],
          [2n, "customer-1", 2],
          [3n, "customer-1", 3],
          [4n, "customer-2", 1],
          [5n, "customer-2", 2],
          [6n, "customer-1", 4],
          [7n, "customer-4", 1],
        ])
        expect(yield* store.readStream("customer-3")).toEqual([])
        yield* waitFor(() => subscription.seen.length >= 7, "the batch's events, woken by NOTIFY")
        expect(summary(subscription.seen)).toEqual(summary(all))
        // The streams table follows: the next appends see the batch's versions.
        expect(yield* store.append("customer-1", newEvents(1), ExpectedVersion.exact(4))).toEqual({
          streamVersion: 5,
          position: 8n,
        })
      }),
    ))

  it("a duplicate event id fails only its own append, also against an earlier append of the batch", () =>
    runScoped(
      Effect.gen(function* () {
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("groupdup"),
        })
        const stored = newEvent()
        yield* store.append("customer-1", [stored], ExpectedVersion.noStream)
        const shared: EventToAppend = newEvent()
        const results = yield* allAtOnce([
          store.append("customer-2", newEvents(2), ExpectedVersion.noStream),
          store.append("customer-1", [newEvent(), { ...stored }], ExpectedVersion.exact(1)),
          store.append("customer-4", [shared], ExpectedVersion.noStream),
          store.append("customer-4", [{ ...shared }], ExpectedVersion.exact(1)),
          store.append("customer-5", [{ ...stored }, { ...shared }], ExpectedVersion.noStream),
        ])
        const [two, one, four, fourAgain, five] = results
        expect(two).toEqual(Result.succeed({ streamVersion: 2, position: 3n }))
        for (const duplicate of [one, fourAgain]) {
          if (duplicate === undefined || Result.isSuccess(duplicate)) throw new Error("expected a failure")
          expect(duplicate.failure).toBeInstanceOf(StoreUnavailable)
          expect(duplicate.failure).toMatchObject({ retryable: false })
          expect(duplicate.failure.message).toContain("event ids must be unique")
        }
        expect(four).toEqual(Result.succeed({ streamVersion: 1, position: 4n }))
        // Ids stored in other streams: unique per stream, so accepted.
        expect(five).toEqual(Result.succeed({ streamVersion: 2, position: 6n }))
        const all = yield* Stream.runCollect(store.readAll())
        expect(all.map((event) => [event.position, event.streamId, event.eventId])).toEqual([
          [1n, "customer-1", stored.eventId],
          [2n, "customer-2", expect.any(String)],
          [3n, "customer-2", expect.any(String)],
          [4n, "customer-4", shared.eventId],
          [5n, "customer-5", stored.eventId],
          [6n, "customer-5", shared.eventId],
        ])
      }),
    ))

  it("an append the server refuses fails alone, not retryable; the rest of its batch is written", () =>
    runScoped(
      Effect.gen(function* () {
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("grouprefused"),
        })
        const results = yield* allAtOnce([
          store.append("customer-1", newEvents(2), ExpectedVersion.noStream),
          store.append("customer-\u0000", newEvents(1), ExpectedVersion.noStream), // text cannot hold NUL
          store.append("customer-3", newEvents(1), ExpectedVersion.noStream),
        ])
        const [first, refused, third] = results
        expect(first).toEqual(Result.succeed({ streamVersion: 2, position: 2n }))
        if (refused === undefined || Result.isSuccess(refused)) throw new Error("expected a failure")
        expect(refused.failure).toBeInstanceOf(StoreUnavailable)
        expect(refused.failure).toMatchObject({ retryable: false })
        expect(third).toEqual(Result.succeed({ streamVersion: 1, position: 3n }))
      }),
    ))

  it("a connection lost mid-batch fails every append of it, retryable, with nothing written", () =>
    runScoped(
      Effect.gen(function* () {
        const schema = uniqueSchemaName("groupkill")
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema,
          applicationName: "relata-group-kill-test",
        })
        yield* store.append("customer-1", newEvents(1), ExpectedVersion.noStream)
        // The batch waits on the held lock inside the server; then its session is killed.
        const held = yield* holdAppendLock(server().connectionString, schema)
        const batch = yield* Effect.forkChild(
          allAtOnce([
            store.append("customer-1", newEvents(2), ExpectedVersion.exact(1)),
            store.append("customer-2", newEvents(3), ExpectedVersion.noStream),
            store.append("customer-3", newEvents(1), ExpectedVersion.any),
            store.append("customer-1", newEvents(1), ExpectedVersion.exact(3)),
          ]),
        )
        yield* Effect.promise(() =>
          terminateWhenWaitingOnLock(server().adminConnectionString, "relata-group-kill-test"),
        )
        // Had the appends gone in more than one statement, the later ones would wait on the lock
        // and succeed after the rollback below: all four failing shows they shared the killed one.
        const results = yield* Fiber.join(batch)
        yield* Effect.promise(() => held.query("ROLLBACK"))
        expect(results).toHaveLength(4)
        for (const result of results) {
          if (Result.isSuccess(result)) throw new Error("expected a failure")
          expect(result.failure).toBeInstanceOf(StoreUnavailable)
          expect(result.failure).toMatchObject({ retryable: true })
        }
        expect(
          (yield* Stream.runCollect(store.readAll())).map((event) => [event.position, event.streamId]),
        ).toEqual([[1n, "customer-1"]])
        // Retried, the same appends succeed, again together.
        const retried = yield* allAtOnce([
          store.append("customer-1", newEvents(2), ExpectedVersion.exact(1)),
          store.append("customer-2", newEvents(3), ExpectedVersion.noStream),
        ])
        expect(retried).toEqual([
          Result.succeed({ streamVersion: 3, position: 3n }),
          Result.succeed({ streamVersion: 3, position: 6n }),
        ])
      }),
    ))
})
