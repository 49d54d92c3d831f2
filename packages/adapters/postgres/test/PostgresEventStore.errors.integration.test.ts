/**
 * How the store fails: at start-up with a typed error that names the server and never the password;
 * at run time with StoreUnavailable saying whether a retry can help; never half-written.
 */
import { inspect } from "node:util"
import { makePostgresEventStore, PostgresEventStore, PostgresStoreOpenError } from "@relata/adapter-postgres"
import {
  describeWithPostgres,
  startPostgresTestServer,
  uniqueSchemaName,
} from "@relata/adapter-postgres/testing"
import { ExpectedVersion, StoreUnavailable } from "@relata/domain"
import { Effect, Fiber, Redacted, Result, Stream } from "effect"
import pg from "pg"
import { expect, it } from "vitest"
import { newEvent, newEvents, runScoped, terminateWhenWaitingOnLock, withClient } from "./support/fixtures.ts"

/** Opens a store and returns its start-up error; fails the test if it opens. */
const openError = (config: PostgresEventStore.PostgresEventStoreConfig) =>
  runScoped(
    Effect.gen(function* () {
      const result = yield* Effect.result(PostgresEventStore.make(config))
      if (Result.isSuccess(result)) throw new Error("the store opened")
      return result.failure
    }),
  )

/** Every way the error could reach a log: none may contain the password. */
const expectNoSecret = (error: PostgresStoreOpenError, secret: string) => {
  for (const text of [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
    expect(text).not.toContain(secret)
  }
}

const closedPort = async (): Promise<number> => {
  const { createServer } = await import("node:net")
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 1))
    })
  })
}

