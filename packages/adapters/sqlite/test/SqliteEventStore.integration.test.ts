import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { assert, describe, expect, it } from "@effect/vitest"
import {
  makeSqliteEventStore,
  SqliteEventStore,
  type SqliteEventStoreConfig,
  SqliteStoreOpenError,
} from "@relata/adapter-sqlite"
import { explainQueryPlans } from "@relata/adapter-sqlite/testing"
import {
  type EventFilter,
  EventStore,
  type EventToAppend,
  ExpectedVersion,
  type RecordedEvent,
  StartOfStore,
} from "@relata/domain"
import { Effect, Fiber, Layer, Stream } from "effect"
import fc from "fast-check"

const tempFolder = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-"))),
  (folder) =>
    Effect.sync(() => {
      fs.chmodSync(folder, 0o755)
      fs.rmSync(folder, { recursive: true, force: true })
    }),
)

/** A store on a fresh file, closed with the test's scope. */
const openStore = (config: SqliteEventStoreConfig = {}) =>
  Effect.gen(function* () {
    const folder = yield* tempFolder
    const file = path.join(folder, "events.sqlite")
    const store = yield* Effect.acquireRelease(
      makeSqliteEventStore({ path: file, ...config }),
      (handle) => handle.close,
    )
    return { store, file, folder }
  })

/** A second connection to the file, as another process would have. */
const connect = (file: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new DatabaseSync(file)),
    (db) => Effect.sync(() => db.isOpen && db.close()),
  )

let counter = 0
const newEvent = (type = "NoteAdded", data: EventToAppend["data"] = {}): EventToAppend => ({
  eventId: `event-${++counter}`,
  type,
  schemaVersion: 1,
  data,
  metadata: { actor: "user-1" },
})
const newEvents = (count: number, type?: string) => Array.from({ length: count }, () => newEvent(type))

const openError = (config: SqliteEventStoreConfig) =>
  Effect.flip(makeSqliteEventStore(config)).pipe(
    Effect.tap((error) => Effect.sync(() => expect(error).toBeInstanceOf(SqliteStoreOpenError))),
  )

