/**
 * The EventStore port on PostgreSQL through `pg`: a pool for appends and reads, one LISTEN
 * connection to wake subscribers. Each append is one statement (one round trip, one transaction)
 * calling the schema's append function, which checks the expected version, writes the events and
 * notifies subscribers, all or nothing. Appends issued together share that statement and its commit
 * (group commit, internal/groupCommit.ts), each still checked and answered on its own.
 *
 * Positions are handed out under a per-schema lock held until commit, so they become visible in the
 * order they are handed out: a reader never sees position n+1 before n, and readers page through
 * the primary key without waiting for gaps to close (docs/decisions/0007-postgres-late-commits.md).
 *
 * `layerWithSnapshots` puts the snapshot store (PostgresSnapshotStore) on the same pool.
 *
 *   PostgresEventStore.layer({ connectionString: "postgresql://relata@db:5432/relata" })
 */
import {
  type AppendResult,
  type EventFilter,
  EventStore,
  type EventStoreService,
  type EventToAppend,
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
import {
  type Array as Arr,
  Cause,
  Context,
  Effect,
  Layer,
  Queue,
  type Redacted,
  type Scope,
  Stream,
} from "effect"
import type pg from "pg"
import { makeGroupCommit } from "./internal/groupCommit.ts"
import { eventIdConstraint, schemaNames } from "./internal/migrations.ts"
import { makeNotifier } from "./internal/Notifier.ts"
import { openStore, type ResolvedConfig } from "./internal/openStore.ts"
import { codeOf, storeUnavailable, UNIQUE_VIOLATION } from "./internal/pgErrors.ts"
import { type EventRow, makeQueries, type PageRow, toRecordedEvent } from "./internal/queries.ts"
import { snapshotStoreOn } from "./internal/snapshots.ts"
import type { PostgresStoreOpenError } from "./PostgresStoreOpenError.ts"

/** How to reach the server and how the store behaves. Only `connectionString` is required. */
export interface PostgresEventStoreConfig {
  /**
   * `postgresql://user:password@host:port/database` (libpq's URI form). Pass it `Redacted` to keep
   * the password out of logs; it never appears in the store's errors either way.
   */
  readonly connectionString: string | Redacted.Redacted<string>
  /** The schema holding the store's tables, created on start. Lower-case letters, digits, `_`. */
  readonly schema?: string
  /** Connections in the pool, for appends and reads. Subscribers share one more for LISTEN. */
  readonly poolSize?: number
  /**
   * How often a caught-up subscriber reads anyway. A fallback only: appends wake subscribers
   * through LISTEN/NOTIFY at once; polling covers a LISTEN connection that is down.
   */
  readonly pollIntervalMs?: number
  /** Events per page when reading all events or catching up. */
  readonly batchSize?: number
  /** How long to wait for a connection (at start and from the pool) before failing. */
  readonly connectTimeoutMs?: number
  /**
   * How long an append waits for the append lock (held by each append until it commits) before
   * failing with a retryable StoreUnavailable. Appends hold it for milliseconds; a long wait means
   * a session is holding it in an open transaction.
   */
  readonly lockTimeoutMs?: number
  /** `application_name` of the store's connections, as `pg_stat_activity` shows them. */
  readonly applicationName?: string
}

/** The defaults of `PostgresEventStoreConfig`. */
export { defaults } from "./internal/openStore.ts"

/** The store plus what its owner needs: its schema, and how to close it. */
export interface PostgresEventStoreHandle extends EventStoreService {
  /** The schema the store's tables live in. */
  readonly schema: string
  /** Ends the pool and the LISTEN connection; later calls fail with StoreUnavailable. Idempotent. */
  readonly close: Effect.Effect<void>
}

// How many positions a filtered page may examine per query, in pages: enough to fill a page when the
// filter matches one event in a few, small enough to keep each query short when it matches none.
const filteredWindowFactor = 16

const toLimit = (limit: number | undefined): number =>
  limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(limit))

const isActive = (filter: EventFilter | undefined): filter is EventFilter =>
  filter !== undefined && (filter.eventTypes !== undefined || filter.streamPrefix !== undefined)

