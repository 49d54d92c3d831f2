/**
 * The EventStore port in memory: a fake for tests and for embedding the domain without a database.
 * It keeps one ordered log; every call runs synchronously on it, so an append is atomic, and readers
 * walk the log by position, which makes the switch from catch-up to live exact.
 */
import { Array as Arr, Cause, Deferred, Effect, Layer, Stream } from "effect"
import { deepFreeze } from "./DeepFreeze.ts"
import {
  type AppendResult,
  type EventFilter,
  EventStore,
  type EventStoreService,
  type EventToAppend,
  ExpectedVersion,
  type GlobalPosition,
  type JsonObject,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  StartOfStore,
  type StoreUnavailable,
  type StreamVersion,
  type SubscribeOptions,
  WrongExpectedVersion,
} from "./EventStore.ts"

/** The in-memory store plus a test hook that real stores only offer through their database. */
export interface InMemoryEventStoreHandle extends EventStoreService {
  /**
   * Overwrites fields of a stored event in place, behind the store's back, as someone with access to
   * the storage could: lets tests prove that the hash chain detects it. Dies if there is no such event.
   */
  readonly tamper: (
    target: { readonly streamId: string; readonly version: StreamVersion },
    replacement: { readonly type?: string; readonly data?: JsonObject; readonly metadata?: JsonObject },
  ) => Effect.Effect<void>
}

// Events per chunk a read or subscription emits, and log entries one pull examines at most, so a
// filter that matches little cannot hold the fiber for a whole scan of a large log.
const batchSize = 1_000
const scanWindow = 16 * batchSize

const matches = (event: RecordedEvent, filter: EventFilter | undefined): boolean =>
  filter === undefined ||
  ((filter.eventTypes === undefined || filter.eventTypes.includes(event.type)) &&
    (filter.streamPrefix === undefined || event.streamId.startsWith(filter.streamPrefix)))

const toLimit = (limit: number | undefined): number =>
  limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(limit))

/**
 * Stores what a real adapter would give back: a JSON round trip drops what JSON cannot carry, and the
 * copy, frozen, cannot be changed by the writer after the append nor by any reader.
 */
const stored = (json: JsonObject): JsonObject => deepFreeze(JSON.parse(JSON.stringify(json)) as JsonObject)

