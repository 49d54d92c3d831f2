/**
 * The EventStore port on KurrentDB (formerly EventStoreDB) through `@kurrent/kurrentdb-client`.
 * The server does the work: it checks expected versions, orders `$all`, filters and pushes
 * subscriptions, deduplicates retried appends by event id and replicates in a cluster. This module
 * maps between the port and the client (the mappings live in `internal/`, each tested on its own).
 *
 *   KurrentDbEventStore.layer({ connectionString: "kurrentdb://admin:changeit@db:2113" })
 *
 * Writes and the reads a command handler makes (`readStream`, `headPosition`) require the leader:
 * a node that is not the leader answers NotLeaderError, the client reconnects to the leader it
 * names, and the call is tried again (`leaderRetries` times). `readAll` and `subscribe` may be
 * served by any node the connection string's `nodePreference` picks.
 */
import {
  BACKWARDS,
  END,
  FORWARDS,
  type KurrentDBClient,
  NO_STREAM,
  type ReadPosition,
  type ReadRevision,
  START,
} from "@kurrent/kurrentdb-client"
import {
  type AppendResult,
  EventStore,
  type EventStoreService,
  type EventToAppend,
  ExpectedVersion,
  eventStoreServiceOf,
  type GlobalPosition,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  StartOfStore,
  type StoreUnavailable,
  type StreamVersion,
  type SubscribeOptions,
  WrongExpectedVersion,
} from "@relata/domain"
import { Effect, Layer, Redacted, Result, Schedule, type Scope, Stream } from "effect"
import { type Accept, liveEvents, pagedRead } from "./internal/allStream.ts"
import {
  type AppendManyPlan,
  type Atomicity,
  type MultiStreamAppendCapability,
  planAppendMany,
  type StreamAppend,
} from "./internal/appendManyPlan.ts"
import { classify, type Failure, invalid, StoreClosed, toStoreUnavailable } from "./internal/errors.ts"
import {
  eventProblem,
  type ResolvedEventLike,
  toEventData,
  toPropertiesEventData,
  toRecordedEvent,
} from "./internal/events.ts"
import { type FilterPlan, planFilter } from "./internal/filters.ts"
import { configurationError, openClient } from "./internal/openClient.ts"
import { fromLogPosition, positionOf, toLogPosition } from "./internal/position.ts"
import { namespaceProblem, type StreamNames, streamIdProblem, streamNames } from "./internal/streamNames.ts"
import {
  currentVersion,
  isMet,
  isValidExpectedVersion,
  revisionToVersion,
  toStreamState,
} from "./internal/streamState.ts"
import type { KurrentDbStoreOpenError } from "./KurrentDbStoreOpenError.ts"

export type { Atomicity, MultiStreamAppendCapability, StreamAppend } from "./internal/appendManyPlan.ts"

/** The calls the store makes on a KurrentDB client; a `KurrentDBClient` is one. */
export type KurrentDbClient = Pick<
  KurrentDBClient,
  "appendToStream" | "readStream" | "readAll" | "subscribeToAll" | "multiStreamAppend" | "dispose"
>

/** How the store behaves on a client. Every field has a default. */
export interface KurrentDbEventStoreOptions {
  /**
   * Keeps this store's streams apart from others on the same server: stream ids are stored as
   * `<namespace>:<streamId>`, and reads and subscriptions see only this namespace. Letters, digits,
   * `_`, `-`, `.`. Without one, the store is the whole server (system events excepted).
   */
  readonly namespace?: string
  /** Events per page when reading `$all` (readAll, headPosition's scan); at least 2. */
  readonly batchSize?: number
  /**
   * Of a filtered subscription: how many search windows the server scans between checkpoints it
   * sends while nothing matches (the client's `checkpointInterval`). Progress is tracked by the
   * events delivered, so this only bounds how long the server stays silent.
   */
  readonly checkpointInterval?: number
  /** How many times a call that met a node that is not the leader is tried again. */
  readonly leaderRetries?: number
  /** How many times in a row a broken subscription is opened again before the stream fails. */
  readonly subscriptionRetries?: number
  /**
   * `auto`: `appendMany` uses the server's atomic `multiStreamAppend` where it exists (KurrentDB
   * 25.1+). `off`: it always appends stream by stream.
   */
  readonly multiStreamAppend?: "auto" | "off"
}