const build = (pool: pg.Pool, config: ResolvedConfig): PostgresEventStoreHandle => {
  const names = schemaNames(config.schema)
  const queries = makeQueries(names)
  const notifier = makeNotifier(
    {
      ...config.connection.clientConfig,
      connectionTimeoutMillis: config.connectTimeoutMs,
      application_name: `${config.applicationName}-listener`,
    },
    names.channel,
  )
  // Appends issued together share one statement and one commit (group commit).
  const submit = makeGroupCommit(pool, queries)
  let closed = false

  const unavailable = (operation: string, cause: unknown): StoreUnavailable =>
    closed
      ? new StoreUnavailable({ reason: `${operation}: the store is closed`, retryable: false, cause })
      : storeUnavailable(operation, cause)

  const run = <R extends pg.QueryResultRow>(operation: string, query: pg.QueryConfig) =>
    Effect.tryPromise({
      try: () => pool.query<R>(query),
      catch: (cause) => unavailable(operation, cause),
    })

  const currentVersion = (streamId: string) =>
    Effect.map(
      run<{ version: number }>(`read the version of stream ${streamId}`, queries.streamVersion(streamId)),
      (result) => result.rows[0]?.version ?? 0,
    )

  const append = (
    streamId: string,
    events: ReadonlyArray<EventToAppend>,
    expected: ExpectedVersion,
  ): Effect.Effect<AppendResult, WrongExpectedVersion | StoreUnavailable> =>
    Effect.gen(function* () {
      const operation = `append to stream ${streamId}`
      const rejected = (actual: number) =>
        new WrongExpectedVersion({ streamId, expected: ExpectedVersion.format(expected), actual })
      const outcome = yield* Effect.promise(() => submit({ streamId, events, expected }))
      if ("error" in outcome) {
        // The statement was rolled back whole. A duplicate event id (in this stream, or twice in
        // this append) is not a conflict: reloading cannot help, so it is reported as SQLite reports
        // it. Any other unique violation is a version written behind the function's back: report
        // the stream's real version.
        if (codeOf(outcome.error) === UNIQUE_VIOLATION && !closed) {
          if ((outcome.error as { readonly constraint?: string }).constraint === eventIdConstraint) {
            return yield* new StoreUnavailable({
              reason: `append to ${streamId}: it repeats an event id (already in the stream, or twice in this append); event ids must be unique within a stream`,
              retryable: false,
              cause: outcome.error,
            })
          }
          return yield* rejected(yield* currentVersion(streamId))
        }
        return yield* unavailable(operation, outcome.error)
      }
      const row = outcome.row
      if (row === undefined) {
        return yield* unavailable(operation, new Error("the append function returned no row"))
      }
      if (!row.appended) return yield* rejected(row.stream_version)
      return { streamVersion: row.stream_version, position: BigInt(row.last_position) }
    })

  const readStream = (
    streamId: string,
    options?: ReadStreamOptions,
  ): Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable> =>
    Effect.suspend(() => {
      const limit = toLimit(options?.limit)
      if (limit === 0) return Effect.succeed([])
      const direction = options?.direction ?? "forwards"
      const from = options?.from ?? (direction === "forwards" ? 1 : 2_147_483_647) // integer's max: "from the end"
      const clamped = Math.max(0, Math.min(Math.floor(from), 2_147_483_647))
      return Effect.map(
        run<EventRow>(
          `read stream ${streamId}`,
          queries.readStream(streamId, direction, clamped, Number.isFinite(limit) ? limit : null),
        ),
        (result) => result.rows.map(toRecordedEvent),
      )
    })

  const headPosition: Effect.Effect<GlobalPosition, StoreUnavailable> = Effect.map(
    run<{ head: string }>("read the head position", queries.head),
    (result) => BigInt(result.rows[0]?.head ?? 0),
  )

  /**
   * Pages through the primary key from `after`. Positions become visible in the order they are
   * handed out (the append lock), so everything up to a head we have read is final: the cursor may
   * move past a window without a match and nothing can appear behind it later. Live pages wait only
   * when caught up, for a notification or the poll interval, whichever comes first.
   */
  const pages = (
    after: GlobalPosition,
    filter: EventFilter | undefined,
    limit: number,
    wake: Queue.Queue<void> | undefined,
  ): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    Stream.fromPull(
      Effect.sync(() => {
        const operation = wake === undefined ? "read all events" : "subscribe"
        const window = config.batchSize * filteredWindowFactor
        let cursor = after < StartOfStore ? StartOfStore : after
        let remaining = limit
        let caughtUp = false

        const next: Effect.Effect<
          Arr.NonEmptyReadonlyArray<RecordedEvent>,
          StoreUnavailable | Cause.Done
        > = Effect.suspend(() => {
          if (remaining <= 0) return Cause.done()
          if (closed) return Effect.fail(unavailable(operation, new Error("the pool has been ended")))
          if (caughtUp) {
            if (wake === undefined) return Cause.done()
            return Queue.take(wake).pipe(
              Effect.timeoutOption(config.pollIntervalMs),
              Effect.andThen(() => {
                caughtUp = false
                return next
              }),
            )
          }
          // Cleared before the read: a commit the read misses notifies after this point, so the
          // wait above returns at once instead of sleeping past it.
          if (wake !== undefined) Queue.takeUnsafe(wake)
          const want = Math.min(config.batchSize, remaining)
          const read: Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable> = isActive(filter)
            ? Effect.map(
                run<PageRow>(operation, queries.filteredPage(cursor, window, filter, want)),
                (result) => {
                  const head = BigInt(result.rows[0]?.head ?? 0)
                  const events = result.rows.flatMap((row) =>
                    row.global_position == null ? [] : [toRecordedEvent(row as EventRow)],
                  )
                  const last = events.at(-1)
                  // A full page may stop short of the window; otherwise the window held every match.
                  if (events.length === want && last !== undefined) {
                    cursor = last.position
                  } else {
                    const windowEnd = cursor + BigInt(window)
                    const upTo = windowEnd < head ? windowEnd : head
                    if (upTo > cursor) cursor = upTo
                    caughtUp = cursor >= head
                  }
                  return events
                },
              )
            : Effect.map(run<EventRow>(operation, queries.page(cursor, want)), (result) => {
                const events = result.rows.map(toRecordedEvent)
                const last = events.at(-1)
                if (last !== undefined) cursor = last.position
                caughtUp = events.length < want
                return events
              })
          return Effect.flatMap(read, (events) => {
            if (events.length === 0) return next
            remaining -= events.length
            return Effect.succeed(events as Arr.NonEmptyReadonlyArray<RecordedEvent>)
          })
        })
        return next
      }),
    )

  const matchesNothing = (filter: EventFilter | undefined): boolean => filter?.eventTypes?.length === 0

  const readAll = (options?: ReadAllOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    matchesNothing(options?.filter)
      ? Stream.empty
      : pages(options?.after ?? StartOfStore, options?.filter, toLimit(options?.limit), undefined)

  const subscribe = (options?: SubscribeOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    matchesNothing(options?.filter)
      ? Stream.never
      : Stream.unwrap(
          Effect.gen(function* () {
            // Sliding(1): many notifications while busy coalesce into one wake-up.
            const wake = yield* Queue.sliding<void>(1)
            yield* Effect.acquireRelease(
              Effect.sync(() => notifier.register(() => Queue.offerUnsafe(wake, undefined))),
              (unregister) => Effect.sync(unregister),
            )
            return pages(options?.after ?? StartOfStore, options?.filter, Number.POSITIVE_INFINITY, wake)
          }),
        )

  const close: Effect.Effect<void> = Effect.promise(async () => {
    if (closed) return
    closed = true
    await notifier.close()
    await pool.end().catch(() => undefined)
  })

  return { schema: config.schema, append, readStream, readAll, subscribe, headPosition, close }
}

/**
 * Connects, checks the server and brings the schema to the latest version, then returns the store
 * with its `close`; the caller closes it. Fails fast with `PostgresStoreOpenError` naming the server
 * (never the password) and what is wrong.
 */
export const makePostgresEventStore = (
  config: PostgresEventStoreConfig,
): Effect.Effect<PostgresEventStoreHandle, PostgresStoreOpenError> =>
  Effect.map(openStore(config), ({ pool, config: resolved }) => build(pool, resolved))

/** The store as an `EventStore` service, closed when the scope closes. */
export const make = (
  config: PostgresEventStoreConfig,
): Effect.Effect<PostgresEventStoreHandle, PostgresStoreOpenError, Scope.Scope> =>
  Effect.acquireRelease(makePostgresEventStore(config), (handle) => handle.close)

/** Provides `EventStore` from PostgreSQL; the pool is ended when the layer's scope closes. */
export const layer = (config: PostgresEventStoreConfig): Layer.Layer<EventStore, PostgresStoreOpenError> =>
  Layer.effect(EventStore, Effect.map(make(config), eventStoreServiceOf))

/**
 * Provides `EventStore` and `SnapshotStore` from one schema through one pool, ended when the layer's
 * scope closes: what an application wants. One pool rather than one per store: the server is checked
 * and the schema migrated once, the stores share the connection budget (`poolSize`), and there is one
 * thing to close.
 */
export const layerWithSnapshots = (
  config: PostgresEventStoreConfig,
): Layer.Layer<EventStore | SnapshotStore, PostgresStoreOpenError> =>
  Layer.effectContext(
    Effect.map(
      Effect.acquireRelease(
        Effect.map(openStore(config), ({ pool, config: resolved }) => ({
          events: build(pool, resolved),
          snapshots: snapshotStoreOn(pool, resolved.schema),
        })),
        ({ events }) => events.close,
      ),
      ({ events, snapshots }) =>
        Context.make(EventStore, eventStoreServiceOf(events)).pipe(Context.add(SnapshotStore, snapshots)),
    ),
  )
