/**
 * The command handler: load a stream (latest snapshot plus the events after it), decide, append with
 * the expected version, and on a conflict reload and decide again. Events carry the command's
 * metadata and a hash chaining them to the stream's previous event. A command whose id was already
 * applied to the stream returns its original result and appends nothing.
 */
import { Clock, Effect, Result, Schedule, Schema } from "effect"
import type { Decider } from "./Decider.ts"
import {
  type EventStoreService,
  type EventToAppend,
  ExpectedVersion,
  type GlobalPosition,
  type JsonObject,
  type RecordedEvent,
  StartOfStore,
  type StoreUnavailable,
  type StreamVersion,
  WrongExpectedVersion,
} from "./EventStore.ts"
import { type ChainTip, chainTipOf, GenesisTip, withChainHashes } from "./HashChain.ts"
import { deterministicEventId } from "./internal/eventId.ts"
import type { Snapshot, SnapshotStoreService } from "./SnapshotStore.ts"

/** How the handler stores one decider's events: streams, codecs and per-command metadata. */
export interface EventSourcedModel<Command, Event, State, RuleViolation, DecodeError> {
  readonly decider: Decider<Command, Event, State, RuleViolation>
  readonly streamIdOf: (command: Command) => string
  readonly commandIdOf: (command: Command) => string
  readonly encodeEvent: (event: Event) => {
    readonly type: string
    readonly schemaVersion: number
    readonly data: JsonObject
  }
  readonly decodeEvent: (recorded: RecordedEvent) => Result.Result<Event, DecodeError>
  /** Metadata every event of the command's decision carries (actor, reason, correlation, effective time...). */
  readonly metadataOf: (command: Command) => JsonObject
  /** How to keep the state in a snapshot; without it the handler never snapshots. */
  readonly snapshot?: {
    readonly stateSchemaVersion: number
    readonly encode: (state: State) => JsonObject
    readonly decode: (json: JsonObject) => Result.Result<State, unknown>
  }
}

export interface CommandHandlerConfig {
  /** Attempts after a conflict (the stream moved on between load and append) before giving up. Default 5. */
  readonly maxConflictRetries?: number
  /** Attempts after a retryable store failure, with exponential backoff. Default 3. */
  readonly maxTransientRetries?: number
  /** Take a snapshot whenever the stream crosses a multiple of this many events. Default 100. */
  readonly snapshotEvery?: number
  /** Commands remembered in a snapshot for idempotency, besides those after it. Default 100. */
  readonly idempotencyWindow?: number
}

export interface HandleOptions {
  /**
   * The version the caller last saw (HTTP If-Match). When given, a stream that moved on fails with
   * WrongExpectedVersion at once instead of being retried: the caller decided on stale data.
   */
  readonly expectedVersion?: StreamVersion
}

/** What a handled command did. */
export interface CommandResult<Event, State> {
  readonly streamId: string
  /** The events the command appended, or, when `replayed`, the events it appended the first time. */
  readonly events: ReadonlyArray<Event>
  /** The stream's version after the command (for a replay, right after its first run). */
  readonly streamVersion: StreamVersion
  /** Global position of the command's last event; for a command that emitted nothing, of the stream's last event. */
  readonly position: GlobalPosition
  /** The stream's current state. */
  readonly state: State
  /** True when the command id had been applied before: nothing was appended this time. */
  readonly replayed: boolean
}

/** A stored event could not be read back: the stream cannot be decided on until it is fixed or upcast. */
export class StoredEventUnreadable extends Schema.TaggedError<StoredEventUnreadable>()(
  "StoredEventUnreadable",
  {
    streamId: Schema.String,
    version: Schema.Number,
    type: Schema.String,
    cause: Schema.Defect(),
  },
) {
  override get message(): string {
    return `Event ${this.type} at version ${this.version} of ${this.streamId} cannot be read`
  }
}

export type CommandHandlerError<RuleViolation> =
  | RuleViolation
  | WrongExpectedVersion
  | StoreUnavailable
  | StoredEventUnreadable

export interface CommandHandler<Command, Event, State, RuleViolation> {
  readonly handle: (
    command: Command,
    options?: HandleOptions,
  ) => Effect.Effect<CommandResult<Event, State>, CommandHandlerError<RuleViolation>>
  /** The stream's current state and version, as the handler sees it before deciding. */
  readonly load: (
    streamId: string,
  ) => Effect.Effect<
    { readonly state: State; readonly version: StreamVersion },
    StoreUnavailable | StoredEventUnreadable
  >
}

/** Where a command's events sit in its stream. */
interface AppliedCommand {
  readonly fromVersion: StreamVersion
  readonly toVersion: StreamVersion
  readonly position: GlobalPosition
}

interface LoadedStream<State> {
  readonly state: State
  readonly version: StreamVersion
  readonly position: GlobalPosition
  readonly tip: ChainTip
  readonly commands: ReadonlyMap<string, AppliedCommand>
  /** Events loaded after the snapshot (all of them without one), oldest first. */
  readonly events: ReadonlyArray<RecordedEvent>
}

