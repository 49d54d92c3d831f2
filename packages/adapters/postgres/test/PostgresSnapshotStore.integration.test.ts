/**
 * What the PostgreSQL snapshot store does beyond the shared contract: serving the Customer command
 * handler beside the event store on one pool, migrating a schema from before snapshots, loading
 * through the primary key, keeping the newest of concurrent saves, and how it fails.
 */
import { readFileSync, statSync } from "node:fs"
import {
  makePostgresEventStore,
  makePostgresSnapshotStore,
  PostgresEventStore,
  PostgresSnapshotStore,
} from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import {
  ActorId,
  CommandId,
  CustomerCommandHandler,
  CustomerDecider,
  CustomerState,
  customerStateSchemaVersion,
  customerStreamId,
  decodeCustomerEvent,
  EventStore,
  ExpectedVersion,
  foldEvents,
  LeadSource,
  type Snapshot,
  SnapshotStore,
  StoreUnavailable,
  verifyStreamChain,
} from "@relata/domain"
import { customerCommand, fixtureEnvelope } from "@relata/domain/testing"
import { Effect, Layer, Result, Schema } from "effect"
import pg from "pg"
import { expect, it } from "vitest"
import { newEvents, runScoped, withClient } from "./support/fixtures.ts"

const query = <R extends pg.QueryResultRow>(connectionString: string, text: string) =>
  Effect.promise(() => withClient(connectionString, (client) => client.query<R>(text)))

const snapshot = (overrides: Partial<Snapshot> = {}): Snapshot => ({
  streamId: "customer-1",
  version: 10,
  stateSchemaVersion: 1,
  state: { status: "registered" },
  ...overrides,
})

const streamId = customerStreamId(fixtureEnvelope.customerId)

const register = customerCommand(
  "RegisterLead",
  { profile: { name: "Acme Trading" }, source: LeadSource.make("trade fair"), owner: ActorId.make("rep-1") },
  { commandId: CommandId.make("register-1") },
)
const followUp = (n: number) =>
  customerCommand(
    "RecordFollowUp",
    { channel: "phone", summary: `call ${n}`, outcome: "interested" },
    { commandId: CommandId.make(`follow-up-${n}`) },
  )

/** Passes the EventStore through, counting the events read from streams. */
const countingReads = (reads: { events: number }) =>
  Layer.effect(
    EventStore,
    Effect.map(Effect.service(EventStore), (store) =>
      EventStore.of({
        ...store,
        readStream: (id, options) =>
          Effect.tap(store.readStream(id, options), (events) =>
            Effect.sync(() => {
              reads.events += events.length
            }),
          ),
      }),
    ),
  )

