import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { assert, describe, expect, it } from "@effect/vitest"
import { makeSqliteEventStore, type SqliteEventStoreConfig } from "@relata/adapter-sqlite"
import { type EventToAppend, ExpectedVersion } from "@relata/domain"
import { Effect, Fiber, Result, Stream } from "effect"

const tempFolder = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-group-"))),
  (folder) => Effect.sync(() => fs.rmSync(folder, { recursive: true, force: true })),
)

/** A store on a fresh file, closed with the test's scope. */
const openStore = (config: SqliteEventStoreConfig = {}) =>
  Effect.gen(function* () {
    const file = path.join(yield* tempFolder, "events.sqlite")
    const store = yield* Effect.acquireRelease(
      makeSqliteEventStore({ path: file, ...config }),
      (handle) => handle.close,
    )
    return { store, file }
  })

/** A second connection to the file, as another process would have. */
const connect = (file: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new DatabaseSync(file)),
    (db) => Effect.sync(() => db.isOpen && db.close()),
  )

/**
 * How many transactions the file's WAL holds: frames whose header carries a database size are the
 * last frame of a commit (https://www.sqlite.org/fileformat.html#the_write_ahead_log). Frames after
 * the current generation (other salts) are left over from before a checkpoint and do not count.
 */
const commitsInWal = (file: string): number => {
  const wal = fs.readFileSync(`${file}-wal`)
  if (wal.length < 32) return 0
  const pageSize = wal.readUInt32BE(8)
  const salts = [wal.readUInt32BE(16), wal.readUInt32BE(20)]
  let commits = 0
  for (let offset = 32; offset + 24 + pageSize <= wal.length; offset += 24 + pageSize) {
    if (wal.readUInt32BE(offset + 8) !== salts[0] || wal.readUInt32BE(offset + 12) !== salts[1]) break
    if (wal.readUInt32BE(offset + 4) !== 0) commits++
  }
  return commits
}

let counter = 0
const newEvent = (type = "NoteAdded"): EventToAppend => ({
  eventId: `event-${++counter}`,
  type,
  schemaVersion: 1,
  data: { counter },
  metadata: {},
})
const newEvents = (count: number, type?: string) => Array.from({ length: count }, () => newEvent(type))

const positionsOf = (store: {
  readonly readAll: () => Stream.Stream<{ readonly position: bigint }, unknown>
}) => Effect.map(Stream.runCollect(store.readAll()), (events) => events.map((event) => event.position))