/** How to reach the server and how the store behaves. Only `connectionString` is required. */
export interface KurrentDbEventStoreConfig extends KurrentDbEventStoreOptions {
  /**
   * `kurrentdb://user:password@host:2113` (several nodes: `host1:2113,host2:2113,host3:2113`;
   * DNS discovery: `kurrentdb+discover://…`). TLS is on unless it ends in `?tls=false`. Pass it
   * `Redacted` to keep the password out of logs; it never appears in the store's errors either way.
   */
  readonly connectionString: string | Redacted.Redacted<string>
  /** How long start-up waits for the server to answer before failing. */
  readonly connectTimeoutMs?: number
}

/** The defaults of `KurrentDbEventStoreConfig`. */
export const defaults = {
  batchSize: 512,
  checkpointInterval: 32,
  leaderRetries: 3,
  subscriptionRetries: 10,
  multiStreamAppend: "auto",
  connectTimeoutMs: 10_000,
} as const

/** The outcome of `appendMany`. */
export interface AppendManyResult {
  /** Whether the streams were written in one atomic operation (or there was only one). */
  readonly atomic: boolean
  /** Each stream's version after the append, in the order of the requests. */
  readonly streams: ReadonlyArray<{ readonly streamId: string; readonly streamVersion: StreamVersion }>
  /** The position of the last event written (StartOfStore when nothing was). */
  readonly position: GlobalPosition
}

export interface AppendManyOptions {
  /** `required`: fail without writing unless the write can be atomic. Default `preferred`. */
  readonly atomicity?: Atomicity
}

/** The store plus what its owner needs: multi-stream appends, the namespace, and how to close it. */
export interface KurrentDbEventStoreHandle extends EventStoreService {
  readonly namespace: string | undefined
  /** What the store knows of the server's `multiStreamAppend`: `untested` until the first try. */
  readonly supportsMultiStreamAppend: Effect.Effect<MultiStreamAppendCapability>
  /**
   * Appends to several streams, each with its own expected version: atomically through
   * `multiStreamAppend` where the server supports it, else (unless `atomicity: "required"`) one
   * stream after another, stopping at the first failure with the streams before it written. Event
   * ids make a repeat of the whole call safe: the server recognises the events already written.
   */
  readonly appendMany: (
    requests: ReadonlyArray<StreamAppend>,
    options?: AppendManyOptions,
  ) => Effect.Effect<AppendManyResult, WrongExpectedVersion | StoreUnavailable>
  /** Ends the client's connections (if the store opened the client); later calls fail. Idempotent. */
  readonly close: Effect.Effect<void>
}

const toLimit = (limit: number | undefined): number =>
  limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(limit))

const collect = <A>(iterable: () => AsyncIterable<A>): Promise<ReadonlyArray<A>> =>
  (async () => {
    const out: Array<A> = []
    for await (const item of iterable()) out.push(item)
    return out
  })()

/** The page `headPosition` scans backwards for the newest event of this store. */
const headPage = 32

interface Settings {
  readonly names: StreamNames
  readonly batchSize: number
  readonly checkpointInterval: number
  readonly leaderRetries: number
  readonly subscriptionRetries: number
  readonly multiStreamAppend: "auto" | "off"
}

const settingsOf = (options: KurrentDbEventStoreOptions): Settings => ({
  names: streamNames(options.namespace),
  batchSize: Math.max(2, Math.floor(options.batchSize ?? defaults.batchSize)),
  checkpointInterval: Math.max(1, Math.floor(options.checkpointInterval ?? defaults.checkpointInterval)),
  leaderRetries: Math.max(0, Math.floor(options.leaderRetries ?? defaults.leaderRetries)),
  subscriptionRetries: Math.max(0, Math.floor(options.subscriptionRetries ?? defaults.subscriptionRetries)),
  multiStreamAppend: options.multiStreamAppend ?? defaults.multiStreamAppend,
})

