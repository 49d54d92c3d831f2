/**
 * The embedded default event store: one SQLite file in WAL mode through Node's built-in
 * `node:sqlite`. One connection per store; every call runs synchronously on it, so a transaction
 * never interleaves with another call of this process, and other processes take turns on the file's
 * write lock. Appends made in the same turn of the event loop share one transaction and one fsync
 * (group commit: internal/groupCommit.ts, decision 0014); each completes once it is durable.
 * `layerWithSnapshots` puts the snapshot store on the same connection.
 */
import type { DatabaseSync } from "node:sqlite"
import {
  type EventFilter,
  EventStore,
  type EventStoreService,
  ExpectedVersion,
  eventStoreServiceOf,
  type GlobalPosition,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  SnapshotStore,
  StartOfStore,
  StoreUnavailable,
  type SubscribeOptions,
  WrongExpectedVersion,
} from "@relata/domain"
import { Array as Arr, Cause, Context, Effect, Layer, type Scope, Stream } from "effect"
import { CommitSignal } from "./internal/CommitSignal.ts"
import { groupCommit } from "./internal/groupCommit.ts"
import type { Synchronous } from "./internal/openDatabase.ts"
import { openStore, type ResolvedConfig } from "./internal/openStore.ts"
import { prepareStatements, type Statements, windowParams } from "./internal/queries.ts"
import { snapshotStoreOn } from "./internal/snapshots.ts"
import { messageOf, storeUnavailable } from "./internal/sqliteErrors.ts"
import type { SqliteStoreOpenError } from "./SqliteStoreOpenError.ts"

/** How to open the store. Every field has a default. */
export interface SqliteEventStoreConfig {
  /** The database file, relative to the working directory; its folder is created. */
  readonly path?: string
  /**
   * `PRAGMA synchronous`. FULL (the default) syncs the WAL on every commit: an acknowledged append
   * survives a power loss. NORMAL survives a crash of the process but may lose the last commits on
   * power loss, in exchange for several times the append rate.
   */
  readonly synchronous?: Synchronous
  /**
   * How long opening, appending or saving a snapshot waits for another process's write lock before
   * failing (retryable).
   */
  readonly busyTimeoutMs?: number
  /** How often a caught-up subscriber looks for appends made by other processes. */
  readonly pollIntervalMs?: number
  /** Events per page when reading all events or catching up. */
  readonly batchSize?: number
}

/** The defaults of `SqliteEventStoreConfig`. */
export { defaults } from "./internal/openStore.ts"

/** The store plus what its owner needs: where the file is and how to close it. */
export interface SqliteEventStoreHandle extends EventStoreService {
  /** The database file, absolute. */
  readonly path: string
  /** Closes the connection; later calls fail with StoreUnavailable. Idempotent. */
  readonly close: Effect.Effect<void>
}

// How many positions a filtered page may examine per query, in batches: enough to fill a page when
// the filter matches one event in a few, small enough to keep each query short when it matches none.
const filteredWindowFactor = 16

/** SQLite stores positions as 64-bit integers; ours stay far below 2^53, so numbers are exact. */
const toCursor = (position: GlobalPosition): number =>
  position <= 0n
    ? 0
    : position >= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number.MAX_SAFE_INTEGER
      : Number(position)

/** A count limit as SQLite's LIMIT takes it: a whole number >= 0. */
const toLimit = (limit: number | undefined): number =>
  limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(limit))