describeWithPostgres("PostgresSnapshotStore", (server) => {
  /** The Customer command handler, snapshotting every 10 events, over both stores of one schema. */
  const customersOn = (schema: string, reads = { events: 0 }) =>
    CustomerCommandHandler.layer({ config: { snapshotEvery: 10 } }).pipe(
      Layer.provide(countingReads(reads)),
      Layer.provideMerge(
        PostgresEventStore.layerWithSnapshots({ connectionString: server().connectionString, schema }),
      ),
    )

  it("keeps the Customer handler's snapshots beside its events: a new layer loads from the snapshot and gets the state of all events", () =>
    runScoped(
      Effect.gen(function* () {
        const schema = uniqueSchemaName("handler")
        yield* Effect.gen(function* () {
          const customers = yield* CustomerCommandHandler
          yield* customers.handle(register)
          for (let n = 1; n <= 25; n++) yield* customers.handle(followUp(n))
        }).pipe(Effect.provide(customersOn(schema)))

        const rows = yield* query(
          server().connectionString,
          `SELECT stream_id, state_schema_version, version FROM "${schema}".snapshots`,
        )
        expect(rows.rows).toEqual([
          { stream_id: streamId, state_schema_version: customerStateSchemaVersion, version: 20 },
        ])

        const reads = { events: 0 }
        yield* Effect.gen(function* () {
          const customers = yield* CustomerCommandHandler
          const stored = yield* EventStore.use((store) => store.readStream(streamId))
          expect(stored.map((event) => event.version)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1))
          expect(verifyStreamChain(stored)).toMatchObject({ ok: true, tip: { version: 26 } })
          const events = stored.map((event) => Result.getOrThrow(decodeCustomerEvent(event)))

          const saved = yield* SnapshotStore.use((snapshots) =>
            snapshots.load(streamId, customerStateSchemaVersion),
          )
          expect(saved?.version).toBe(20)
          expect(Schema.decodeUnknownSync(CustomerState)(saved?.state.state)).toEqual(
            foldEvents(CustomerDecider, events.slice(0, 20)),
          )

          reads.events = 0
          const loaded = yield* customers.load(streamId)
          // The snapshot at 20, then the six events after it.
          expect(reads.events).toBe(6)
          expect(loaded).toEqual({ state: foldEvents(CustomerDecider, events), version: 26 })

          // The snapshot's bookkeeping still recognises a command applied before it.
          expect(yield* customers.handle(followUp(3))).toMatchObject({ replayed: true, streamVersion: 4 })
        }).pipe(Effect.provide(customersOn(schema, reads)))
      }),
    ))

  it("the combined layer opens one pool for both stores and ends it when its scope closes", () =>
    runScoped(
      Effect.gen(function* () {
        const { connectionString, adminConnectionString } = server()
        const applicationName = "relata-combined-test"
        const sessions = Effect.map(
          query<{ count: string }>(
            adminConnectionString,
            `SELECT count(*) FROM pg_stat_activity WHERE application_name = '${applicationName}'`,
          ),
          (result) => Number(result.rows[0]?.count),
        )
        yield* Effect.scoped(
          Effect.gen(function* () {
            const context = yield* Layer.build(
              PostgresEventStore.layerWithSnapshots({
                connectionString,
                schema: uniqueSchemaName("combined"),
                poolSize: 1,
                applicationName,
              }),
            )
            yield* Effect.gen(function* () {
              // With one connection in the pool, both stores can only be using the same one.
              yield* EventStore.use((store) =>
                store.append("customer-1", newEvents(1), ExpectedVersion.noStream),
              )
              yield* SnapshotStore.use((snapshots) => snapshots.save(snapshot({ version: 1 })))
              expect(
                (yield* SnapshotStore.use((snapshots) => snapshots.load("customer-1", 1)))?.version,
              ).toBe(1)
            }).pipe(Effect.provideContext(context))
            expect(yield* sessions).toBe(1)
          }),
        )
        expect(yield* sessions).toBe(0)
      }),
    ))

  it("a schema from before snapshots gains the table when opened and keeps its events", () =>
    runScoped(
      Effect.gen(function* () {
        const { connectionString } = server()
        const schema = uniqueSchemaName("upgrade")
        const events = yield* makePostgresEventStore({ connectionString, schema })
        yield* events.append("customer-1", newEvents(3), ExpectedVersion.noStream)
        yield* events.close
        // Back to what the release before snapshots left behind.
        yield* query(
          connectionString,
          `DROP TABLE "${schema}".snapshots; DELETE FROM "${schema}".schema_migrations WHERE version = 2`,
        )

        yield* Effect.gen(function* () {
          yield* SnapshotStore.use((snapshots) => snapshots.save(snapshot()))
          expect(yield* SnapshotStore.use((snapshots) => snapshots.load("customer-1", 1))).toEqual(snapshot())
          expect(yield* EventStore.use((store) => store.readStream("customer-1"))).toHaveLength(3)
        }).pipe(Effect.provide(PostgresEventStore.layerWithSnapshots({ connectionString, schema })))
        const applied = yield* query(
          connectionString,
          `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
        )
        expect(applied.rows).toEqual([1, 2, 3, 4, 5].map((version) => ({ version })))
      }),
    ))

  it("a load is one lookup on the primary key", () =>
    runScoped(
      Effect.gen(function* () {
        const { adminConnectionString, directory } = server()
        const schema = uniqueSchemaName("snapshot_plan")
        // The server logs the plan of every statement of this store's sessions (auto_explain).
        const explained = `${adminConnectionString}?options=${encodeURIComponent(
          "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0",
        )}`
        const snapshots = yield* PostgresSnapshotStore.make({ connectionString: explained, schema })
        yield* query(
          adminConnectionString,
          `INSERT INTO "${schema}".snapshots (stream_id, state_schema_version, version, state)
           SELECT 'customer-' || n, 1 + n % 2, n, '{"status": "registered"}' FROM generate_series(1, 5000) n;
           ANALYZE "${schema}".snapshots`,
        )
        const logStart = statSync(`${directory}/server.log`).size
        expect((yield* snapshots.load("customer-1234", 1))?.version).toBe(1234)
        expect(yield* snapshots.load("customer-1234", 2)).toBeUndefined()
        const log = readFileSync(`${directory}/server.log`, "utf8").slice(logStart)
        const plans = log.split(/LOG: {2}duration: /).filter((entry) => entry.includes("snapshots"))
        expect(plans).toHaveLength(2)
        for (const plan of plans) {
          expect(plan).toContain("Index Scan using snapshots_pkey")
          expect(plan).not.toContain("Seq Scan")
        }
      }),
    ))

  it("keeps the newest of many concurrent saves", () =>
    runScoped(
      Effect.gen(function* () {
        const snapshots = yield* PostgresSnapshotStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("concurrent"),
        })
        const versions = [7, 19, 3, 40, 12, 40, 1, 33, 25, 8, 39, 16]
        yield* Effect.all(
          versions.map((version) => snapshots.save(snapshot({ version, state: { at: version } }))),
          { concurrency: "unbounded" },
        )
        expect(yield* snapshots.load("customer-1", 1)).toEqual(snapshot({ version: 40, state: { at: 40 } }))
      }),
    ))

  it("stores a state as written, NUL characters that jsonb would reject included", () =>
    runScoped(
      Effect.gen(function* () {
        const snapshots = yield* PostgresSnapshotStore.make({
          connectionString: server().connectionString,
          schema: uniqueSchemaName("nul"),
        })
        const state = { note: "before\u0000after", "\u0000key": [0.1, 1e21, "\u2028"] }
        yield* snapshots.save(snapshot({ state }))
        expect((yield* snapshots.load("customer-1", 1))?.state).toEqual(state)
      }),
    ))

  it("refuses a state that is not a JSON object, whoever writes it", () =>
    runScoped(
      Effect.gen(function* () {
        const { connectionString } = server()
        const schema = uniqueSchemaName("not_object")
        const snapshots = yield* PostgresSnapshotStore.make({ connectionString, schema })
        yield* snapshots.save(snapshot())
        for (const state of ["[1, 2]", "null", "3"]) {
          const refused = yield* Effect.flip(
            Effect.tryPromise(() =>
              withClient(connectionString, (client) =>
                client.query(`UPDATE "${schema}".snapshots SET state = $1::json`, [state]),
              ),
            ),
          )
          expect(refused.cause).toMatchObject({ code: "23514" }) // check_violation
        }
        expect(yield* snapshots.load("customer-1", 1)).toEqual(snapshot())
      }),
    ))

  it("a save waiting on a row another session holds fails retryable after lockTimeoutMs; loads go on", () =>
    runScoped(
      Effect.gen(function* () {
        const { connectionString } = server()
        const schema = uniqueSchemaName("row_lock")
        const snapshots = yield* PostgresSnapshotStore.make({ connectionString, schema, lockTimeoutMs: 200 })
        yield* snapshots.save(snapshot({ version: 10 }))
        const held = new pg.Client({ connectionString })
        yield* Effect.promise(() => held.connect())
        yield* Effect.addFinalizer(() => Effect.promise(() => held.end().catch(() => undefined)))
        yield* Effect.promise(() => held.query("BEGIN"))
        yield* Effect.promise(() => held.query(`SELECT * FROM "${schema}".snapshots FOR UPDATE`))

        const started = Date.now()
        const error = yield* Effect.flip(snapshots.save(snapshot({ version: 20 })))
        expect(Date.now() - started).toBeGreaterThanOrEqual(150)
        expect(error).toBeInstanceOf(StoreUnavailable)
        expect(error).toMatchObject({ retryable: true })
        expect(error.reason).toContain("55P03")
        expect((yield* snapshots.load("customer-1", 1))?.version).toBe(10)

        yield* Effect.promise(() => held.query("ROLLBACK"))
        yield* snapshots.save(snapshot({ version: 20 }))
        expect((yield* snapshots.load("customer-1", 1))?.version).toBe(20)
      }),
    ))

  it("a broken schema fails not retryable; a closed store fails not retryable, saying so", () =>
    runScoped(
      Effect.gen(function* () {
        const { connectionString } = server()
        const schema = uniqueSchemaName("broken")
        const snapshots = yield* makePostgresSnapshotStore({ connectionString, schema })
        yield* Effect.addFinalizer(() => snapshots.close)
        yield* query(connectionString, `DROP TABLE "${schema}".snapshots`)
        const broken = yield* Effect.flip(snapshots.load("customer-1", 1))
        expect(broken).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect(broken.reason).toContain("42P01") // undefined_table

        yield* snapshots.close
        yield* snapshots.close
        for (const failed of [
          yield* Effect.flip(snapshots.save(snapshot())),
          yield* Effect.flip(snapshots.load("customer-1", 1)),
        ]) {
          expect(failed).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
          expect(failed.reason).toContain("closed")
        }
      }),
    ))
})
