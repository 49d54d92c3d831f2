/**
 * What the PostgreSQL store does beyond the shared contract: its layer and pool, migrations, waking
 * subscribers through LISTEN/NOTIFY (and surviving a lost LISTEN connection), catching up without
 * sleeping, reading through the primary key, and payloads jsonb could not hold.
 */
import { readFileSync, statSync } from "node:fs"
import { makePostgresEventStore, PostgresEventStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import { EventStore, ExpectedVersion } from "@relata/domain"
import { Effect, Stream } from "effect"
import { expect, it } from "vitest"
import { listen, newEvent, newEvents, runScoped, summary, waitFor, withClient } from "./support/fixtures.ts"

const sessionsOf = (connectionString: string, applicationName: string) =>
  withClient(connectionString, async (client) => {
    const result = await client.query<{ count: string }>(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
      [applicationName],
    )
    return Number(result.rows[0]?.count)
  })

describeWithPostgres("PostgresEventStore", (server) => {
  it("layer provides EventStore in the default schema `relata` and ends its connections with the scope", async () => {
    const { connectionString, adminConnectionString } = server()
    const layer = PostgresEventStore.layer({ connectionString, applicationName: "relata-layer-test" })
    const position = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const store = yield* EventStore
          const result = yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
          expect(
            yield* Effect.promise(() => sessionsOf(adminConnectionString, "relata-layer-test")),
          ).toBeGreaterThan(0)
          return result.position
        }).pipe(Effect.provide(layer)),
      ),
    )
    expect(position).toBe(2n)
    expect(await sessionsOf(adminConnectionString, "relata-layer-test")).toBe(0)
    const tables = await withClient(adminConnectionString, (client) =>
      client.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'relata' ORDER BY 1",
      ),
    )
    expect(tables.rows.map((row) => row.table_name)).toEqual([
      "events",
      "schema_migrations",
      "snapshots",
      "streams",
    ])
  })

  it("migrations apply once, also when several processes start together", () =>
    runScoped(
      Effect.gen(function* () {
        const schema = uniqueSchemaName("migrate")
        const config = { connectionString: server().connectionString, schema }
        const stores = yield* Effect.all(
          Array.from({ length: 4 }, () => PostgresEventStore.make(config)),
          {
            concurrency: "unbounded",
          },
        )
        yield* stores[0]?.append("customer-1", newEvents(1), ExpectedVersion.noStream) ?? Effect.void
        const again = yield* PostgresEventStore.make(config)
        expect((yield* again.readStream("customer-1")).map((event) => event.version)).toEqual([1])
        const applied = yield* Effect.promise(() =>
          withClient(server().connectionString, (client) =>
            client.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`),
          ),
        )
        expect(applied.rows).toEqual([1, 2, 3, 4, 5].map((version) => ({ version })))
      }),
    ))

  it("a schema from before migration 4 gets event ids unique per stream and keeps its events", () =>
    runScoped(
      Effect.gen(function* () {
        const { connectionString } = server()
        const schema = uniqueSchemaName("upgrade4")
        const before = yield* makePostgresEventStore({ connectionString, schema })
        const first = newEvent()
        yield* before.append("customer-1", [first, newEvent()], ExpectedVersion.noStream)
        yield* before.append("customer-2", newEvents(1), ExpectedVersion.noStream)
        const stored = yield* Stream.runCollect(before.readAll())
        yield* before.close
        yield* Effect.promise(() => backToBeforeMigration4(connectionString, schema))
        expect(yield* Effect.promise(() => uniqueConstraintsOf(connectionString, schema))).toContainEqual({
          name: "events_event_id_key",
          definition: "UNIQUE (event_id)",
        })

        const store = yield* PostgresEventStore.make({ connectionString, schema })
        expect(yield* Effect.promise(() => uniqueConstraintsOf(connectionString, schema))).toEqual([
          { name: "events_pkey", definition: "PRIMARY KEY (global_position)" },
          { name: "events_stream_event_id_key", definition: "UNIQUE (stream_id, event_id)" },
          { name: "events_stream_version_key", definition: "UNIQUE (stream_id, version)" },
        ])
        expect(summary(yield* Stream.runCollect(store.readAll()))).toEqual(summary(stored))
        const duplicate = yield* Effect.flip(store.append("customer-1", [{ ...first }], ExpectedVersion.any))
        expect(duplicate).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect(duplicate.message).toContain("event ids must be unique")
        expect(yield* store.append("customer-2", [{ ...first }], ExpectedVersion.exact(1))).toEqual({
          streamVersion: 2,
          position: 4n,
        })
      }),
    ))

  it("migration 4 adopts the index an operator built beforehand instead of building it again", () =>
    runScoped(
      Effect.gen(function* () {
        const { connectionString } = server()
        const schema = uniqueSchemaName("adopt4")
        const before = yield* makePostgresEventStore({ connectionString, schema })
        yield* before.append("customer-1", newEvents(3), ExpectedVersion.noStream)
        yield* before.close
        yield* Effect.promise(() => backToBeforeMigration4(connectionString, schema))
        const built = yield* Effect.promise(() =>
          withClient(connectionString, async (client) => {
            await client.query(
              `CREATE UNIQUE INDEX CONCURRENTLY events_stream_event_id_key ON "${schema}".events (stream_id, event_id)`,
            )
            const result = await client.query<{ oid: number }>("SELECT $1::regclass::oid AS oid", [
              `"${schema}".events_stream_event_id_key`,
            ])
            return result.rows[0]?.oid
          }),
        )

        const store = yield* PostgresEventStore.make({ connectionString, schema })
        const adopted = yield* Effect.promise(() =>
          withClient(connectionString, (client) =>
            client.query<{ index: number }>(
              "SELECT conindid AS index FROM pg_constraint WHERE conname = 'events_stream_event_id_key' AND connamespace = $1::regnamespace",
              [`"${schema}"`],
            ),
          ),
        )
        expect(built).toBeDefined()
        expect(adopted.rows).toEqual([{ index: built }])
        expect(yield* Effect.promise(() => uniqueConstraintsOf(connectionString, schema))).not.toContainEqual(
          expect.objectContaining({ name: "events_event_id_key" }),
        )
        expect(yield* store.readStream("customer-1")).toHaveLength(3)
      }),
    ))

  it("wakes a caught-up subscriber through NOTIFY, not by polling", () =>
    runScoped(
      Effect.gen(function* () {
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("notify"),
          pollIntervalMs: 600_000,
        })
        const subscription = yield* listen(store.subscribe())
        yield* Effect.sleep(200) // caught up on the empty store, waiting
        for (let round = 1; round <= 3; round++) {
          yield* store.append(`customer-${round}`, newEvents(1), ExpectedVersion.noStream)
          // A poll would take ten minutes; the notification takes milliseconds.
          yield* waitFor(() => subscription.seen.length === round, `event ${round}`, 2_000)
        }
      }),
    ))

  it("reconnects a lost LISTEN connection and delivers what was appended meanwhile", () =>
    runScoped(
      Effect.gen(function* () {
        const applicationName = "relata-listen-test"
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("relisten"),
          pollIntervalMs: 600_000,
          applicationName,
        })
        const subscription = yield* listen(store.subscribe())
        const admin = server().adminConnectionString
        const listeners = () => sessionsOf(admin, `${applicationName}-listener`)
        yield* waitForAsync(async () => (await listeners()) === 1, "the LISTEN connection")
        yield* Effect.promise(() =>
          withClient(admin, (client) =>
            client.query(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
              [`${applicationName}-listener`],
            ),
          ),
        )
        // Appended while nobody listens: the reconnection itself wakes the subscriber.
        yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
        yield* waitFor(() => subscription.seen.length === 2, "the events appended while disconnected", 5_000)
        yield* waitForAsync(async () => (await listeners()) === 1, "the LISTEN connection to come back")
        yield* store.append("customer-1", newEvents(1), ExpectedVersion.exact(2))
        yield* waitFor(() => subscription.seen.length === 3, "an event after the reconnection", 2_000)
      }),
    ))

  it("catches up without sleeping between pages, with and without a sparse filter", () =>
    runScoped(
      Effect.gen(function* () {
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("catchup"),
          batchSize: 50,
          pollIntervalMs: 600_000,
        })
        for (let round = 0; round < 30; round++) {
          const batch = Array.from({ length: 100 }, (_, index) =>
            newEvent(index === 7 ? "TierChanged" : "NoteAdded", { round, index }),
          )
          yield* store.append(`customer-${round % 3}`, batch, ExpectedVersion.any)
        }
        // 60 pages of 50; any sleep between pages would be ten minutes.
        const everything = yield* listen(store.subscribe())
        const rare = yield* listen(store.subscribe({ filter: { eventTypes: ["TierChanged"] } }))
        const prefixed = yield* listen(store.subscribe({ filter: { streamPrefix: "customer-1" } }))
        yield* waitFor(() => everything.seen.length === 3_000, "3,000 events", 20_000)
        yield* waitFor(() => rare.seen.length === 30, "the 30 rare events", 20_000)
        yield* waitFor(() => prefixed.seen.length === 1_000, "the 1,000 events of customer-1", 20_000)
        const all = yield* Stream.runCollect(store.readAll())
        expect(summary(everything.seen)).toEqual(summary(all))
        expect(summary(rare.seen)).toEqual(summary(all.filter((event) => event.type === "TierChanged")))
        expect(summary(prefixed.seen)).toEqual(
          summary(all.filter((event) => event.streamId === "customer-1")),
        )
        // And live after catching up, through a filter whose window moved past non-matching events.
        yield* store.append("customer-1", [newEvent("TierChanged")], ExpectedVersion.any)
        yield* waitFor(
          () => rare.seen.length === 31 && prefixed.seen.length === 1_001,
          "the live event",
          2_000,
        )
      }),
    ))

  it("reads in global order through the primary key index, not a scan and a sort", () =>
    runScoped(
      Effect.gen(function* () {
        const { adminConnectionString, directory } = server()
        const schema = uniqueSchemaName("plan")
        // The server logs the plan of every statement of this store's sessions (auto_explain).
        const explained = `${adminConnectionString}?options=${encodeURIComponent(
          "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0",
        )}`
        const store = yield* PostgresEventStore.make({ connectionString: explained, schema, batchSize: 500 })
        for (let round = 0; round < 20; round++) {
          yield* store.append(
            `customer-${round}`,
            newEvents(500, round === 7 ? "TierChanged" : "NoteAdded"),
            ExpectedVersion.noStream,
          )
        }
        yield* Effect.promise(() =>
          withClient(adminConnectionString, (client) => client.query(`ANALYZE "${schema}".events`)),
        )
        const logStart = statSync(`${directory}/server.log`).size
        expect(yield* Stream.runCount(store.readAll({ after: 10n }))).toBe(9_990)
        expect(yield* Stream.runCount(store.readAll({ filter: { eventTypes: ["TierChanged"] } }))).toBe(500)
        expect(yield* Stream.runCount(store.readAll({ filter: { streamPrefix: "customer-1" } }))).toBe(5_500)
        const log = readFileSync(`${directory}/server.log`, "utf8").slice(logStart)
        const plans = log.split(/LOG: {2}duration: /).filter((entry) => entry.includes("global_position >"))
        expect(plans.length).toBeGreaterThanOrEqual(3)
        for (const plan of plans) {
          expect(plan).toContain("Index Scan using events_pkey")
          expect(plan).not.toContain("Seq Scan")
          expect(plan).not.toContain("Sort")
        }
      }),
    ))

  it("keeps appends correct when the database defaults to a stricter isolation level", () =>
    runScoped(
      Effect.gen(function* () {
        const { adminConnectionString, connectionString, user } = server()
        const database = `strict_${Date.now()}`
        yield* Effect.promise(() =>
          withClient(adminConnectionString, async (client) => {
            await client.query(`CREATE DATABASE ${database} OWNER ${user}`)
            await client.query(
              `ALTER DATABASE ${database} SET default_transaction_isolation = 'serializable'`,
            )
          }),
        )
        const strict = connectionString.replace(/\/[^/]+$/, `/${database}`)
        const store = yield* PostgresEventStore.make({ connectionString: strict, schema: "relata" })
        const results = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, index) => index),
          (index) => store.append(`customer-${index % 4}`, newEvents(2), ExpectedVersion.any),
          { concurrency: "unbounded" },
        )
        expect(results.map((result) => result.position).sort((a, b) => Number(a - b))).toEqual(
          Array.from({ length: 20 }, (_, index) => BigInt(2 * (index + 1))),
        )
        // Called by hand in a REPEATABLE READ transaction, the function refuses rather than misnumber.
        const refused = yield* Effect.promise(() =>
          withClient(strict, async (client) => {
            await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ")
            return client
              .query(`SELECT * FROM relata.append_events('x', 'any', NULL, ARRAY['id-x'], ARRAY['T'], ARRAY[1],
                        ARRAY['{}'::json], ARRAY['{}'::json])`)
              .then(
                () => "appended",
                (error: Error) => error.message,
              )
          }),
        )
        expect(refused).toContain("appends must run at READ COMMITTED")
      }),
    ))

  it("the batch function, called by hand, refuses counts that do not match its events and writes nothing", () =>
    runScoped(
      Effect.gen(function* () {
        const schema = uniqueSchemaName("batchargs")
        const store = yield* PostgresEventStore.make({ connectionString: server().connectionString, schema })
        const call = (counts: string) =>
          Effect.promise(() =>
            withClient(server().connectionString, (client) =>
              client
                .query(`SELECT * FROM "${schema}".append_batch(ARRAY['a', 'b'], ARRAY['any', 'any'],
                          ARRAY[NULL, NULL]::integer[], ${counts}, ARRAY['id-1', 'id-2'], ARRAY['T', 'T'],
                          ARRAY[1, 1], ARRAY['{}', '{}']::json[], ARRAY['{}', '{}']::json[])`)
                .then(
                  (result) => result.rows,
                  (error: Error & { code?: string }) => `${error.code}: ${error.message}`,
                ),
            ),
          )
        expect(yield* call("ARRAY[1, 2]")).toBe(
          "22023: relata: append_batch counts 3 events, but 2 event ids were given",
        )
        expect(yield* call("ARRAY[3, -1]")).toMatch(/^22023: relata: append_batch needs one expected kind/)
        expect(yield* call("ARRAY[NULL, 2]::integer[]")).toMatch(/^22023: relata: append_batch needs/)
        expect(yield* call("ARRAY[2]")).toMatch(/^22023: relata: append_batch needs/)
        expect(yield* Stream.runCollect(store.readAll())).toEqual([])
        expect(yield* call("ARRAY[0, 2]")).toEqual([
          { ord: 1, appended: true, stream_version: 0, last_position: "0" },
          { ord: 2, appended: true, stream_version: 2, last_position: "2" },
        ])
        expect((yield* store.readStream("b")).map((event) => [event.eventId, event.version])).toEqual([
          ["id-1", 1],
          ["id-2", 2],
        ])
      }),
    ))

  it("stores payloads as written, including NUL characters that jsonb would reject", () =>
    runScoped(
      Effect.gen(function* () {
        const store = yield* PostgresEventStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("payload"),
        })
        const written = newEvent("NoteAdded", { text: "before\u0000after", z: 1, a: 2 }, { "": "" })
        yield* store.append("customer-1", [written], ExpectedVersion.noStream)
        const [read] = yield* store.readStream("customer-1")
        expect(read?.data).toEqual(written.data)
        expect(Object.keys(read?.data ?? {})).toEqual(["text", "z", "a"])
        expect(read?.metadata).toEqual({ "": "" })
      }),
    ))
})

/**
 * Back to what the releases before migration 4 left behind: event ids unique across the store. The
 * migrations after 4 are forgotten too, so that opening the store applies them again, in order.
 */
const backToBeforeMigration4 = (connectionString: string, schema: string) =>
  withClient(connectionString, (client) =>
    client.query(`ALTER TABLE "${schema}".events DROP CONSTRAINT events_stream_event_id_key,
                    ADD CONSTRAINT events_event_id_key UNIQUE (event_id);
                  DELETE FROM "${schema}".schema_migrations WHERE version >= 4`),
  )

/** The events table's primary key and unique constraints, by name. */
const uniqueConstraintsOf = (connectionString: string, schema: string) =>
  withClient(connectionString, async (client) => {
    const result = await client.query<{ name: string; definition: string }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
        WHERE conrelid = $1::regclass AND contype IN ('p', 'u') ORDER BY conname`,
      [`"${schema}".events`],
    )
    return result.rows
  })

/** Like `waitFor`, for a condition that needs a query. */
const waitForAsync = (
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Effect.Effect<void> => {
  const loop: Effect.Effect<void> = Effect.flatMap(Effect.promise(condition), (done) =>
    done ? Effect.void : Effect.andThen(Effect.sleep(20), loop),
  )
  return loop.pipe(
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () => Effect.die(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
    }),
  )
}