const build = (
  client: KurrentDbClient,
  settings: Settings,
  dispose: () => Promise<void>,
): KurrentDbEventStoreHandle => {
  const { names } = settings
  let closed = false
  let capability: MultiStreamAppendCapability = settings.multiStreamAppend === "off" ? "disabled" : "untested"

  /** One call of the client; tried again while the node answers that it is not the leader. */
  const call = <A>(thunk: () => Promise<A>): Effect.Effect<A, Failure> =>
    Effect.suspend(() =>
      closed ? Effect.fail(classify(new StoreClosed())) : Effect.tryPromise({ try: thunk, catch: classify }),
    ).pipe(
      Effect.retry({
        times: settings.leaderRetries,
        while: (failure: Failure) => failure._tag === "NotLeader",
        schedule: Schedule.exponential("50 millis"),
      }),
    )

  const rejected = (streamId: string, expected: ExpectedVersion, actual: StreamVersion) =>
    new WrongExpectedVersion({ streamId, expected: ExpectedVersion.format(expected), actual })

  const problemOf = (
    streamId: string,
    events: ReadonlyArray<EventToAppend>,
    expected: ExpectedVersion,
  ): string | undefined => {
    const streamProblem = streamIdProblem(streamId)
    if (streamProblem !== undefined) return streamProblem
    if (!isValidExpectedVersion(expected)) {
      return `expected version ${ExpectedVersion.format(expected)} is not a whole number >= 0`
    }
    for (const event of events) {
      const problem = eventProblem(event)
      if (problem !== undefined) return problem
    }
    return undefined
  }

  const decode = (
    operation: string,
    resolved: ResolvedEventLike,
  ): Effect.Effect<RecordedEvent, StoreUnavailable> => {
    const decoded = toRecordedEvent(resolved, names)
    return Result.isSuccess(decoded)
      ? Effect.succeed(decoded.success)
      : Effect.fail(invalid(operation, decoded.failure))
  }

  /** Reads one stream; a stream that does not exist is empty. */
  const readRaw = (
    operation: string,
    streamId: string,
    direction: typeof FORWARDS | typeof BACKWARDS,
    fromRevision: ReadRevision,
    maxCount: number,
  ): Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable> =>
    call(() =>
      collect(() =>
        client.readStream(names.toServer(streamId), {
          direction,
          fromRevision,
          requiresLeader: true,
          ...(Number.isFinite(maxCount) ? { maxCount } : {}),
        }),
      ),
    ).pipe(
      Effect.catch((failure: Failure) =>
        failure._tag === "StreamNotFound"
          ? Effect.succeed([])
          : Effect.fail(toStoreUnavailable(operation, failure)),
      ),
      Effect.flatMap((events) => Effect.forEach(events, (resolved) => decode(operation, resolved))),
    )

  /** The stream's version and the position of its last event (0 and StartOfStore when it is empty). */
  const tipOf = (operation: string, streamId: string) =>
    Effect.map(readRaw(operation, streamId, BACKWARDS, END, 1), ([last]) => ({
      version: last?.version ?? 0,
      position: last?.position ?? StartOfStore,
    }))

  const append = (
    streamId: string,
    events: ReadonlyArray<EventToAppend>,
    expected: ExpectedVersion,
  ): Effect.Effect<AppendResult, WrongExpectedVersion | StoreUnavailable> =>
    Effect.suspend(() => {
      const operation = `append to stream ${streamId}`
      const problem = problemOf(streamId, events, expected)
      if (problem !== undefined) return Effect.fail(invalid(operation, problem))
      // Nothing to write: the server would not say the version or position of an empty append,
      // so the expectation is checked against the stream's last event.
      if (events.length === 0) {
        return Effect.flatMap(tipOf(operation, streamId), (tip) =>
          isMet(expected, tip.version)
            ? Effect.succeed({ streamVersion: tip.version, position: tip.position })
            : Effect.fail(rejected(streamId, expected, tip.version)),
        )
      }
      return call(() =>
        client.appendToStream(names.toServer(streamId), events.map(toEventData), {
          streamState: toStreamState(expected),
          requiresLeader: true,
        }),
      ).pipe(
        Effect.catch((failure: Failure) =>
          Effect.fail(
            failure._tag === "WrongExpectedVersion"
              ? rejected(streamId, expected, failure.actual)
              : toStoreUnavailable(operation, failure),
          ),
        ),
        Effect.flatMap((result): Effect.Effect<AppendResult, WrongExpectedVersion | StoreUnavailable> => {
          // Only with throwOnAppendFailure=false in the connection string does a conflict resolve.
          if (!result.success) {
            const actual = result.nextExpectedRevision < 0n ? NO_STREAM : result.nextExpectedRevision
            return Effect.fail(rejected(streamId, expected, currentVersion(actual)))
          }
          const streamVersion = revisionToVersion(result.nextExpectedRevision)
          return result.position === undefined
            ? Effect.map(tipOf(operation, streamId), (tip) => ({ streamVersion, position: tip.position }))
            : Effect.succeed({ streamVersion, position: fromLogPosition(result.position) })
        }),
      )
    })

  const readStream = (
    streamId: string,
    options?: ReadStreamOptions,
  ): Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable> =>
    Effect.suspend(() => {
      const operation = `read stream ${streamId}`
      const limit = toLimit(options?.limit)
      if (limit === 0) return Effect.succeed([])
      const from = options?.from === undefined ? undefined : Math.floor(options.from)
      if (options?.direction === "backwards") {
        if (from === undefined) return readRaw(operation, streamId, BACKWARDS, END, limit)
        if (from < 1) return Effect.succeed([])
        // Reading backwards from past the last event: read from the end instead, whatever the
        // server does with a start beyond it.
        return Effect.flatMap(readRaw(operation, streamId, BACKWARDS, BigInt(from) - 1n, limit), (events) =>
          events.length > 0 ? Effect.succeed(events) : readRaw(operation, streamId, BACKWARDS, END, limit),
        ).pipe(Effect.map((events) => events.filter((event) => event.version <= from)))
      }
      const start: ReadRevision = from === undefined || from <= 1 ? START : BigInt(from) - 1n
      return readRaw(operation, streamId, FORWARDS, start, limit)
    })

  const acceptWith =
    (operation: string, plan: FilterPlan): Accept =>
    (resolved) => {
      const event = resolved.event
      if (event === undefined || !plan.matches(event.streamId, event.type)) return Result.succeed(undefined)
      const decoded = toRecordedEvent(resolved, names)
      return Result.isSuccess(decoded)
        ? Result.succeed(decoded.success)
        : Result.fail(invalid(operation, decoded.failure))
    }

  const readAll = (options?: ReadAllOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    Stream.suspend(() => {
      const operation = "read all events"
      const plan = planFilter(options?.filter, names, settings.checkpointInterval)
      if (plan.matchesNothing) return Stream.empty
      return pagedRead({
        readPage: (fromPosition, maxCount) =>
          Effect.mapError(
            call(() =>
              collect(() =>
                client.readAll({
                  direction: FORWARDS,
                  fromPosition,
                  maxCount,
                  filter: plan.server,
                  resolveLinkTos: false,
                }),
              ),
            ),
            (failure) => toStoreUnavailable(operation, failure),
          ),
        readHead: Effect.mapError(
          call(() =>
            collect(() =>
              client.readAll({
                direction: BACKWARDS,
                fromPosition: END,
                maxCount: 1,
                filter: plan.server,
                resolveLinkTos: false,
              }),
            ),
          ),
          (failure) => toStoreUnavailable(operation, failure),
        ).pipe(Effect.map(([newest]) => (newest === undefined ? undefined : positionOf(newest)))),
        after: options?.after ?? StartOfStore,
        batchSize: settings.batchSize,
        limit: toLimit(options?.limit),
        accept: acceptWith(operation, plan),
        operation,
      })
    })

  const subscribe = (options?: SubscribeOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    Stream.suspend(() => {
      const operation = "subscribe to all events"
      const plan = planFilter(options?.filter, names, settings.checkpointInterval)
      if (plan.matchesNothing) return Stream.never
      return liveEvents({
        open: (fromPosition: ReadPosition) => {
          if (closed) throw new StoreClosed()
          return client.subscribeToAll(
            { fromPosition, filter: plan.server, resolveLinkTos: false },
            { highWaterMark: settings.batchSize },
          )
        },
        after: options?.after ?? StartOfStore,
        accept: acceptWith(operation, plan),
        operation,
        retries: settings.subscriptionRetries,
        backoffMs: (attempt) => Math.min(5_000, 100 * 2 ** (attempt - 1)),
        batchSize: settings.batchSize,
      })
    })

  /** The newest event of this store: scans `$all` backwards past events of other namespaces or the system. */
  const headPosition: Effect.Effect<GlobalPosition, StoreUnavailable> = Effect.suspend(() => {
    const operation = "read the head position"
    const plan = planFilter(undefined, names, settings.checkpointInterval)
    const scan = (
      from: ReadPosition,
      before: GlobalPosition | undefined,
    ): Effect.Effect<GlobalPosition, StoreUnavailable> =>
      Effect.flatMap(
        Effect.mapError(
          call(() =>
            collect(() =>
              client.readAll({
                direction: BACKWARDS,
                fromPosition: from,
                maxCount: headPage,
                filter: plan.server,
                resolveLinkTos: false,
                requiresLeader: true,
              }),
            ),
          ),
          (failure) => toStoreUnavailable(operation, failure),
        ),
        (page) => {
          let last: GlobalPosition | undefined
          for (const resolved of page) {
            const position = positionOf(resolved)
            if (position === undefined || (before !== undefined && position >= before)) continue
            last = position
            const event = resolved.event
            if (event !== undefined && plan.matches(event.streamId, event.type))
              return Effect.succeed(position)
          }
          if (page.length < headPage || last === undefined) return Effect.succeed(StartOfStore)
          return scan(toLogPosition(last), last)
        },
      )
    return scan(END, undefined)
  })

  const sequentially = (requests: ReadonlyArray<StreamAppend>) =>
    Effect.map(
      Effect.forEach(requests, (request) =>
        Effect.map(append(request.streamId, request.events, request.expected), (result) => ({
          streamId: request.streamId,
          result,
        })),
      ),
      (results): AppendManyResult => ({
        atomic: false,
        streams: results.map(({ streamId, result }) => ({ streamId, streamVersion: result.streamVersion })),
        position: results.reduce(
          (max, { result }) => (result.position > max ? result.position : max),
          StartOfStore,
        ),
      }),
    )

  const atomically = (
    requests: ReadonlyArray<StreamAppend>,
  ): Effect.Effect<AppendManyResult, WrongExpectedVersion | StoreUnavailable | "unsupported"> => {
    const operation = `append to streams ${requests.map((request) => request.streamId).join(", ")}`
    return call(() =>
      client.multiStreamAppend(
        requests.map((request) => ({
          streamName: names.toServer(request.streamId),
          events: request.events.map(toPropertiesEventData),
          expectedState: toStreamState(request.expected),
        })),
      ),
    ).pipe(
      Effect.catch(
        (failure: Failure): Effect.Effect<never, WrongExpectedVersion | StoreUnavailable | "unsupported"> => {
          if (failure._tag === "Unsupported") return Effect.fail("unsupported" as const)
          if (failure._tag === "WrongExpectedVersion") {
            const request = requests.find(
              (candidate) => names.toServer(candidate.streamId) === failure.streamName,
            )
            if (request !== undefined)
              return Effect.fail(rejected(request.streamId, request.expected, failure.actual))
          }
          return Effect.fail(toStoreUnavailable(operation, failure))
        },
      ),
      Effect.map((result): AppendManyResult => {
        const versions = new Map(result.responses.map((response) => [response.streamName, response.revision]))
        return {
          atomic: true,
          streams: requests.map((request) => {
            const revision = versions.get(names.toServer(request.streamId))
            return {
              streamId: request.streamId,
              streamVersion: revision === undefined ? 0 : revisionToVersion(revision),
            }
          }),
          position: result.position,
        }
      }),
    )
  }

  const appendMany = (
    requests: ReadonlyArray<StreamAppend>,
    options?: AppendManyOptions,
  ): Effect.Effect<AppendManyResult, WrongExpectedVersion | StoreUnavailable> =>
    Effect.suspend(() => {
      const operation = "append to several streams"
      for (const request of requests) {
        const problem = problemOf(request.streamId, request.events, request.expected)
        if (problem !== undefined) return Effect.fail(invalid(operation, problem))
      }
      const run = (
        plan: AppendManyPlan,
      ): Effect.Effect<AppendManyResult, WrongExpectedVersion | StoreUnavailable> => {
        switch (plan._tag) {
          case "Nothing":
            return Effect.succeed({ atomic: true, streams: [], position: StartOfStore })
          case "Single":
            return Effect.map(
              append(plan.request.streamId, plan.request.events, plan.request.expected),
              (result) => ({
                atomic: true,
                streams: [{ streamId: plan.request.streamId, streamVersion: result.streamVersion }],
                position: result.position,
              }),
            )
          case "Refused":
            return Effect.fail(invalid(operation, plan.why))
          case "Sequential":
            return sequentially(requests)
          case "Atomic":
            return atomically(requests).pipe(
              Effect.tap(() =>
                Effect.sync(() => {
                  capability = "supported"
                }),
              ),
              Effect.catch((error) => {
                if (error !== "unsupported") return Effect.fail(error)
                // The client found appendSession missing from the server's features and sent nothing.
                capability = "unsupported"
                return run(planAppendMany(requests, capability, options?.atomicity ?? "preferred"))
              }),
            )
        }
      }
      return run(planAppendMany(requests, capability, options?.atomicity ?? "preferred"))
    })

  const close: Effect.Effect<void> = Effect.promise(async () => {
    if (closed) return
    closed = true
    await dispose().catch(() => undefined)
  })

  return {
    namespace: names.namespace,
    append,
    readStream,
    readAll,
    subscribe,
    headPosition,
    supportsMultiStreamAppend: Effect.sync(() => capability),
    appendMany,
    close,
  }
}

const optionsProblem = (options: KurrentDbEventStoreOptions): string | undefined =>
  options.namespace === undefined ? undefined : namespaceProblem(options.namespace)

/**
 * The store on a client made by the caller (say, with a credentials provider), who keeps it:
 * `close` does not dispose it. Fails with StoreUnavailable when the options are invalid.
 */
export const fromClient = (
  client: KurrentDbClient,
  options: KurrentDbEventStoreOptions = {},
): Effect.Effect<KurrentDbEventStoreHandle, StoreUnavailable> =>
  Effect.suspend(() => {
    const problem = optionsProblem(options)
    return problem === undefined
      ? Effect.succeed(build(client, settingsOf(options), async () => undefined))
      : Effect.fail(invalid("configure the KurrentDB event store", problem))
  })

/**
 * Connects, checks that the server answers, and returns the store with its `close`; the caller
 * closes it. Fails fast with `KurrentDbStoreOpenError` naming the hosts (never the password) and
 * what is wrong.
 */
export const makeKurrentDbEventStore = (
  config: KurrentDbEventStoreConfig,
): Effect.Effect<KurrentDbEventStoreHandle, KurrentDbStoreOpenError> =>
  Effect.gen(function* () {
    const connectionString = Redacted.isRedacted(config.connectionString)
      ? Redacted.value(config.connectionString)
      : config.connectionString
    const problem = optionsProblem(config)
    if (problem !== undefined) return yield* configurationError(connectionString, problem)
    const { client } = yield* openClient(
      connectionString,
      config.connectTimeoutMs ?? defaults.connectTimeoutMs,
    )
    return build(client, settingsOf(config), () => client.dispose())
  })

/** The store, closed when the scope closes. */
export const make = (
  config: KurrentDbEventStoreConfig,
): Effect.Effect<KurrentDbEventStoreHandle, KurrentDbStoreOpenError, Scope.Scope> =>
  Effect.acquireRelease(makeKurrentDbEventStore(config), (handle) => handle.close)

/** Provides `EventStore` from KurrentDB; the client is disposed when the layer's scope closes. */
export const layer = (config: KurrentDbEventStoreConfig): Layer.Layer<EventStore, KurrentDbStoreOpenError> =>
  Layer.effect(EventStore, Effect.map(make(config), eventStoreServiceOf))
