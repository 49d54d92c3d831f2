import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { describe, expect, it } from "@effect/vitest"
import {
  makeSqliteEventStore,
  makeSqliteSnapshotStore,
  SqliteEventStore,
  SqliteSnapshotStore,
} from "@relata/adapter-sqlite"
import { explainQueryPlans } from "@relata/adapter-sqlite/testing"
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
  verifyStreamChain,
} from "@relata/domain"
import { customerCommand, fixtureEnvelope } from "@relata/domain/testing"
import { Effect, Layer, Result, Schema } from "effect"

const tempFile = Effect.acquireRelease(
  Effect.sync(() =>
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-snapshots-")), "relata.sqlite"),
  ),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

/** A second connection to the file, as another process would have. */
const connect = (file: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new DatabaseSync(file)),
    (db) => Effect.sync(() => db.isOpen && db.close()),
  )

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

/** The Customer command handler, snapshotting every 10 events, over both stores of one SQLite file. */
const customersOn = (file: string, reads = { events: 0 }) =>
  CustomerCommandHandler.layer({ config: { snapshotEvery: 10 } }).pipe(
    Layer.provide(countingReads(reads)),
    Layer.provideMerge(SqliteEventStore.layerWithSnapshots({ path: file })),
  )

describe("SqliteSnapshotStore", () => {
  it.effect(
    "keeps the Customer handler's snapshots in the events' file: after reopening, a load starts from the snapshot and gives the state of all events",
    () =>
      Effect.gen(function* () {
        const file = yield* tempFile
        yield* Effect.gen(function* () {
          const customers = yield* CustomerCommandHandler
          yield* customers.handle(register)
          for (let n = 1; n <= 25; n++) yield* customers.handle(followUp(n))
        }).pipe(Effect.provide(customersOn(file)))

        const db = yield* connect(file)
        expect(db.prepare("SELECT stream_id, state_schema_version, version FROM snapshots").all()).toEqual([
          { stream_id: streamId, state_schema_version: customerStateSchemaVersion, version: 20 },
        ])
        db.close()

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
          expect(reads.events).toBe(6)
          expect(loaded).toEqual({ state: foldEvents(CustomerDecider, events), version: 26 })

          // The snapshot's bookkeeping still recognises a command applied before it.
          expect(yield* customers.handle(followUp(3))).toMatchObject({ replayed: true, streamVersion: 4 })
        }).pipe(Effect.provide(customersOn(file, reads)))
      }),
  )

  it.effect(
    "an events-only file, from before snapshots, gains the table when opened and keeps its events",
    () =>
      Effect.gen(function* () {
        const file = yield* tempFile
        const events = yield* makeSqliteEventStore({ path: file })
        yield* events.append(
          "customer-1",
          [{ eventId: "event-1", type: "NoteAdded", schemaVersion: 1, data: {}, metadata: {} }],
          ExpectedVersion.noStream,
        )
        yield* events.close
        const db = yield* connect(file)
        db.exec("DROP TABLE snapshots; DELETE FROM schema_migrations WHERE version >= 2")
        db.close()

        yield* Effect.gen(function* () {
          const snapshots = yield* SnapshotStore
          yield* snapshots.save(snapshot())
          expect(yield* snapshots.load("customer-1", 1)).toEqual(snapshot())
          expect(yield* EventStore.use((store) => store.readStream("customer-1"))).toHaveLength(1)
        }).pipe(Effect.provide(SqliteEventStore.layerWithSnapshots({ path: file })))
      }),
  )

  it.effect("a load is one seek on the primary key", () =>
    Effect.gen(function* () {
      const file = yield* tempFile
      yield* SqliteSnapshotStore.make({ path: file })
      expect(explainQueryPlans(file).loadSnapshot).toBe(
        "SEARCH snapshots USING INDEX sqlite_autoindex_snapshots_1 (stream_id=? AND state_schema_version=?)",
      )
    }),
  )

  it.live(
    "while another connection holds the write lock, a save waits for the busy timeout, then fails as retryable; loads go on",
    () =>
      Effect.gen(function* () {
        const file = yield* tempFile
        const snapshots = yield* SqliteSnapshotStore.make({ path: file, busyTimeoutMs: 100 })
        yield* snapshots.save(snapshot({ version: 10 }))
        const other = yield* connect(file)
        other.exec("BEGIN IMMEDIATE")
        const started = Date.now()
        const error = yield* Effect.flip(snapshots.save(snapshot({ version: 20 })))
        expect(Date.now() - started).toBeGreaterThanOrEqual(90)
        expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: true })
        expect(error.message).toContain("write lock")
        expect((yield* snapshots.load("customer-1", 1))?.version).toBe(10)
        other.exec("ROLLBACK")
        yield* snapshots.save(snapshot({ version: 20 }))
        expect((yield* snapshots.load("customer-1", 1))?.version).toBe(20)
      }),
  )

  it.effect("a closed store fails with StoreUnavailable, not retryable", () =>
    Effect.gen(function* () {
      const file = yield* tempFile
      const snapshots = yield* makeSqliteSnapshotStore({ path: file })
      yield* snapshots.close
      yield* snapshots.close
      expect(yield* Effect.flip(snapshots.save(snapshot()))).toMatchObject({
        _tag: "StoreUnavailable",
        retryable: false,
      })
      const error = yield* Effect.flip(snapshots.load("customer-1", 1))
      expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
      expect(error.message).toContain("closed")
    }),
  )

  it.effect(
    "ignores a row whose state was changed behind its back into something other than a JSON object",
    () =>
      Effect.gen(function* () {
        const file = yield* tempFile
        const snapshots = yield* SqliteSnapshotStore.make({ path: file })
        yield* snapshots.save(snapshot())
        const db = yield* connect(file)
        for (const state of ["{not json", "[1, 2]", "null"]) {
          db.prepare("UPDATE snapshots SET state = ?").run(state)
          expect(yield* snapshots.load("customer-1", 1)).toBeUndefined()
        }
      }),
  )

  it.effect("the combined layer closes its one connection when its scope closes", () =>
    Effect.gen(function* () {
      const file = yield* tempFile
      yield* Effect.scoped(
        Effect.gen(function* () {
          const context = yield* Layer.build(SqliteEventStore.layerWithSnapshots({ path: file }))
          yield* SnapshotStore.use((snapshots) => snapshots.save(snapshot())).pipe(
            Effect.provideContext(context),
          )
          expect(fs.existsSync(`${file}-wal`)).toBe(true)
        }),
      )
      // The last connection to close checkpoints and removes the WAL: none is left open.
      expect(fs.existsSync(`${file}-wal`)).toBe(false)
    }),
  )
})