describeWithPostgres("PostgresEventStore errors", (server) => {
  it("start-up against a closed port fails fast, retryable, naming host, port and database", async () => {
    const port = await closedPort()
    const password = "s3cret-on-a-closed-port"
    const error = await openError({
      connectionString: `postgresql://relata:${password}@127.0.0.1:${port}/crm`,
      connectTimeoutMs: 2_000,
    })
    expect(error).toBeInstanceOf(PostgresStoreOpenError)
    expect(error).toMatchObject({ host: "127.0.0.1", port, database: "crm", user: "relata", retryable: true })
    expect(error.reason).toContain("connection refused")
    expect(error.message).toContain(`relata@127.0.0.1:${port}/crm`)
    expectNoSecret(error, password)
  })

  it("start-up with a wrong password fails, not retryable, without the password", async () => {
    const { host, port, database, user, password } = server()
    const wrong = `${password}-wrong`
    const error = await openError({
      connectionString: `postgresql://${user}:${wrong}@${host}:${port}/${database}`,
    })
    expect(error).toMatchObject({ host, port, database, user, retryable: false })
    expect(error.reason).toBe(`password authentication failed for user "${user}"`)
    expectNoSecret(error, wrong)
    expectNoSecret(error, password)
  })

  it("start-up without a password, or on a missing database, says so", async () => {
    const { host, port, user, password } = server()
    const none = await openError({ connectionString: `postgresql://${user}@${host}:${port}/relata` })
    expect(none).toMatchObject({ retryable: false })
    expect(none.reason).toContain("password")
    const missing = await openError({
      connectionString: Redacted.make(`postgresql://${user}:${password}@${host}:${port}/nope`),
    })
    expect(missing).toMatchObject({ database: "nope", retryable: false })
    expect(missing.reason).toBe('database "nope" does not exist')
    expectNoSecret(missing, password)
  })

  it("an invalid configuration fails before connecting", async () => {
    const { connectionString, password } = server()
    const badSchema = await openError({ connectionString, schema: "Robert'); DROP TABLE" })
    expect(badSchema.reason).toMatch(/^invalid configuration: schema must be/)
    expectNoSecret(badSchema, password)
    expect((await openError({ connectionString, poolSize: 0 })).reason).toContain("poolSize")
    expect((await openError({ connectionString: "  " })).reason).toContain("connectionString is empty")
    const unparsable = await openError({ connectionString: "postgresql://relata:s3cret@host:99999/db" })
    expect(unparsable.reason).toContain("cannot be parsed")
    expectNoSecret(unparsable, "s3cret")
  })

  it("a schema written by a newer release is refused", () =>
    runScoped(
      Effect.gen(function* () {
        const schema = uniqueSchemaName("newer")
        yield* PostgresEventStore.make({ connectionString: server().connectionString, schema })
        yield* Effect.promise(() =>
          withClient(server().connectionString, (client) =>
            client.query(
              `INSERT INTO "${schema}".schema_migrations (version, description) VALUES (99, 'future')`,
            ),
          ),
        )
        const error = yield* Effect.flip(
          PostgresEventStore.make({ connectionString: server().connectionString, schema }),
        )
        expect(error).toMatchObject({ _tag: "PostgresStoreOpenError", retryable: false })
        expect(error.reason).toContain(`schema "${schema}" is at version 99`)
      }),
    ))

  it("a duplicate event id in a stream rejects the whole append as a permanent failure, as on SQLite", () =>
    runScoped(
      Effect.gen(function* () {
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("dup"),
        })
        const first = newEvent()
        yield* store.append("customer-1", [first, newEvent()], ExpectedVersion.noStream)
        const again = yield* Effect.flip(
          store.append("customer-1", [newEvent(), { ...first }], ExpectedVersion.exact(2)),
        )
        expect(again).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect(again.message).toContain("event ids must be unique")
        const twice = newEvent()
        const withinOne = yield* Effect.flip(
          store.append("customer-2", [twice, { ...twice }], ExpectedVersion.noStream),
        )
        expect(withinOne).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect(withinOne.message).toContain("event ids must be unique")
        expect(yield* store.readStream("customer-1")).toHaveLength(2)
        expect(yield* store.readStream("customer-2")).toEqual([])
        expect(yield* Stream.runCollect(store.readAll())).toHaveLength(2)
        // Unique per stream, as in KurrentDB: another stream may hold the same id.
        expect(yield* store.append("customer-2", [{ ...first }], ExpectedVersion.noStream)).toEqual({
          streamVersion: 1,
          position: 3n,
        })
        expect((yield* store.readStream("customer-2")).map((event) => event.eventId)).toEqual([first.eventId])
      }),
    ))

  it("an append waiting on a held append lock fails retryable after lockTimeoutMs", () =>
    runScoped(
      Effect.gen(function* () {
        const schema = uniqueSchemaName("lock")
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema,
          lockTimeoutMs: 300,
        })
        const held = new pg.Client({ connectionString: server().connectionString })
        yield* Effect.promise(() => held.connect())
        yield* Effect.addFinalizer(() => Effect.promise(() => held.end().catch(() => undefined)))
        yield* Effect.promise(() => held.query("BEGIN"))
        yield* Effect.promise(() =>
          held.query(`SELECT * FROM "${schema}".append_events('customer-1', 'any', NULL,
            ARRAY['held-1'], ARRAY['HeldBack'], ARRAY[1], ARRAY['{}'::json], ARRAY['{}'::json])`),
        )
        const error = yield* Effect.flip(store.append("customer-2", newEvents(1), ExpectedVersion.any))
        expect(error).toBeInstanceOf(StoreUnavailable)
        expect(error).toMatchObject({ retryable: true })
        expect((error as StoreUnavailable).reason).toContain("lock")
        yield* Effect.promise(() => held.query("ROLLBACK"))
        expect((yield* store.append("customer-2", newEvents(1), ExpectedVersion.any)).position).toBe(1n)
      }),
    ))

  it("a connection killed mid-append fails it retryable, writes nothing, and the next append succeeds", () =>
    runScoped(
      Effect.gen(function* () {
        const schema = uniqueSchemaName("kill")
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema,
          applicationName: "relata-kill-test",
        })
        yield* store.append("customer-1", newEvents(1), ExpectedVersion.noStream)
        // Hold the append lock so the store's append waits inside the server, then kill its session.
        const held = new pg.Client({ connectionString: server().connectionString })
        yield* Effect.promise(() => held.connect())
        yield* Effect.addFinalizer(() => Effect.promise(() => held.end().catch(() => undefined)))
        yield* Effect.promise(() => held.query("BEGIN"))
        yield* Effect.promise(() =>
          held.query(`SELECT * FROM "${schema}".append_events('other', 'any', NULL,
            ARRAY['held-2'], ARRAY['HeldBack'], ARRAY[1], ARRAY['{}'::json], ARRAY['{}'::json])`),
        )
        const waiting = yield* Effect.forkChild(
          Effect.result(store.append("customer-1", newEvents(2), ExpectedVersion.exact(1))),
        )
        yield* Effect.promise(() =>
          terminateWhenWaitingOnLock(server().adminConnectionString, "relata-kill-test"),
        )
        const result = yield* Fiber.join(waiting)
        assertFailure(result)
        expect(result.failure).toBeInstanceOf(StoreUnavailable)
        expect(result.failure).toMatchObject({ retryable: true })
        yield* Effect.promise(() => held.query("ROLLBACK"))
        expect((yield* store.readStream("customer-1")).map((event) => event.version)).toEqual([1])
        expect(
          (yield* store.append("customer-1", newEvents(2), ExpectedVersion.exact(1))).streamVersion,
        ).toBe(3)
      }),
    ))

  it("a server that goes away makes operations fail retryable; an internal error is not retryable", () =>
    runScoped(
      Effect.gen(function* () {
        // A server of its own, since this test stops it.
        const own = yield* Effect.acquireRelease(
          Effect.promise(() => startPostgresTestServer()),
          (started) => Effect.promise(() => started.stop()),
        )
        const schema = uniqueSchemaName("gone")
        const store = yield* PostgresEventStore.make({
          connectionString: own.connectionString,
          schema,
          connectTimeoutMs: 2_000,
        })
        yield* store.append("customer-1", newEvents(1), ExpectedVersion.noStream)

        yield* Effect.promise(() =>
          withClient(own.adminConnectionString, (admin) => admin.query(`DROP TABLE "${schema}".streams`)),
        )
        const broken = yield* Effect.flip(store.append("customer-1", newEvents(1), ExpectedVersion.any))
        expect(broken).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect((broken as StoreUnavailable).reason).toContain("42P01")
        expect((broken as StoreUnavailable).cause).toBeDefined()

        yield* Effect.promise(() => own.stop())
        const down = yield* Effect.flip(store.append("customer-1", newEvents(1), ExpectedVersion.any))
        expect(down).toMatchObject({ _tag: "StoreUnavailable", retryable: true })
        const head = yield* Effect.flip(store.headPosition)
        expect(head).toMatchObject({ _tag: "StoreUnavailable", retryable: true })
        const read = yield* Effect.flip(Stream.runCollect(store.readAll()))
        expect(read).toMatchObject({ _tag: "StoreUnavailable", retryable: true })
      }),
    ))

  it("a closed store fails operations, not retryable", () =>
    runScoped(
      Effect.gen(function* () {
        const handle = yield* Effect.acquireRelease(
          Effect.orDie(
            PostgresEventStore.make({
              connectionString: server().connectionString,
              schema: uniqueSchemaName("closed"),
            }).pipe(Effect.scoped),
          ),
          () => Effect.void,
        )
        const error = yield* Effect.flip(handle.append("customer-1", newEvents(1), ExpectedVersion.any))
        expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect((error as StoreUnavailable).reason).toContain("closed")
      }),
    ))

  it("closing the store ends a waiting subscription at once with StoreUnavailable", () =>
    runScoped(
      Effect.gen(function* () {
        const handle = yield* makePostgresEventStore({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("closing"),
          pollIntervalMs: 600_000,
        })
        const subscription = yield* Effect.forkChild(Stream.runDrain(handle.subscribe()))
        yield* Effect.sleep(300) // caught up on the empty store, waiting for a notification
        yield* handle.close
        const exit = yield* Fiber.await(subscription).pipe(Effect.timeout(5_000))
        expect(exit).toMatchObject({ _tag: "Failure" })
        expect(String(exit)).toContain("closed")
      }),
    ))
})

function assertFailure<A, E>(result: Result.Result<A, E>): asserts result is Result.Failure<A, E> {
  if (Result.isSuccess(result)) throw new Error("expected a failure")
}