describe("SqliteEventStore group commit", () => {
  it.effect("appends made in one turn share one transaction; positions stay dense", () =>
    Effect.gen(function* () {
      const { store, file } = yield* openStore()
      const before = commitsInWal(file)
      const results = yield* Effect.all(
        Array.from({ length: 20 }, (_, index) =>
          store.append(`customer-${index}`, newEvents(1 + (index % 2)), ExpectedVersion.noStream),
        ),
        { concurrency: "unbounded" },
      )
      expect(commitsInWal(file) - before).toBe(1)
      expect(yield* positionsOf(store)).toEqual(Array.from({ length: 30 }, (_, index) => BigInt(index + 1)))
      expect(new Set(results.map((result) => result.position)).size).toBe(20)
    }),
  )

  it.effect("a lone appender commits each append before the next one starts", () =>
    Effect.gen(function* () {
      const { store, file } = yield* openStore()
      const before = commitsInWal(file)
      for (let version = 0; version < 3; version++) {
        yield* store.append("customer-1", newEvents(1), ExpectedVersion.exact(version))
        // Acknowledged means committed: the transaction is in the WAL before the next append is made.
        expect(commitsInWal(file) - before).toBe(version + 1)
      }
    }),
  )

  it.effect("a burst larger than the cap is split into several transactions", () =>
    Effect.gen(function* () {
      const { store, file } = yield* openStore()
      const before = commitsInWal(file)
      // 12 appends of 1,000 events against a cap of 5,000 events per transaction: 5 + 5 + 2.
      yield* Effect.all(
        Array.from({ length: 12 }, (_, index) =>
          store.append(`customer-${index}`, newEvents(1_000), ExpectedVersion.noStream),
        ),
        { concurrency: "unbounded" },
      )
      expect(commitsInWal(file) - before).toBe(3)
      expect(yield* positionsOf(store)).toHaveLength(12_000)
    }),
  )

  it.effect("a duplicate event id fails only its own append; the rest of the burst lands, densely", () =>
    Effect.gen(function* () {
      const { store } = yield* openStore()
      const stored = newEvent()
      yield* store.append("customer-0", [stored], ExpectedVersion.noStream)
      const twice = newEvent()
      const plan = [
        { streamId: "customer-1", events: newEvents(2), expected: ExpectedVersion.noStream, ok: true },
        {
          streamId: "customer-0",
          events: [newEvent(), stored],
          expected: ExpectedVersion.exact(1),
          ok: false,
        },
        { streamId: "customer-3", events: newEvents(3), expected: ExpectedVersion.noStream, ok: true },
        {
          streamId: "customer-4",
          events: [twice, newEvent(), twice],
          expected: ExpectedVersion.noStream,
          ok: false,
        },
        { streamId: "customer-5", events: newEvents(1), expected: ExpectedVersion.noStream, ok: true },
      ]
      const results = yield* Effect.all(
        plan.map(({ streamId, events, expected }) => Effect.result(store.append(streamId, events, expected))),
        { concurrency: "unbounded" },
      )
      plan.forEach(({ ok }, index) => {
        const result = results[index]
        assert(result !== undefined)
        if (ok) {
          expect(Result.isSuccess(result)).toBe(true)
        } else {
          assert(Result.isFailure(result))
          expect(result.failure).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
          expect(result.failure.message).toContain("event ids must be unique")
        }
      })
      const all = yield* Stream.runCollect(store.readAll())
      expect(all.map((event) => event.position)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n])
      expect(all.map((event) => event.streamId)).toEqual([
        "customer-0",
        "customer-1",
        "customer-1",
        "customer-3",
        "customer-3",
        "customer-3",
        "customer-5",
      ])
      expect((yield* store.readStream("customer-0")).map((event) => event.eventId)).toEqual([stored.eventId])
      expect(yield* store.readStream("customer-4")).toEqual([])
    }),
  )

  it.effect("a failed COMMIT fails every append of the batch alike, and none of them is written", () =>
    Effect.gen(function* () {
      const { store, file } = yield* openStore()
      yield* store.append("customer-0", newEvents(1), ExpectedVersion.noStream)
      // Another connection adds a deferred foreign key that an insert of type Poison violates: SQLite
      // checks it only at COMMIT, so the batch's COMMIT fails after every append in it went through.
      const other = yield* connect(file)
      other.exec(`
        CREATE TABLE poison (ref INTEGER REFERENCES events (position) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER poison_on_insert AFTER INSERT ON events WHEN NEW.type = 'Poison'
          BEGIN INSERT INTO poison (ref) VALUES (-1); END;
      `)
      const plan = [
        store.append("customer-1", newEvents(2), ExpectedVersion.noStream),
        store.append("customer-2", newEvents(1, "Poison"), ExpectedVersion.noStream),
        store.append("customer-0", newEvents(1), ExpectedVersion.exact(1)),
      ]
      const results = yield* Effect.all(plan.map(Effect.result), { concurrency: "unbounded" })
      for (const result of results) {
        assert(Result.isFailure(result))
        expect(result.failure).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
        expect(result.failure.message).toContain("FOREIGN KEY constraint failed")
      }
      expect(yield* positionsOf(store)).toEqual([1n])
      other.exec("DROP TRIGGER poison_on_insert")
      expect(yield* store.append("customer-0", newEvents(1), ExpectedVersion.exact(1))).toEqual({
        streamVersion: 2,
        position: 2n,
      })
    }),
  )

  it.effect("an append interrupted before its batch starts is not written; the others are", () =>
    Effect.gen(function* () {
      const { store } = yield* openStore()
      const dropped = newEvents(1)
      const kept = newEvents(1)
      const interrupted = yield* Effect.forkChild(
        store.append("customer-1", dropped, ExpectedVersion.noStream),
        { startImmediately: true },
      )
      const landing = yield* Effect.forkChild(store.append("customer-2", kept, ExpectedVersion.noStream), {
        startImmediately: true,
      })
      yield* Fiber.interrupt(interrupted)
      expect(yield* Fiber.join(landing)).toEqual({ streamVersion: 1, position: 1n })
      const all = yield* Stream.runCollect(store.readAll())
      expect(all.map((event) => event.eventId)).toEqual(kept.map((event) => event.eventId))
    }),
  )

  it.effect("close commits the appends already queued, then refuses new ones", () =>
    Effect.gen(function* () {
      const { store, file } = yield* openStore()
      const queued = yield* Effect.forkChild(
        store.append("customer-1", newEvents(2), ExpectedVersion.noStream),
        {
          startImmediately: true,
        },
      )
      yield* store.close
      expect(yield* Fiber.join(queued)).toEqual({ streamVersion: 2, position: 2n })
      expect(
        yield* Effect.flip(store.append("customer-1", newEvents(1), ExpectedVersion.exact(2))),
      ).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
      const reopened = yield* Effect.acquireRelease(
        makeSqliteEventStore({ path: file }),
        (handle) => handle.close,
      )
      expect(yield* positionsOf(reopened)).toEqual([1n, 2n])
    }),
  )
})