describe("SqliteEventStore", () => {
  describe("opening the file", () => {
    it.effect("creates the folder and the file in WAL mode, with the schema at its latest version", () =>
      Effect.gen(function* () {
        const folder = yield* tempFolder
        const file = path.join(folder, "nested", "deeper", "events.sqlite")
        const store = yield* makeSqliteEventStore({ path: file })
        expect(store.path).toBe(file)
        const db = yield* connect(file)
        expect(db.prepare("PRAGMA journal_mode").get()?.journal_mode).toBe("wal")
        expect(db.prepare("SELECT version, name FROM schema_migrations").all()).toEqual([
          { version: 1, name: "events" },
          { version: 2, name: "snapshots" },
          { version: 3, name: "event ids unique per stream" },
        ])
        yield* store.close
      }),
    )

    it.effect("opening again keeps the events and applies no migration twice", () =>
      Effect.gen(function* () {
        const { store, file } = yield* openStore()
        yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
        yield* store.close
        const again = yield* makeSqliteEventStore({ path: file })
        expect((yield* again.readStream("customer-1")).map((event) => event.version)).toEqual([1, 2])
        yield* again.close
        const db = yield* connect(file)
        expect(db.prepare("SELECT count(*) AS n FROM schema_migrations").get()?.n).toBe(3)
      }),
    )

    it.effect(
      "a file from before per-stream event ids keeps its events and positions, and takes the new constraint",
      () =>
        Effect.gen(function* () {
          const folder = yield* tempFolder
          const file = path.join(folder, "events.sqlite")
          const old = new DatabaseSync(file)
          old.exec(`
            PRAGMA journal_mode = WAL;
            CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT;
            INSERT INTO schema_migrations VALUES (1, 'events', 'then'), (2, 'snapshots', 'then');
            CREATE TABLE events (
              position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, version INTEGER NOT NULL CHECK (version >= 1),
              event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, schema_version INTEGER NOT NULL,
              data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream_id, version)
            ) STRICT;
            CREATE TABLE snapshots (
              stream_id TEXT NOT NULL, state_schema_version INTEGER NOT NULL, version INTEGER NOT NULL CHECK (version >= 0),
              state TEXT NOT NULL, PRIMARY KEY (stream_id, state_schema_version)
            ) STRICT;
            -- Read models live in the events' file by default; RENAME re-checks their triggers.
            CREATE TABLE notes (rid INTEGER PRIMARY KEY, search TEXT NOT NULL);
            CREATE VIRTUAL TABLE notes_fts USING fts5(search, content=notes, content_rowid=rid, tokenize='trigram');
            CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
              INSERT INTO notes_fts (rowid, search) VALUES (new.rid, new.search);
            END;
            INSERT INTO notes (search) VALUES ('hello world');
            INSERT INTO events VALUES
              (3, 'customer-1', 1, 'a', 'NoteAdded', 1, '{"n":1}', '{}'),
              (7, 'customer-2', 1, 'b', 'NoteAdded', 1, '{"n":2}', '{}'),
              (8, 'customer-1', 2, 'c', 'NoteAdded', 1, '{"n":3}', '{}');
          `)
          old.close()

          const store = yield* Effect.acquireRelease(makeSqliteEventStore({ path: file }), (s) => s.close)
          const all = yield* Stream.runCollect(store.readAll())
          expect(all.map((e) => [e.position, e.streamId, e.version, e.eventId, e.data])).toEqual([
            [3n, "customer-1", 1, "a", { n: 1 }],
            [7n, "customer-2", 1, "b", { n: 2 }],
            [8n, "customer-1", 2, "c", { n: 3 }],
          ])
          const repeat = { ...newEvent(), eventId: "a" }
          expect(yield* store.append("customer-2", [repeat], ExpectedVersion.exact(1))).toEqual({
            streamVersion: 2,
            position: 9n,
          })
          const error = yield* Effect.flip(store.append("customer-1", [repeat], ExpectedVersion.exact(2)))
          expect(error.message).toContain("event ids must be unique within a stream")
          expect(explainQueryPlans(file).streamVersion).toContain("sqlite_autoindex_events_2")
          const db = yield* connect(file)
          db.prepare("INSERT INTO notes (search) VALUES ('another word')").run()
          expect(
            db.prepare("SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'wor' ORDER BY rowid").all(),
          ).toEqual([{ rowid: 1 }, { rowid: 2 }])
        }),
    )

    it.effect("refuses a file migrated by a newer release", () =>
      Effect.gen(function* () {
        const { store, file } = yield* openStore()
        yield* store.close
        const db = yield* connect(file)
        db.prepare(
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'now')",
        ).run()
        db.close()
        const error = yield* openError({ path: file })
        expect(error.reason).toContain("schema version 99, newer than this release knows (3)")
        expect(error.retryable).toBe(false)
      }),
    )

    it.effect("names the invalid setting in the configuration", () =>
      Effect.gen(function* () {
        const folder = yield* tempFolder
        const file = path.join(folder, "events.sqlite")
        const cases: ReadonlyArray<[SqliteEventStoreConfig, string]> = [
          [
            { path: file, synchronous: "SOMETIMES" as "FULL" },
            "synchronous must be one of OFF, NORMAL, FULL, EXTRA",
          ],
          [{ path: file, busyTimeoutMs: -1 }, "busyTimeoutMs must be a whole number >= 0"],
          [{ path: file, pollIntervalMs: 0 }, "pollIntervalMs must be a number > 0"],
          [{ path: file, batchSize: 0 }, "batchSize must be a whole number >= 1"],
          [{ path: ":memory:" }, "path must name a file"],
          [{ path: "" }, "path must name a file"],
        ]
        for (const [config, reason] of cases) {
          expect((yield* openError(config)).reason).toContain(reason)
        }
        expect(fs.existsSync(file)).toBe(false)
      }),
    )

    it.effect("a path through a regular file says that part of it is a file", () =>
      Effect.gen(function* () {
        const folder = yield* tempFolder
        const plain = path.join(folder, "plain.txt")
        fs.writeFileSync(plain, "not a folder")
        const direct = yield* openError({ path: path.join(plain, "events.sqlite") })
        expect(direct.message).toContain(`${plain} is a file, not a folder`)
        const nested = yield* openError({ path: path.join(plain, "sub", "events.sqlite") })
        expect(nested.reason).toContain("part of that path is a file, not a folder")
      }),
    )

    // A folder's mode does not stop root, and CI runs as root: /proc is read-only for everyone, root too.
    it.effect("a read-only folder, or one that cannot be created, is named in the error", () =>
      Effect.gen(function* () {
        const existing = yield* openError({ path: "/proc/self/events.sqlite" })
        expect(existing.reason).toContain("the folder /proc/self is not writable")
        expect(existing.retryable).toBe(false)
        const missing = yield* openError({ path: "/proc/relata-missing/events.sqlite" })
        expect(missing.reason).toContain("cannot create the folder /proc/relata-missing")
      }),
    )

    it.effect("a folder or a file that is not a database at the path is refused", () =>
      Effect.gen(function* () {
        const folder = yield* tempFolder
        fs.mkdirSync(path.join(folder, "a-folder.sqlite"))
        expect((yield* openError({ path: path.join(folder, "a-folder.sqlite") })).reason).toContain(
          "not a regular file",
        )
        fs.writeFileSync(path.join(folder, "notes.sqlite"), "these are notes, not a database ".repeat(200))
        expect((yield* openError({ path: path.join(folder, "notes.sqlite") })).reason).toContain(
          "not a SQLite database",
        )
      }),
    )

    it.effect("the layer provides EventStore and closes the file when its scope closes", () =>
      Effect.gen(function* () {
        const folder = yield* tempFolder
        const file = path.join(folder, "events.sqlite")
        const appended = yield* Effect.scoped(
          Effect.gen(function* () {
            const store = yield* Layer.build(SqliteEventStore.layer({ path: file }))
            const result = yield* EventStore.use((events) =>
              events.append("customer-1", newEvents(3), ExpectedVersion.noStream),
            ).pipe(Effect.provideContext(store))
            expect(fs.existsSync(`${file}-wal`)).toBe(true)
            return result
          }),
        )
        expect(appended.streamVersion).toBe(3)
        // The last connection to close checkpoints and removes the WAL: the store's connection is gone.
        expect(fs.existsSync(`${file}-wal`)).toBe(false)
      }),
    )

    it.effect("a closed store fails with StoreUnavailable, not retryable", () =>
      Effect.gen(function* () {
        const { store } = yield* openStore()
        yield* store.close
        yield* store.close
        const error = yield* Effect.flip(store.append("customer-1", newEvents(1), ExpectedVersion.any))
        expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect(error.message).toContain("closed")
        expect(yield* Effect.flip(store.headPosition)).toMatchObject({
          _tag: "StoreUnavailable",
          retryable: false,
        })
      }),
    )
  })

  describe("append", () => {
    it.effect("a batch with a duplicate event id writes nothing, and the stream goes on where it was", () =>
      Effect.gen(function* () {
        const { store } = yield* openStore()
        yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
        const head = yield* store.headPosition
        const duplicate = newEvent()
        const error = yield* Effect.flip(
          store.append("customer-1", [newEvent(), duplicate, duplicate], ExpectedVersion.exact(2)),
        )
        expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect(error.message).toContain("event ids must be unique")
        expect(yield* store.headPosition).toBe(head)
        const next = yield* store.append("customer-1", newEvents(1), ExpectedVersion.exact(2))
        expect(next).toEqual({ streamVersion: 3, position: head + 1n })
      }),
    )

    it.effect("event ids are unique per stream: another stream may hold the same id", () =>
      Effect.gen(function* () {
        const { store } = yield* openStore()
        const shared = newEvent()
        yield* store.append("customer-1", [shared], ExpectedVersion.noStream)
        expect(yield* store.append("customer-2", [shared], ExpectedVersion.noStream)).toEqual({
          streamVersion: 1,
          position: 2n,
        })
        const error = yield* Effect.flip(store.append("customer-2", [shared], ExpectedVersion.exact(1)))
        expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect(error.message).toContain("event ids must be unique within a stream")
      }),
    )

    it.effect("the version check sees what another connection wrote", () =>
      Effect.gen(function* () {
        const { store, file } = yield* openStore()
        const other = yield* connect(file)
        other
          .prepare(
            "INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata) VALUES ('customer-1', 1, 'x', 'NoteAdded', 1, '{}', '{}')",
          )
          .run()
        const error = yield* Effect.flip(store.append("customer-1", newEvents(1), ExpectedVersion.noStream))
        expect(error).toMatchObject({ _tag: "WrongExpectedVersion", expected: "no stream", actual: 1 })
        expect(
          (yield* store.append("customer-1", newEvents(1), ExpectedVersion.exact(1))).streamVersion,
        ).toBe(2)
      }),
    )

    it.live(
      "while another connection holds the write lock, an append waits for the busy timeout, then fails as retryable; reads go on",
      () =>
        Effect.gen(function* () {
          const { store, file } = yield* openStore({ busyTimeoutMs: 100 })
          yield* store.append("customer-1", newEvents(1), ExpectedVersion.noStream)
          const other = yield* connect(file)
          other.exec("BEGIN IMMEDIATE")
          const started = Date.now()
          const error = yield* Effect.flip(store.append("customer-1", newEvents(1), ExpectedVersion.exact(1)))
          expect(Date.now() - started).toBeGreaterThanOrEqual(90)
          expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: true })
          expect(error.message).toContain("write lock")
          expect((yield* store.readStream("customer-1")).map((event) => event.version)).toEqual([1])
          other.exec("ROLLBACK")
          const result = yield* store.append("customer-1", newEvents(1), ExpectedVersion.exact(1))
          expect(result).toEqual({ streamVersion: 2, position: 2n })
        }),
    )
  })

  describe("reading", () => {
    it.effect(
      "reads in global order from the primary key and streams from their index, never scanning and sorting",
      () =>
        Effect.gen(function* () {
          const { file } = yield* openStore()
          const plans = explainQueryPlans(file)
          for (const name of ["readAll", "readAllByStreamPrefix", "readAllByEventTypes", "readAllByBoth"]) {
            expect(plans[name], name).toContain(
              "SEARCH events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
            )
            expect(plans[name], name).not.toContain("TEMP B-TREE")
            expect(plans[name], name).not.toContain("SCAN events")
          }
          for (const name of ["readStreamForwards", "readStreamBackwards", "streamVersion"]) {
            expect(plans[name], name).toMatch(
              /^SEARCH events USING (COVERING )?INDEX sqlite_autoindex_events_2 \(stream_id=\?/,
            )
            expect(plans[name], name).not.toContain("TEMP B-TREE")
          }
          expect(plans.head).toBe("SEARCH events")
        }),
    )

    it.live(
      "readAll pages by windows of positions: any batch size, filter, start and limit read as a plain filter would",
      () =>
        Effect.gen(function* () {
          const { store } = yield* openStore()
          const streams = ["customer-1", "customer-2", "order-1", "Customer-3"]
          const types = ["NoteAdded", "TierChanged", "LeadCaptured"]
          for (let index = 0; index < 60; index++) {
            const batch = Array.from({ length: 1 + (index % 3) }, (_, n) => newEvent(types[(index + n) % 3]))
            yield* store.append(streams[index % streams.length] as string, batch, ExpectedVersion.any)
          }
          const all = yield* Stream.runCollect(store.readAll())
          const filterArbitrary: fc.Arbitrary<EventFilter> = fc.record(
            {
              eventTypes: fc.subarray(types),
              streamPrefix: fc.constantFrom("", "customer-", "order-", "Customer", "x"),
            },
            { requiredKeys: [] },
          )
          const matches = (filter: EventFilter) => (event: RecordedEvent) =>
            (filter.eventTypes === undefined || filter.eventTypes.includes(event.type)) &&
            (filter.streamPrefix === undefined || event.streamId.startsWith(filter.streamPrefix))
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(
                fc.integer({ min: 1, max: 7 }),
                filterArbitrary,
                fc.integer({ min: 0, max: all.length + 2 }),
                fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
                (batchSize, filter, after, limit) =>
                  Effect.runPromise(
                    Effect.scoped(
                      Effect.gen(function* () {
                        const paged = yield* Effect.acquireRelease(
                          makeSqliteEventStore({ path: store.path, batchSize }),
                          (handle) => handle.close,
                        )
                        const options =
                          limit === undefined
                            ? { after: BigInt(after), filter }
                            : { after: BigInt(after), filter, limit }
                        const read = yield* Stream.runCollect(paged.readAll(options))
                        const expected = all.filter(
                          (event) => event.position > BigInt(after) && matches(filter)(event),
                        )
                        expect(read).toEqual(limit === undefined ? expected : expected.slice(0, limit))
                      }),
                    ),
                  ),
              ),
              { numRuns: 60 },
            ),
          )
        }),
    )
  })

  describe("subscribe", () => {
    it.live("wakes on an append of this process at once, without waiting for the poll", () =>
      Effect.gen(function* () {
        const { store } = yield* openStore({ pollIntervalMs: 60_000 })
        const seen: Array<RecordedEvent> = []
        yield* Effect.forkScoped(
          Stream.runForEach(store.subscribe(), (event) => Effect.sync(() => seen.push(event))),
        )
        yield* Effect.sleep(20)
        const started = Date.now()
        yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
        while (seen.length < 2 && Date.now() - started < 10_000) yield* Effect.sleep(1)
        expect(seen.map((event) => event.version)).toEqual([1, 2])
        expect(Date.now() - started).toBeLessThan(10_000)
      }),
    )

    it.live("sees appends made through another connection within the poll interval", () =>
      Effect.gen(function* () {
        const { store, file } = yield* openStore({ pollIntervalMs: 50 })
        // A second store on the file: its commits cannot signal this one, as with another process.
        const other = yield* Effect.acquireRelease(
          makeSqliteEventStore({ path: file }),
          (handle) => handle.close,
        )
        const seen: Array<RecordedEvent> = []
        yield* Effect.forkScoped(
          Stream.runForEach(store.subscribe(), (event) => Effect.sync(() => seen.push(event))),
        )
        yield* Effect.sleep(20)
        const started = Date.now()
        yield* other.append("customer-1", newEvents(3), ExpectedVersion.noStream)
        while (seen.length < 3 && Date.now() - started < 5_000) yield* Effect.sleep(5)
        expect(seen.map((event) => event.version)).toEqual([1, 2, 3])
        expect(Date.now() - started).toBeLessThan(3_000)
      }),
    )

    it.live("catches up without sleeping between pages, however long the poll interval", () =>
      Effect.gen(function* () {
        const { store } = yield* openStore({ pollIntervalMs: 60_000, batchSize: 50, synchronous: "OFF" })
        for (let index = 0; index < 100; index++) {
          yield* store.append(`customer-${index}`, newEvents(50), ExpectedVersion.noStream)
        }
        const started = Date.now()
        const caughtUp = yield* Stream.runCollect(
          Stream.take(store.subscribe({ after: StartOfStore }), 5_000),
        )
        expect(caughtUp).toHaveLength(5_000)
        expect(Date.now() - started).toBeLessThan(30_000)
      }),
    )

    it.live("a sparse filter skips windows without a match and goes live at the head", () =>
      Effect.gen(function* () {
        const { store } = yield* openStore({ pollIntervalMs: 60_000, batchSize: 10, synchronous: "OFF" })
        for (let index = 0; index < 50; index++) {
          yield* store.append(`customer-${index}`, newEvents(40), ExpectedVersion.noStream)
        }
        const seen: Array<RecordedEvent> = []
        const subscription = yield* Effect.forkScoped(
          Stream.runForEach(store.subscribe({ filter: { eventTypes: ["TierChanged"] } }), (event) =>
            Effect.sync(() => seen.push(event)),
          ),
        )
        yield* Effect.sleep(50)
        const rare = yield* store.append("customer-x", [newEvent("TierChanged")], ExpectedVersion.noStream)
        const started = Date.now()
        while (seen.length < 1 && Date.now() - started < 5_000) yield* Effect.sleep(1)
        assert.strictEqual(seen.length, 1)
        expect(seen[0]?.position).toBe(rare.position)
        yield* Fiber.interrupt(subscription)
      }),
    )

    it.live("a live subscription fails with StoreUnavailable when the store closes", () =>
      Effect.gen(function* () {
        const { store } = yield* openStore({ pollIntervalMs: 60_000 })
        const subscription = yield* Effect.forkScoped(Stream.runDrain(store.subscribe()))
        yield* Effect.sleep(20)
        yield* store.close
        const error = yield* Effect.flip(Fiber.join(subscription))
        expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
      }),
    )
  })
})