/** What a snapshot keeps besides the state: enough to chain, position and deduplicate as if fully loaded. */
const SnapshotBookkeeping = Schema.Struct({
  tipHash: Schema.String,
  position: Schema.String.check(Schema.isPattern(/^\d+$/)),
  commands: Schema.Array(
    Schema.Tuple([
      Schema.String,
      Schema.Number,
      Schema.Number,
      Schema.String.check(Schema.isPattern(/^\d+$/)),
    ]),
  ),
})
type SnapshotBookkeeping = typeof SnapshotBookkeeping.Type
const decodeBookkeeping = Schema.decodeUnknownResult(SnapshotBookkeeping)

type Tagged = { readonly _tag: string }

const isRetryableStoreFailure = (error: Tagged): boolean =>
  error._tag === "StoreUnavailable" && (error as StoreUnavailable).retryable

const isConflict = (error: Tagged): boolean => error._tag === "WrongExpectedVersion"

/** Builds a command handler for a model over an event store and, optionally, a snapshot store. */
export const makeCommandHandler = <Command, Event, State, RuleViolation extends Tagged, DecodeError>(
  model: EventSourcedModel<Command, Event, State, RuleViolation, DecodeError>,
  stores: { readonly eventStore: EventStoreService; readonly snapshotStore?: SnapshotStoreService },
  config: CommandHandlerConfig = {},
): CommandHandler<Command, Event, State, RuleViolation> => {
  const { eventStore, snapshotStore } = stores
  const maxConflictRetries = config.maxConflictRetries ?? 5
  const maxTransientRetries = config.maxTransientRetries ?? 3
  const snapshotEvery = config.snapshotEvery ?? 100
  const idempotencyWindow = config.idempotencyWindow ?? 100
  const snapshotting =
    model.snapshot !== undefined && snapshotStore !== undefined ? model.snapshot : undefined

  const decodeAll = (streamId: string, recorded: ReadonlyArray<RecordedEvent>) =>
    Effect.suspend(() => {
      const events: Array<Event> = []
      for (const event of recorded) {
        const decoded = model.decodeEvent(event)
        if (Result.isFailure(decoded)) {
          return Effect.fail(
            new StoredEventUnreadable({
              streamId,
              version: event.version,
              type: event.type,
              cause: decoded.failure,
            }),
          )
        }
        events.push(decoded.success)
      }
      return Effect.succeed(events)
    })

  const fold = (streamId: string, start: LoadedStream<State>, recorded: ReadonlyArray<RecordedEvent>) =>
    Effect.map(decodeAll(streamId, recorded), (events): LoadedStream<State> => {
      let state = start.state
      for (const event of events) state = model.decider.evolve(state, event)
      const commands = new Map(start.commands)
      for (const event of recorded) {
        const commandId = event.metadata.commandId
        if (typeof commandId !== "string") continue
        const seen = commands.get(commandId)
        commands.set(commandId, {
          fromVersion: seen?.fromVersion ?? event.version,
          toVersion: event.version,
          position: event.position,
        })
      }
      const last = recorded.at(-1)
      if (last === undefined) return { ...start, events: recorded }
      return {
        state,
        version: last.version,
        position: last.position,
        tip: chainTipOf(last) ?? { version: last.version, hash: "" },
        commands,
        events: recorded,
      }
    })

  const fromSnapshot = (snapshot: Snapshot | undefined): LoadedStream<State> | undefined => {
    if (snapshot === undefined || snapshotting === undefined) return undefined
    const state = snapshotting.decode(snapshot.state.state as JsonObject)
    if (Result.isFailure(state)) return undefined
    const book = decodeBookkeeping(snapshot.state.bookkeeping)
    // Written by another tool or an older release: fold the stream from the start instead.
    if (Result.isFailure(book)) return undefined
    return {
      state: state.success,
      version: snapshot.version,
      position: BigInt(book.success.position),
      tip: { version: snapshot.version, hash: book.success.tipHash },
      commands: new Map(
        book.success.commands.map(([id, fromVersion, toVersion, position]) => [
          id,
          { fromVersion, toVersion, position: BigInt(position) },
        ]),
      ),
      events: [],
    }
  }

  const empty: LoadedStream<State> = {
    state: model.decider.initialState,
    version: 0,
    position: StartOfStore,
    tip: GenesisTip,
    commands: new Map(),
    events: [],
  }

  const loadStream = (streamId: string) =>
    Effect.gen(function* () {
      const snapshot =
        snapshotting === undefined || snapshotStore === undefined
          ? undefined
          : fromSnapshot(yield* snapshotStore.load(streamId, snapshotting.stateSchemaVersion))
      const start = snapshot ?? empty
      const recorded = yield* eventStore.readStream(streamId, { from: start.version + 1 })
      return yield* fold(streamId, start, recorded)
    })

  const saveSnapshot = (streamId: string, loaded: LoadedStream<State>) => {
    if (snapshotting === undefined || snapshotStore === undefined) return Effect.void
    const recent = [...loaded.commands].slice(-idempotencyWindow)
    const bookkeeping: SnapshotBookkeeping = {
      tipHash: loaded.tip.hash,
      position: loaded.position.toString(),
      commands: recent.map(([id, c]) => [id, c.fromVersion, c.toVersion, c.position.toString()] as const),
    }
    return snapshotStore
      .save({
        streamId,
        version: loaded.version,
        stateSchemaVersion: snapshotting.stateSchemaVersion,
        state: {
          state: snapshotting.encode(loaded.state),
          bookkeeping: bookkeeping as unknown as JsonObject,
        },
      })
      .pipe(
        // A snapshot is an optimisation: failing to save one must not fail a command that was appended.
        Effect.catch((error) => Effect.logWarning("snapshot not saved", streamId, error.message)),
      )
  }

  /** The result a command produced the first time it ran, rebuilt from the stream. */
  const replay = (streamId: string, loaded: LoadedStream<State>, applied: AppliedCommand) =>
    Effect.gen(function* () {
      const inLoaded = loaded.events.filter(
        (e) => e.version >= applied.fromVersion && e.version <= applied.toVersion,
      )
      const recorded =
        inLoaded.length === applied.toVersion - applied.fromVersion + 1
          ? inLoaded
          : yield* eventStore.readStream(streamId, {
              from: applied.fromVersion,
              limit: applied.toVersion - applied.fromVersion + 1,
            })
      const events = yield* decodeAll(streamId, recorded)
      return {
        streamId,
        events,
        streamVersion: applied.toVersion,
        position: applied.position,
        state: loaded.state,
        replayed: true,
      } satisfies CommandResult<Event, State>
    })

  const attempt = (command: Command, options: HandleOptions) =>
    Effect.gen(function* () {
      const streamId = model.streamIdOf(command)
      const commandId = model.commandIdOf(command)
      const loaded = yield* loadStream(streamId)

      const applied = loaded.commands.get(commandId)
      if (applied !== undefined) return yield* replay(streamId, loaded, applied)

      if (options.expectedVersion !== undefined && options.expectedVersion !== loaded.version) {
        return yield* new WrongExpectedVersion({
          streamId,
          expected: String(options.expectedVersion),
          actual: loaded.version,
        })
      }

      const decision = model.decider.decide(command, loaded.state)
      if (Result.isFailure(decision)) return yield* Effect.fail(decision.failure)
      const events = decision.success
      if (events.length === 0) {
        return {
          streamId,
          events,
          streamVersion: loaded.version,
          position: loaded.position,
          state: loaded.state,
          replayed: false,
        } satisfies CommandResult<Event, State>
      }

      const recordedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
      const metadata: JsonObject = { ...model.metadataOf(command), commandId, recordedAt }
      const toAppend: Array<EventToAppend> = events.map((event, index) => ({
        eventId: deterministicEventId(streamId, commandId, index),
        ...model.encodeEvent(event),
        metadata,
      }))
      const expected = loaded.version === 0 ? ExpectedVersion.noStream : ExpectedVersion.exact(loaded.version)
      const appended = yield* eventStore.append(
        streamId,
        withChainHashes(streamId, loaded.tip, toAppend),
        expected,
      )

      let state = loaded.state
      for (const event of events) state = model.decider.evolve(state, event)
      if (Math.floor(appended.streamVersion / snapshotEvery) > Math.floor(loaded.version / snapshotEvery)) {
        // Fold the appended events' bookkeeping in the same way a later load would.
        const after = yield* eventStore.readStream(streamId, { from: loaded.version + 1 })
        yield* fold(streamId, loaded, after).pipe(
          Effect.flatMap((next) => saveSnapshot(streamId, next)),
          Effect.catch((error) => Effect.logWarning("snapshot not taken", streamId, error.message)),
        )
      }
      return {
        streamId,
        events,
        streamVersion: appended.streamVersion,
        position: appended.position,
        state,
        replayed: false,
      } satisfies CommandResult<Event, State>
    })

  const conflictBackoff = Schedule.exponential("5 millis").pipe(Schedule.jittered)
  const transientBackoff = Schedule.exponential("50 millis").pipe(Schedule.jittered)

  return {
    handle: (command, options = {}) =>
      attempt(command, options).pipe(
        Effect.retry({
          schedule: transientBackoff,
          times: maxTransientRetries,
          while: isRetryableStoreFailure,
        }),
        Effect.retry({
          schedule: conflictBackoff,
          times: options.expectedVersion === undefined ? maxConflictRetries : 0,
          while: isConflict,
        }),
      ),
    load: (streamId) =>
      loadStream(streamId).pipe(Effect.map((loaded) => ({ state: loaded.state, version: loaded.version }))),
  }
}