/** A new, empty in-memory store. */
export const makeInMemoryEventStore = (): InMemoryEventStoreHandle => {
  // log[i] has position i + 1: positions are dense, so a position is also an index.
  const log: Array<RecordedEvent> = []
  const streams = new Map<string, Array<RecordedEvent>>()
  // Created by the first subscriber to wait, completed by the next append: no polling, no lost wake-up,
  // because waiting starts in the same synchronous step that found the log caught up.
  let nextAppend: Deferred.Deferred<void> | undefined

  const headOf = (stream: ReadonlyArray<RecordedEvent> | undefined): AppendResult => {
    const last = stream?.[stream.length - 1]
    return { streamVersion: last?.version ?? 0, position: last?.position ?? StartOfStore }
  }

  const append = (
    streamId: string,
    events: ReadonlyArray<EventToAppend>,
    expected: ExpectedVersion,
  ): Effect.Effect<AppendResult, WrongExpectedVersion | StoreUnavailable> =>
    Effect.suspend(() => {
      const stream = streams.get(streamId)
      const current = stream?.length ?? 0
      if (!ExpectedVersion.isMetBy(expected, current)) {
        return Effect.fail(
          new WrongExpectedVersion({ streamId, expected: ExpectedVersion.format(expected), actual: current }),
        )
      }
      if (events.length === 0) return Effect.succeed(headOf(stream))
      // Copy every event before writing any, so a payload JSON rejects (a cycle, a bigint) leaves no trace.
      const recorded = events.map((event, index) =>
        Object.freeze({
          eventId: event.eventId,
          type: event.type,
          schemaVersion: event.schemaVersion,
          data: stored(event.data),
          metadata: stored(event.metadata),
          streamId,
          version: current + index + 1,
          position: BigInt(log.length + index + 1),
        }),
      )
      const target = stream ?? []
      if (stream === undefined) streams.set(streamId, target)
      for (const event of recorded) {
        log.push(event)
        target.push(event)
      }
      if (nextAppend !== undefined) {
        Deferred.doneUnsafe(nextAppend, Effect.void)
        nextAppend = undefined
      }
      return Effect.succeed(headOf(target))
    })

  const readStream = (
    streamId: string,
    options?: ReadStreamOptions,
  ): Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable> =>
    Effect.sync(() => {
      const stream = streams.get(streamId) ?? []
      const limit = toLimit(options?.limit)
      if (options?.direction === "backwards") {
        const from = Math.min(options.from ?? stream.length, stream.length)
        const start = Math.max(0, from - limit)
        return from < 1 ? [] : stream.slice(start, from).reverse()
      }
      const from = Math.max(1, options?.from ?? 1)
      return stream.slice(from - 1, from - 1 + limit)
    })

  const indexAfter = (position: GlobalPosition): number =>
    position <= StartOfStore ? 0 : position >= BigInt(log.length) ? log.length : Number(position)

  const pages = (
    after: GlobalPosition,
    filter: EventFilter | undefined,
    limit: number,
    live: boolean,
  ): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    Stream.fromPull(
      Effect.sync(() => {
        // The next index of the log to examine; a read ends at the head it found on its first pull.
        let cursor = indexAfter(after)
        const end = live ? Number.POSITIVE_INFINITY : log.length
        let remaining = limit

        const next: Effect.Effect<Arr.NonEmptyReadonlyArray<RecordedEvent>, Cause.Done> = Effect.suspend(
          () => {
            if (remaining <= 0) return Cause.done()
            const head = Math.min(end, log.length)
            if (cursor >= head) {
              if (!live) return Cause.done()
              nextAppend ??= Deferred.makeUnsafe<void>()
              return Effect.andThen(Deferred.await(nextAppend), next)
            }
            const batch: Array<RecordedEvent> = []
            const stop = Math.min(head, cursor + scanWindow)
            const want = Math.min(batchSize, remaining)
            while (cursor < stop && batch.length < want) {
              const event = log[cursor++] as RecordedEvent
              if (matches(event, filter)) batch.push(event)
            }
            if (!Arr.isReadonlyArrayNonEmpty(batch)) return Effect.andThen(Effect.yieldNow, next)
            remaining -= batch.length
            return Effect.succeed(batch)
          },
        )
        return next
      }),
    )

  const readAll = (options?: ReadAllOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    pages(options?.after ?? StartOfStore, options?.filter, toLimit(options?.limit), false)

  const subscribe = (options?: SubscribeOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
    pages(options?.after ?? StartOfStore, options?.filter, Number.POSITIVE_INFINITY, true)

  const headPosition: Effect.Effect<GlobalPosition, StoreUnavailable> = Effect.sync(() => BigInt(log.length))

  const tamper: InMemoryEventStoreHandle["tamper"] = (target, replacement) =>
    Effect.sync(() => {
      const stream = streams.get(target.streamId)
      const original = stream?.[target.version - 1]
      if (stream === undefined || original === undefined) {
        throw new Error(`tamper: no event ${target.streamId}@${target.version}`)
      }
      const changed: RecordedEvent = Object.freeze({
        ...original,
        ...(replacement.type === undefined ? {} : { type: replacement.type }),
        ...(replacement.data === undefined ? {} : { data: stored(replacement.data) }),
        ...(replacement.metadata === undefined ? {} : { metadata: stored(replacement.metadata) }),
      })
      stream[target.version - 1] = changed
      log[Number(original.position) - 1] = changed
    })

  return { append, readStream, readAll, subscribe, headPosition, tamper }
}

/** A new, empty in-memory store as an `EventStore` service. */
export const make: Effect.Effect<EventStoreService> = Effect.sync(() => {
  const { append, readStream, readAll, subscribe, headPosition } = makeInMemoryEventStore()
  return EventStore.of({ append, readStream, readAll, subscribe, headPosition })
})

/** Provides `EventStore` from a new, empty in-memory store each time the layer is built. */
export const layer: Layer.Layer<EventStore> = Layer.effect(EventStore, make)
