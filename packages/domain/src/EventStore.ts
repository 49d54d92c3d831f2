/**
 * The EventStore port: the one interface every event store adapter implements
 * (in-memory, SQLite, PostgreSQL, KurrentDB). Callers never branch on the adapter.
 */
import { Context, type Effect, Schema, type Stream } from "effect"

/** A stream's version is the number of events in it: the first event has version 1, an empty stream 0. */
export type StreamVersion = number

/**
 * The store-wide position of an event. Strictly increasing in commit order and greater than
 * StartOfStore, but not necessarily contiguous: a store may skip numbers (a rolled-back sequence
 * value in PostgreSQL; KurrentDB's positions are byte offsets). A bigint because KurrentDB's commit positions exceed 2^53.
 */
export type GlobalPosition = bigint

/** The position before the first event: read or subscribe `after` it to see everything. */
export const StartOfStore: GlobalPosition = 0n

/** What the writer believes about the stream it appends to. */
export type ExpectedVersion =
  | { readonly _tag: "NoStream" }
  | { readonly _tag: "StreamExists" }
  | { readonly _tag: "Any" }
  | { readonly _tag: "Exact"; readonly version: StreamVersion }

export const ExpectedVersion = {
  noStream: { _tag: "NoStream" } as ExpectedVersion,
  streamExists: { _tag: "StreamExists" } as ExpectedVersion,
  any: { _tag: "Any" } as ExpectedVersion,
  exact: (version: StreamVersion): ExpectedVersion => ({ _tag: "Exact", version }),
  /** Whether a stream at `current` (0 when it does not exist) meets the expectation. */
  isMetBy: (expected: ExpectedVersion, current: StreamVersion): boolean => {
    switch (expected._tag) {
      case "Any":
        return true
      case "NoStream":
        return current === 0
      case "StreamExists":
        return current > 0
      case "Exact":
        return current === expected.version
    }
  },
  /** Human-readable form used in errors and logs: "no stream", "stream exists", "any", "7". */
  format: (expected: ExpectedVersion): string => {
    switch (expected._tag) {
      case "NoStream":
        return "no stream"
      case "StreamExists":
        return "stream exists"
      case "Any":
        return "any"
      case "Exact":
        return String(expected.version)
    }
  },
} as const

/** JSON as stored: event data and metadata are plain JSON values, already encoded by their schemas. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type JsonObject = { readonly [key: string]: Json }

/** An event as the writer hands it to the store. */
export interface EventToAppend {
  /**
   * Unique within its stream; a store may use it to recognise a retried append (KurrentDB accepts such
   * a repeat as a retry). The SQLite and PostgreSQL stores reject an append that repeats an id already
   * in its stream, or twice in itself (decision 0018).
   */
  readonly eventId: string
  readonly type: string
  readonly schemaVersion: number
  readonly data: JsonObject
  readonly metadata: JsonObject
}

/** An event as the store returns it. */
export interface RecordedEvent extends EventToAppend {
  readonly streamId: string
  readonly version: StreamVersion
  readonly position: GlobalPosition
}

export interface AppendResult {
  /** The stream's version after the append: the version of its last event. */
  readonly streamVersion: StreamVersion
  /**
   * The global position of the last event appended. An empty append returns the position of the
   * stream's last event (StartOfStore when it has none), so it still serves as a read-your-writes token.
   */
  readonly position: GlobalPosition
}

export interface ReadStreamOptions {
  /** First version to return (inclusive). Forwards defaults to 1; backwards defaults to the last event. */
  readonly from?: StreamVersion
  readonly direction?: "forwards" | "backwards"
  readonly limit?: number
}

/** Which events a global read or subscription delivers. All given conditions must hold. */
export interface EventFilter {
  /** The event's type is one of these; an empty list matches no event. */
  readonly eventTypes?: ReadonlyArray<string>
  /** The stream id starts with this exact, case-sensitive text (no wildcards). */
  readonly streamPrefix?: string
}

export interface ReadAllOptions {
  /** Deliver events whose position is strictly greater than this; defaults to StartOfStore. */
  readonly after?: GlobalPosition
  readonly filter?: EventFilter
  readonly limit?: number
}

export interface SubscribeOptions {
  /** Deliver events whose position is strictly greater than this; defaults to StartOfStore. */
  readonly after?: GlobalPosition
  readonly filter?: EventFilter
}

/** The stream's current version differs from what the writer expected; nothing was written. */
export class WrongExpectedVersion extends Schema.TaggedError<WrongExpectedVersion>()("WrongExpectedVersion", {
  streamId: Schema.String,
  /** The expectation as `ExpectedVersion.format` writes it. */
  expected: Schema.String,
  /** The stream's real current version (0 when it does not exist). */
  actual: Schema.Number,
}) {
  override get message(): string {
    return `Stream ${this.streamId}: expected version ${this.expected}, but it is at ${this.actual}`
  }
}

/** The store cannot be reached or failed; `retryable` says whether trying again can help. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  reason: Schema.String,
  retryable: Schema.Boolean,
  cause: Schema.optional(Schema.Defect()),
}) {
  override get message(): string {
    return `Event store unavailable: ${this.reason}`
  }
}

export interface EventStoreService {
  /**
   * Appends all events to one stream atomically, or none: the expected version is checked in the
   * same transaction. An empty `events` array only checks the expectation.
   */
  readonly append: (
    streamId: string,
    events: ReadonlyArray<EventToAppend>,
    expected: ExpectedVersion,
  ) => Effect.Effect<AppendResult, WrongExpectedVersion | StoreUnavailable>

  /** Events of one stream in version order (or reverse). A missing stream reads as empty. */
  readonly readStream: (
    streamId: string,
    options?: ReadStreamOptions,
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable>

  /** Every event in global order after a position, then ends. */
  readonly readAll: (options?: ReadAllOptions) => Stream.Stream<RecordedEvent, StoreUnavailable>

  /**
   * Catches up from a position, then goes live, never ending by itself: every matching event
   * exactly once, in global order, across the switch from catch-up to live.
   */
  readonly subscribe: (options?: SubscribeOptions) => Stream.Stream<RecordedEvent, StoreUnavailable>

  /** The position of the newest event in the store (StartOfStore when empty). */
  readonly headPosition: Effect.Effect<GlobalPosition, StoreUnavailable>
}

export class EventStore extends Context.Service<EventStore, EventStoreService>()(
  "@relata/domain/EventStore",
) {}

/**
 * Just the port's methods of a richer adapter handle (one that also has `close`, a path, a schema...),
 * so a layer hands out the service without the owner's controls.
 */
export const eventStoreServiceOf = ({
  append,
  readStream,
  readAll,
  subscribe,
  headPosition,
}: EventStoreService): EventStoreService =>
  EventStore.of({ append, readStream, readAll, subscribe, headPosition })