const build = (db: DatabaseSync, st: Statements, config: ResolvedConfig): SqliteEventStoreHandle => {
  // A batch of appends to many streams dirties index pages all over the file, more than SQLite's 2 MiB
  // page cache holds: with spilling on, they go to the WAL before COMMIT and again at COMMIT (3.7 KB
  // written per event instead of 2.4 KB for concurrent 10-event appends to new streams). A bigger cache
  // would do the same but slows a full scan by about a third (the scan cycles through all of it).
  db.exec("PRAGMA cache_spill = OFF")
  const signal = new CommitSignal()
  let closed = false

  const unavailable = (action: string, cause: unknown): StoreUnavailable =>
    storeUnavailable(action, cause, { closed, busyTimeoutMs: config.busyTimeoutMs })

  /**
   * An append that a constraint rejected inside its savepoint. UNIQUE (stream_id, event_id) means one
   * of its event ids is already in the stream (a repeat). UNIQUE (stream_id, version) means another
   * writer got past the version check, which the write lock should make impossible: report the stream's
   * real version.
   */
  const constraintFailure = (
    streamId: string,
    expected: ExpectedVersion,
    cause: unknown,
  ): WrongExpectedVersion | StoreUnavailable => {
    // Both messages name events.stream_id ("UNIQUE constraint failed: events.stream_id, events.…").
    if (messageOf(cause).includes("events.event_id")) {
      return new StoreUnavailable({
        reason: `append to ${streamId}: it repeats an event id (already in the stream, or twice in this append); event ids must be unique within a stream`,
        retryable: false,
        cause,
      })
    }
    if (messageOf(cause).includes("events.version")) {
      try {
        return new WrongExpectedVersion({
          streamId,
          expected: ExpectedVersion.format(expected),
          actual: st.streamHead(streamId)?.version ?? 0,
        })
      } catch (readFailure) {
        return unavailable(`append to ${streamId}`, readFailure)
      }
    }
    return unavailable(`append to ${streamId}`, cause)
  }

  const commits = groupCommit({
    db,
    st,
    signal,
    isClosed: () => closed,
    unavailable,
    constraintFailure,
  })

  const readStream = (
    streamId: string,
    options?: ReadStreamOptions,
  ): Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable> =>
    Effect.try({
      try: () => {
        const limit = toLimit(options?.limit)
        if (limit === 0) return []
        // SQLite reads a negative LIMIT as "no limit".
        const sqlLimit = Number.isFinite(limit) ? limit : -1
        const rows =
          options?.direction === "backwards"
            ? st.readStreamBackwards.all(streamId, options.from ?? Number.MAX_SAFE_INTEGER, sqlLimit)
            : st.readStreamForwards.all(streamId, options?.from ?? 1, sqlLimit)
        return st.toRecordedEvents(rows)
      },
      catch: (cause) => unavailable(`read stream ${streamId}`, cause),
    })

  const readHead = (): number => Number(st.head.get()?.head ?? 0)

  const headPosition: Effect.Effect<GlobalPosition, StoreUnavailable> = Effect.try({
    try: () => BigInt(readHead()),
    catch: (cause) => unavailable("read the head position", cause),
  })

  /**
   * Pages through the primary key from `after`, one window of positions per query. A position is
   * assigned under the write lock as max + 1 and commits in that order, so every position up to a head
   * we have read is committed and final: the cursor may move past a window that held no match, and
   * nothing can appear behind it later. Live pages wait only when caught up, for a commit of this
   * process or the poll interval, whichever comes first.
   */
  const pages = (
    after: GlobalPosition,
    filter: EventFilter | undefined,
    limit: number,
    live: boolean,
  ): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    Stream.fromPull(
      Effect.sync(() => {
        const filtered = filter?.eventTypes !== undefined || filter?.streamPrefix !== undefined
        const window = filtered ? config.batchSize * filteredWindowFactor : config.batchSize
        const statement = st.readWindow(filter)
        let cursor = toCursor(after)
        let remaining = limit
        let head = 0
        let headRead = false

        const next = (): Effect.Effect<
          Arr.NonEmptyReadonlyArray<RecordedEvent>,
          StoreUnavailable | Cause.Done
        > => {
          if (remaining <= 0) return Cause.done()
          // Noted before reading the head: a commit after this point makes the wait below return at once.
          const seen = signal.generation
          let events: Array<RecordedEvent>
          try {
            if (cursor >= head && (live || !headRead)) {
              head = readHead()
              headRead = true
            }
            if (cursor >= head) {
              return live ? Effect.flatMap(signal.waitAfter(seen, config.pollIntervalMs), next) : Cause.done()
            }
            const upTo = Math.min(cursor + window, head)
            const want = Math.min(config.batchSize, remaining)
            const rows = statement.all(windowParams(filter, cursor, upTo, want))
            events = st.toRecordedEvents(rows)
            const lastEvent = events[events.length - 1]
            // A full page may stop short of upTo; otherwise the window held every match up to it.
            cursor = events.length === want && lastEvent !== undefined ? Number(lastEvent.position) : upTo
          } catch (cause) {
            return Effect.fail(unavailable(live ? "subscribe" : "read all events", cause))
          }
          if (!Arr.isReadonlyArrayNonEmpty(events)) return Effect.flatMap(Effect.yieldNow, next)
          remaining -= events.length
          return Effect.succeed(events)
        }
        return Effect.suspend(next)
      }),
    )

  const readAll = (options?: ReadAllOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    pages(options?.after ?? StartOfStore, options?.filter, toLimit(options?.limit), false)

  const subscribe = (options?: SubscribeOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    pages(options?.after ?? StartOfStore, options?.filter, Number.POSITIVE_INFINITY, true)

  const close = Effect.sync(() => {
    if (closed) return
    // Appends accepted before close are committed, not dropped.
    commits.flushAll()
    closed = true
    db.close()
    // Wake live subscribers so they fail with "closed" now rather than at their next poll.
    signal.notify()
  })

  return { path: config.path, append: commits.append, readStream, readAll, subscribe, headPosition, close }
}

/**
 * Opens (creating if needed) the store's file and returns the store with its `close`; the caller
 * closes it. Fails with `SqliteStoreOpenError` naming what is wrong.
 */
export const makeSqliteEventStore = (
  config: SqliteEventStoreConfig = {},
): Effect.Effect<SqliteEventStoreHandle, SqliteStoreOpenError> =>
  openStore(config, (db, resolved) => build(db, prepareStatements(db), resolved))

/** The store as an `EventStore` service, closed when the scope closes. */
export const make = (
  config: SqliteEventStoreConfig = {},
): Effect.Effect<EventStoreService, SqliteStoreOpenError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(makeSqliteEventStore(config), (handle) => handle.close),
    eventStoreServiceOf,
  )

/** Provides `EventStore` from one SQLite file; the file is closed when the layer's scope closes. */
export const layer = (config: SqliteEventStoreConfig = {}): Layer.Layer<EventStore, SqliteStoreOpenError> =>
  Layer.effect(EventStore, make(config))

/**
 * Provides `EventStore` and `SnapshotStore` from one SQLite file through one connection, closed when
 * the layer's scope closes: what an application wants. One connection rather than one per store: the
 * file is opened, checked and migrated once, both stores share its page cache, and there is one thing
 * to close.
 */
export const layerWithSnapshots = (
  config: SqliteEventStoreConfig = {},
): Layer.Layer<EventStore | SnapshotStore, SqliteStoreOpenError> =>
  Layer.effectContext(
    Effect.map(
      Effect.acquireRelease(
        openStore(config, (db, resolved) => ({
          events: build(db, prepareStatements(db), resolved),
          snapshots: snapshotStoreOn(db, resolved),
        })),
        ({ events }) => events.close,
      ),
      ({ events, snapshots }) =>
        Context.make(EventStore, eventStoreServiceOf(events)).pipe(Context.add(SnapshotStore, snapshots)),
    ),
  )
