/**
 * The projection runner: keeps every projection's read model up to date with the event store.
 *
 * - Each projection has its own checkpoint (per generation, in the ReadModelStore). Its loop
 *   takes the events in batches of up to `batchSize`: behind the head it reads whole batches from
 *   the store, shared with the other loops at the same checkpoint (SharedCatchUp: read, held and
 *   decoded once); from the head on it follows the store's subscription and commits what arrived,
 *   gathering the subscription's pages into a batch should it fall behind again (only while the
 *   head, an event the subscription will deliver, is still ahead, so it never waits for events
 *   that do not exist yet); it never sleeps while behind. For each batch it loads what the events
 *   read, applies them and commits the changes with the new checkpoint in one transaction. A crash
 *   at any instant neither loses nor double-applies an event.
 * - The loop reads all events and filters itself: a filtered subscription says nothing of
 *   the positions it skips, so the checkpoint could not reach the head (and `waitFor` a position of
 *   another stream would never return, nor could a rebuild tell it has caught up).
 * - An event that cannot be decoded or applied stops that projection with ProjectionFailed (the
 *   events before it in the batch are committed); it is never skipped. Other projections go on.
 *   Store failures that can pass are retried with backoff; the attempts reset once a batch commits.
 * - Rebuild (blue/green): a new generation is built from the first event beside the active one,
 *   which keeps serving (and, if the code did not change, keeps following new events). Once the new
 *   one has reached the head it was started against and is not behind the active one, the store
 *   switches readers to it atomically; the old generation's loop stops and its collections go.
 *   When the projection's version changed since the active generation was built, the runner starts
 *   such a rebuild by itself; the old generation serves as it was until the switch.
 * - Every generation the runner creates starts without secondary indexes (bulk load into the
 *   tables alone); once it has reached the head, they are built in one pass each, before the
 *   switch of a rebuild and before `waitFor` hears that a first generation has caught up.
 */
import {
  type EventFilter,
  EventStore,
  type EventStoreService,
  type GlobalPosition,
  type RecordedEvent,
  StartOfStore,
  type StoreUnavailable,
} from "@relata/domain"
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Effect,
  Fiber,
  Layer,
  Predicate,
  Result,
  Schema,
  type Scope,
  Semaphore,
  Stream,
} from "effect"
import type { AnyProjection } from "./Projection.ts"
import {
  type CheckpointConflict,
  type Generation,
  ReadModelStore,
  type ReadModelStoreError,
  type ReadModelStoreService,
} from "./ReadModelStore.ts"
import { makeSharedCatchUp } from "./SharedCatchUp.ts"

// ---------------------------------------------------------------------------------------------
// Status and errors
// ---------------------------------------------------------------------------------------------

/**
 * A projection stopped: at an event it could not decode or apply (`eventType` and `streamId` name
 * it, `position` is its position), or on a store failure that did not pass (`position` is the
 * checkpoint). It restarts only when asked (`restart`), after the cause is fixed.
 */
export class ProjectionFailed extends Schema.TaggedError<ProjectionFailed>()("ProjectionFailed", {
  projection: Schema.String,
  generation: Schema.Number,
  position: Schema.BigInt,
  eventType: Schema.optional(Schema.String),
  streamId: Schema.optional(Schema.String),
  cause: Schema.Defect(),
}) {
  override get message(): string {
    const cause = Predicate.hasProperty(this.cause, "message")
      ? String(this.cause.message)
      : String(this.cause)
    const at =
      this.eventType === undefined
        ? `at checkpoint ${this.position}`
        : `at ${this.eventType} (position ${this.position}, stream ${this.streamId})`
    return `Projection ${this.projection} (generation ${this.generation}) stopped ${at}: ${cause}`
  }
}

/** No projection of that name runs here. */
export class UnknownProjection extends Schema.TaggedError<UnknownProjection>()("UnknownProjection", {
  projection: Schema.String,
}) {
  override get message(): string {
    return `No projection named ${this.projection} runs here`
  }
}

/** running: caught up; catching-up: behind the head; failed: stopped on an error; rebuilding: a new generation is being built. */
export type ProjectionState = "running" | "catching-up" | "failed" | "rebuilding"

/**
 * A rebuild's progress, counted in global positions from the first event to the head the rebuild
 * was started against (events, in stores whose positions have no gaps: in-memory, SQLite).
 */
export interface RebuildProgress {
  readonly generation: number
  readonly version: number
  readonly state: "building" | "switched" | "failed"
  readonly done: number
  readonly total: number
  readonly eventsPerSecond: number
  /** Seconds left at the current rate; undefined before there is a rate. */
  readonly etaSeconds: number | undefined
  readonly failure?: ProjectionFailed
}

export interface ProjectionStatus {
  readonly name: string
  /** The version of the projection's code. */
  readonly version: number
  /** The generation readers see. */
  readonly generation: number
  readonly state: ProjectionState
  /** The checkpoint of the generation readers see. */
  readonly checkpoint: GlobalPosition
  readonly headPosition: GlobalPosition
  readonly lag: bigint
  /** Events per second over the last few seconds. */
  readonly eventsPerSecond: number
  readonly failure?: ProjectionFailed
  /** The rebuild under way, or the last one. */
  readonly rebuild?: RebuildProgress
}

export interface ProjectionRunnerConfig {
  /**
   * The most events one transaction applies. Default 5000. While a projection is behind the head
   * it gathers the store's pages into batches of this size; at the head it commits what arrived.
   */
  readonly batchSize?: number
  /**
   * At the head, the least time between two commits of a projection, in ms. Default 10. Events
   * that arrive meanwhile wait and commit together: each commit costs about the same whatever it
   * holds (a transaction, the pages it rewrites, loading the documents), so under a steady stream
   * of appends one commit per few events would take the thread from the requests that make them.
   * An event arriving after a quiet spell, or while a `waitFor` waits for the projection
   * (read-your-writes), commits at once. 0 commits every arrival at once.
   */
  readonly headCommitIntervalMs?: number
  /** Attempts after a store failure that can pass, before the projection stops. Default 5. */
  readonly transientRetries?: number
  /** The span events/s is measured over. Default 5 seconds. */
  readonly rateWindowMs?: number
}

export interface ProjectionRunnerService {
  /** Every projection's status, in the order they were given. */
  readonly status: Effect.Effect<ReadonlyArray<ProjectionStatus>, StoreUnavailable>
  readonly statusOf: (name: string) => Effect.Effect<ProjectionStatus, StoreUnavailable | UnknownProjection>
  /**
   * Waits until the read models readers see (of the named projections, or all) include every event up
   * to `position`: read-your-writes after a command. Fails at once if one of them has stopped.
   */
  readonly waitFor: (
    position: GlobalPosition,
    options?: { readonly projections?: ReadonlyArray<string> },
  ) => Effect.Effect<void, ProjectionFailed | UnknownProjection>
  /**
   * Builds a new generation of the projection from the first event while the current one serves,
   * switches readers to it when it has caught up, and returns its final progress. Joins a rebuild
   * already under way.
   */
  readonly rebuild: (
    name: string,
  ) => Effect.Effect<
    RebuildProgress,
    ProjectionFailed | UnknownProjection | ReadModelStoreError | StoreUnavailable
  >
  /** Starts the stopped loops of a projection again, from their checkpoints. */
  readonly restart: (name: string) => Effect.Effect<void, UnknownProjection | ReadModelStoreError>
}

export class ProjectionRunner extends Context.Service<ProjectionRunner, ProjectionRunnerService>()(
  "@relata/projections/ProjectionRunner",
) {
  /** Runs the projections for as long as the layer's scope is open. */
  static readonly layer = (
    projections: ReadonlyArray<AnyProjection>,
    config: ProjectionRunnerConfig = {},
  ): Layer.Layer<ProjectionRunner, ReadModelStoreError | StoreUnavailable, EventStore | ReadModelStore> =>
    Layer.effect(
      ProjectionRunner,
      Effect.gen(function* () {
        const eventStore = yield* EventStore
        const readModels = yield* ReadModelStore
        return yield* makeProjectionRunner(projections, { eventStore, readModels }, config)
      }),
    )
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

/** Events per second over a sliding window. */
class RateMeter {
  readonly #window: number
  readonly #createdAt: number
  readonly #samples: Array<{ readonly at: number; readonly count: number }> = []

  constructor(now: number, windowMs: number) {
    this.#createdAt = now
    this.#window = windowMs
  }

  record(now: number, count: number): void {
    this.#samples.push({ at: now, count })
    this.#prune(now)
  }

  rate(now: number): number {
    this.#prune(now)
    const span = Math.min(this.#window, now - this.#createdAt)
    if (span <= 0 || this.#samples.length === 0) return 0
    let count = 0
    for (const sample of this.#samples) count += sample.count
    return (count * 1000) / span
  }

  #prune(now: number): void {
    while (this.#samples.length > 0 && (this.#samples[0]?.at ?? now) <= now - this.#window)
      this.#samples.shift()
  }
}

/** One loop: a fiber that keeps one generation up to date. */
interface Loop {
  readonly generation: number
  checkpoint: GlobalPosition
  /** live: keeps the generation readers see; rebuild: builds the next one. */
  role: "live" | "rebuild"
  readonly meter: RateMeter
  /** When it last committed (the clock's ms): at the head, the next commit waits for the interval. */
  lastCommitAt: number
  failure: ProjectionFailed | undefined
  /** Whether the generation's secondary indexes are known to exist (built once it caught up). */
  indexed: boolean
  /**
   * The head when the loop first looked: reaching it is "caught up" for the indexes, a fixed mark, so
   * steady appends (a new head after every commit) cannot put them off.
   */
  indexAt: GlobalPosition | undefined
  fiber: Fiber.Fiber<void> | undefined
  /** Rebuilds: the head to reach before switching, and the outcome for whoever waits. */
  readonly target: GlobalPosition
  readonly done: Deferred.Deferred<RebuildProgress, ProjectionFailed>
}

interface Slot {
  readonly projection: AnyProjection
  /** The generation readers see and its checkpoint as this runner knows it. */
  activeGeneration: number
  activeCheckpoint: GlobalPosition
  live: Loop | undefined
  rebuild: Loop | undefined
  lastRebuild: RebuildProgress | undefined
  /** Completed (and replaced) whenever the active checkpoint moves or a loop stops: wakes `waitFor`. */
  changed: Deferred.Deferred<void>
  /** How many `waitFor` calls wait for the live loop: while any does, it commits what arrives at once. */
  readersWaiting: number
  /** Completed (and replaced) when a reader starts waiting: ends a commit interval early. */
  readerArrived: Deferred.Deferred<void>
}

/** A failure inside a batch's transaction, at the `index`-th decoded event. */
class ApplyFailed {
  readonly _tag = "ApplyFailed"
  readonly index: number
  readonly cause: unknown
  constructor(index: number, cause: unknown) {
    this.index = index
    this.cause = cause
  }
}

const matches = (event: RecordedEvent, filter: EventFilter | undefined): boolean =>
  filter === undefined ||
  ((filter.eventTypes === undefined || filter.eventTypes.includes(event.type)) &&
    (filter.streamPrefix === undefined || event.streamId.startsWith(filter.streamPrefix)))

const isRetryable = (error: { readonly _tag: string }): boolean =>
  (error._tag === "StoreUnavailable" || error._tag === "ReadModelStoreError") &&
  (error as StoreUnavailable | ReadModelStoreError).retryable

const backoffMs = (attempt: number): number => Math.min(100 * 2 ** (attempt - 1), 5_000)

/** Builds and starts the runner; its loops run until the scope closes. */
export const makeProjectionRunner = (
  projections: ReadonlyArray<AnyProjection>,
  stores: { readonly eventStore: EventStoreService; readonly readModels: ReadModelStoreService },
  config: ProjectionRunnerConfig = {},
): Effect.Effect<ProjectionRunnerService, ReadModelStoreError | StoreUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const { eventStore, readModels } = stores
    const batchSize = config.batchSize ?? 5_000
    const transientRetries = config.transientRetries ?? 5
    const rateWindowMs = config.rateWindowMs ?? 5_000
    const headCommitIntervalMs = config.headCommitIntervalMs ?? 10
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      return yield* Effect.die(new Error(`batchSize must be a whole number >= 1, got ${batchSize}`))
    }
    if (!(headCommitIntervalMs >= 0)) {
      return yield* Effect.die(
        new Error(`headCommitIntervalMs must be a number >= 0, got ${headCommitIntervalMs}`),
      )
    }
    const names = new Set<string>()
    for (const projection of projections) {
      if (names.has(projection.name)) {
        return yield* Effect.die(new Error(`two projections are named ${projection.name}`))
      }
      names.add(projection.name)
    }

    const scope = yield* Effect.scope
    const slots = new Map<string, Slot>()
    const catchUp = makeSharedCatchUp(eventStore, batchSize)

    const notify = (slot: Slot): void => {
      const changed = slot.changed
      slot.changed = Deferred.makeUnsafe<void>()
      Deferred.doneUnsafe(changed, Effect.void)
    }

    const newLoop = (
      generation: Generation,
      role: Loop["role"],
      now: number,
      target: GlobalPosition = StartOfStore,
    ): Loop => ({
      generation: generation.generation,
      checkpoint: generation.checkpoint,
      role,
      meter: new RateMeter(now, rateWindowMs),
      lastCommitAt: Number.NEGATIVE_INFINITY,
      failure: undefined,
      indexed: false,
      indexAt: undefined,
      fiber: undefined,
      target,
      done: Deferred.makeUnsafe<RebuildProgress, ProjectionFailed>(),
    })

    const progressOf = (
      slot: Slot,
      loop: Loop,
      now: number,
      state: RebuildProgress["state"],
    ): RebuildProgress => {
      const total = Number(loop.target)
      const done = Math.min(Number(loop.checkpoint), total)
      const eventsPerSecond = loop.meter.rate(now)
      return {
        generation: loop.generation,
        version: slot.projection.version,
        state,
        done,
        total,
        eventsPerSecond,
        etaSeconds:
          state !== "building" ? 0 : eventsPerSecond > 0 ? (total - done) / eventsPerSecond : undefined,
        ...(loop.failure === undefined ? {} : { failure: loop.failure }),
      }
    }

    // -- one batch ------------------------------------------------------------------------------

    /** Applies decoded events and moves the checkpoint to `checkpoint`, in one transaction. */
    const commit = (
      slot: Slot,
      loop: Loop,
      decoded: ReadonlyArray<{ readonly event: unknown; readonly recorded: RecordedEvent }>,
      checkpoint: GlobalPosition,
    ): Effect.Effect<void, ApplyFailed | ReadModelStoreError | CheckpointConflict> => {
      const projection = slot.projection
      return readModels.transact(
        { projection: projection.name, generation: loop.generation },
        (tx) =>
          Effect.suspend(() => {
            const keys = new Map<string, Array<string>>()
            if (projection.reads !== undefined) {
              for (let i = 0; i < decoded.length; i++) {
                const { event, recorded } = decoded[i] as (typeof decoded)[number]
                try {
                  for (const [collection, id] of projection.reads(event, recorded)) {
                    const ids = keys.get(collection)
                    if (ids === undefined) keys.set(collection, [id])
                    else ids.push(id)
                  }
                } catch (cause) {
                  return Effect.fail(new ApplyFailed(i, cause))
                }
              }
            }
            const apply = Effect.sync(() => {
              for (let i = 0; i < decoded.length; i++) {
                const { event, recorded } = decoded[i] as (typeof decoded)[number]
                try {
                  projection.apply(tx, event, recorded)
                } catch (cause) {
                  return new ApplyFailed(i, cause)
                }
              }
              tx.saveCheckpoint(checkpoint)
              return undefined
            }).pipe(Effect.flatMap((failed) => (failed === undefined ? Effect.void : Effect.fail(failed))))
            return keys.size === 0
              ? apply
              : Effect.andThen(
                  Effect.forEach(keys, ([collection, ids]) => tx.load(collection, ids), { discard: true }),
                  apply,
                )
          }),
        { expectedCheckpoint: loop.checkpoint },
      )
    }

    const eventFailure = (
      slot: Slot,
      loop: Loop,
      recorded: RecordedEvent,
      cause: unknown,
    ): ProjectionFailed =>
      new ProjectionFailed({
        projection: slot.projection.name,
        generation: loop.generation,
        position: recorded.position,
        eventType: recorded.type,
        streamId: recorded.streamId,
        cause,
      })

    /** Builds the generation's secondary indexes, once: the runner creates every generation without them. */
    const buildIndexes = (slot: Slot, loop: Loop): Effect.Effect<void, ReadModelStoreError> =>
      loop.indexed
        ? Effect.void
        : Effect.map(
            readModels.buildIndexes({ projection: slot.projection.name, generation: loop.generation }),
            () => {
              loop.indexed = true
            },
          )

    /**
     * Builds the indexes once the loop has reached the head it first saw. A generation built from the first event
     * gets them in one pass at the end rather than row by row; one that already has them (attached
     * at start) answers at once. Before its readers hear of the checkpoint, so that `waitFor` of the
     * head returns once queries on it are served by its indexes.
     */
    const indexWhenCaughtUp = (
      slot: Slot,
      loop: Loop,
    ): Effect.Effect<void, ReadModelStoreError | StoreUnavailable> =>
      Effect.gen(function* () {
        if (loop.indexed) return
        loop.indexAt ??= yield* eventStore.headPosition
        if (loop.checkpoint >= loop.indexAt) yield* buildIndexes(slot, loop)
      })

    /** After a commit: record progress, wake waiters, and let a rebuild switch when it has caught up. */
    const committed = (slot: Slot, loop: Loop, checkpoint: GlobalPosition, count: number) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        loop.checkpoint = checkpoint
        loop.lastCommitAt = now
        loop.meter.record(now, count)
        yield* indexWhenCaughtUp(slot, loop)
        if (slot.live === loop) {
          slot.activeCheckpoint = checkpoint
          notify(slot)
        }
        if (loop.role === "rebuild") yield* trySwitch(slot, loop)
      })

    /** Decodes, applies and commits one batch; stops at the first event that fails. */
    const applyBatch = (slot: Slot, loop: Loop, events: ReadonlyArray<RecordedEvent>) =>
      Effect.gen(function* () {
        const projection = slot.projection
        const decoded: Array<{ readonly event: unknown; readonly recorded: RecordedEvent }> = []
        let failing: { readonly recorded: RecordedEvent; readonly cause: unknown } | undefined
        for (const recorded of events) {
          if (!matches(recorded, projection.filter)) continue
          const result = catchUp.decode(projection.decode, recorded)
          if (Result.isFailure(result)) {
            failing = { recorded, cause: result.failure }
            break
          }
          decoded.push({ event: result.success, recorded })
        }
        // Everything before the failing event is committed: the checkpoint ends right before it.
        const lastOf = (upTo: RecordedEvent | undefined): GlobalPosition | undefined => {
          if (upTo === undefined) return events[events.length - 1]?.position
          const index = events.indexOf(upTo)
          return index > 0 ? events[index - 1]?.position : undefined
        }
        const commitPrefix = (upTo: RecordedEvent | undefined, items: typeof decoded) =>
          Effect.gen(function* () {
            const checkpoint = lastOf(upTo)
            if (checkpoint === undefined) return
            yield* commit(slot, loop, items, checkpoint)
            const count = upTo === undefined ? events.length : events.indexOf(upTo)
            yield* committed(slot, loop, checkpoint, count)
          })
        const outcome = yield* Effect.result(commitPrefix(failing?.recorded, decoded))
        if (Result.isFailure(outcome)) {
          const error = outcome.failure
          if (!(error instanceof ApplyFailed)) return yield* Effect.fail(error)
          const at = decoded[error.index] as (typeof decoded)[number]
          yield* commitPrefix(at.recorded, decoded.slice(0, error.index)).pipe(
            Effect.catchIf(
              (e): e is ApplyFailed => e instanceof ApplyFailed,
              (e) => Effect.die(e.cause),
            ),
          )
          return yield* Effect.fail(eventFailure(slot, loop, at.recorded, error.cause))
        }
        if (failing !== undefined)
          return yield* Effect.fail(eventFailure(slot, loop, failing.recorded, failing.cause))
      })

    // -- loops ----------------------------------------------------------------------------------

    /** A rebuild that has caught up becomes the generation readers see, atomically. */
    const trySwitch = (slot: Slot, loop: Loop): Effect.Effect<void, ReadModelStoreError> =>
      Effect.gen(function* () {
        if (loop.role !== "rebuild" || loop.checkpoint < loop.target) return
        const name = slot.projection.name
        // Readers never see a generation without its indexes through a switch.
        yield* buildIndexes(slot, loop)
        const switched = yield* readModels.activate(
          { projection: name, generation: loop.generation },
          { ifCaughtUp: true },
        )
        if (!switched) return
        const now = yield* Clock.currentTimeMillis
        const old = slot.live
        const oldGeneration = slot.activeGeneration
        loop.role = "live"
        slot.live = loop
        slot.rebuild = undefined
        slot.activeGeneration = loop.generation
        slot.activeCheckpoint = loop.checkpoint
        const progress = progressOf(slot, loop, now, "switched")
        slot.lastRebuild = progress
        notify(slot)
        if (old?.fiber !== undefined) yield* Fiber.interrupt(old.fiber)
        yield* readModels
          .drop({ projection: name, generation: oldGeneration })
          .pipe(
            Effect.catch((error) =>
              Effect.logWarning(`${name}: old generation ${oldGeneration} not dropped`, error),
            ),
          )
        yield* Effect.logInfo(`${name}: generation ${loop.generation} now serves (was ${oldGeneration})`)
        Deferred.doneUnsafe(loop.done, Effect.succeed(progress))
      })

    const consume = (
      slot: Slot,
      loop: Loop,
    ): Effect.Effect<void, ProjectionFailed | ReadModelStoreError | CheckpointConflict | StoreUnavailable> =>
      Effect.gen(function* () {
        yield* indexWhenCaughtUp(slot, loop)
        yield* trySwitch(slot, loop)
        // Behind the head: whole batches, shared with the other loops at the same checkpoint.
        yield* Effect.gen(function* () {
          for (;;) {
            const batch = yield* catchUp.read(loop, loop.checkpoint)
            if (batch.length > 0) yield* applyBatch(slot, loop, batch)
            if (batch.length < batchSize) return
            // The other loops' turn: those at this checkpoint read the next batch while it is shared.
            yield* Effect.yieldNow
          }
        }).pipe(Effect.ensuring(Effect.sync(() => catchUp.leave(loop))))
        // At the head: the subscription, which goes live.
        const pull = yield* Stream.toPull(eventStore.subscribe({ after: loop.checkpoint }))
        const next = pull.pipe(
          Effect.catchIf(Cause.isDone, () => Effect.succeed<ReadonlyArray<RecordedEvent>>([])),
        )
        for (;;) {
          const chunk = yield* next
          if (chunk.length === 0) return
          // Held back only while no reader waits for this loop (read-your-writes is not made slower).
          const arrived = slot.readerArrived
          const wait = loop.lastCommitAt + headCommitIntervalMs - (yield* Clock.currentTimeMillis)
          if (wait > 0 && !(slot.live === loop && slot.readersWaiting > 0)) {
            yield* Effect.race(Effect.sleep(wait), Deferred.await(arrived))
          }
          // Behind the head (catching up, rebuilding), the store has more events ready: take chunks
          // until a batch is full, so that each transaction applies up to batchSize events rather
          // than the store's page. Each commit rewrites every index page the batch touched, so
          // fewer, larger transactions write far less. At the head, the batch commits at once.
          let batch: ReadonlyArray<RecordedEvent> = chunk
          if (batch.length < batchSize) {
            const head = yield* eventStore.headPosition
            const gathered = [...chunk]
            while (
              gathered.length < batchSize &&
              (gathered[gathered.length - 1] as RecordedEvent).position < head
            ) {
              const more = yield* next
              if (more.length === 0) break
              for (const event of more) gathered.push(event)
            }
            batch = gathered
          }
          for (let start = 0; start < batch.length; start += batchSize) {
            yield* applyBatch(slot, loop, batch.slice(start, start + batchSize))
          }
        }
      }).pipe(Effect.scoped)

    const stop = (slot: Slot, loop: Loop, failure: ProjectionFailed) =>
      Effect.gen(function* () {
        loop.failure = failure
        if (loop.role === "rebuild") {
          slot.lastRebuild = progressOf(slot, loop, yield* Clock.currentTimeMillis, "failed")
          Deferred.doneUnsafe(loop.done, Effect.fail(failure))
        }
        notify(slot)
        yield* Effect.logError(failure.message)
      })

    /** Runs a loop until it is interrupted or stops: retries what can pass, resumes after a conflict. */
    const supervise = (slot: Slot, loop: Loop): Effect.Effect<void> => {
      let attempts = 0
      let failedAt: GlobalPosition | undefined
      const storeFailure = (cause: unknown) =>
        new ProjectionFailed({
          projection: slot.projection.name,
          generation: loop.generation,
          position: loop.checkpoint,
          cause,
        })
      const attempt = (): Effect.Effect<void> =>
        consume(slot, loop).pipe(
          Effect.catch((error): Effect.Effect<void> => {
            switch (error._tag) {
              case "ProjectionFailed":
                return stop(slot, loop, error)
              case "CheckpointConflict":
                // Another runner moved this generation on: carry on from where it got to.
                return Effect.logWarning(error.message).pipe(
                  Effect.andThen(() => {
                    loop.checkpoint = error.actual
                    if (slot.live === loop) {
                      slot.activeCheckpoint = error.actual
                      notify(slot)
                    }
                    return attempt()
                  }),
                )
              default: {
                if (failedAt !== loop.checkpoint) attempts = 0
                failedAt = loop.checkpoint
                attempts++
                if (!isRetryable(error) || attempts > transientRetries)
                  return stop(slot, loop, storeFailure(error))
                return Effect.logWarning(`${slot.projection.name}: retrying after ${error.message}`).pipe(
                  Effect.andThen(Effect.sleep(backoffMs(attempts))),
                  Effect.andThen(attempt),
                )
              }
            }
          }),
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.failCause(cause)
              : stop(slot, loop, storeFailure(Cause.squash(cause))),
          ),
        )
      return Effect.suspend(attempt)
    }

    const startLoop = (slot: Slot, loop: Loop) =>
      Effect.map(Effect.forkIn(supervise(slot, loop), scope), (fiber) => {
        loop.fiber = fiber
      })

    // -- start ----------------------------------------------------------------------------------

    const start = (projection: AnyProjection) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const generations = yield* readModels.generations(projection.name)
        const active = generations.find((g) => g.active)
        // A rebuild for this version that a stop interrupted resumes where it was.
        const pending =
          active?.version === projection.version
            ? undefined
            : generations.find((g) => !g.active && g.version === projection.version)
        for (const g of generations) {
          if (!g.active && g !== pending) yield* readModels.drop(g)
        }
        const slot: Slot = {
          projection,
          activeGeneration: 0,
          activeCheckpoint: StartOfStore,
          live: undefined,
          rebuild: undefined,
          lastRebuild: undefined,
          changed: Deferred.makeUnsafe<void>(),
          readersWaiting: 0,
          readerArrived: Deferred.makeUnsafe<void>(),
        }
        if (active !== undefined && active.version === projection.version) {
          const attached = yield* readModels.attach(projection, active.generation)
          slot.activeGeneration = attached.generation
          slot.activeCheckpoint = attached.checkpoint
          slot.live = newLoop(attached, "live", now)
        } else {
          const generation =
            pending === undefined
              ? yield* readModels.createGeneration(projection, { deferIndexes: true })
              : yield* readModels.attach(projection, pending.generation)
          if (active === undefined) {
            // Nothing serves yet: the first generation serves at once, while it catches up.
            yield* readModels.activate(generation)
            slot.activeGeneration = generation.generation
            slot.activeCheckpoint = generation.checkpoint
            slot.live = newLoop(generation, "live", now)
          } else {
            slot.activeGeneration = active.generation
            slot.activeCheckpoint = active.checkpoint
            slot.rebuild = newLoop(generation, "rebuild", now, yield* eventStore.headPosition)
            yield* Effect.logInfo(
              `${projection.name}: version ${projection.version} replaces ${active.version}; rebuilding generation ${generation.generation}`,
            )
          }
        }
        slots.set(projection.name, slot)
      })

    yield* Effect.forEach(projections, start, { discard: true })
    for (const slot of slots.values()) {
      if (slot.live !== undefined) yield* startLoop(slot, slot.live)
      if (slot.rebuild !== undefined) yield* startLoop(slot, slot.rebuild)
    }

    // -- the service ----------------------------------------------------------------------------

    const slotOf = (name: string): Effect.Effect<Slot, UnknownProjection> => {
      const slot = slots.get(name)
      return slot === undefined
        ? Effect.fail(new UnknownProjection({ projection: name }))
        : Effect.succeed(slot)
    }

    /** The failure that stops what readers see from moving on, if any. */
    const servingFailure = (slot: Slot): ProjectionFailed | undefined =>
      slot.live !== undefined ? slot.live.failure : slot.rebuild?.failure

    const statusOfSlot = (slot: Slot, head: GlobalPosition, now: number): ProjectionStatus => {
      const failure = servingFailure(slot)
      const rebuilding = slot.rebuild !== undefined && slot.rebuild.failure === undefined
      const checkpoint = slot.activeCheckpoint
      const rebuild =
        slot.rebuild !== undefined
          ? progressOf(slot, slot.rebuild, now, slot.rebuild.failure === undefined ? "building" : "failed")
          : slot.lastRebuild
      return {
        name: slot.projection.name,
        version: slot.projection.version,
        generation: slot.activeGeneration,
        state:
          failure !== undefined
            ? "failed"
            : rebuilding
              ? "rebuilding"
              : checkpoint < head
                ? "catching-up"
                : "running",
        checkpoint,
        headPosition: head,
        lag: head > checkpoint ? head - checkpoint : 0n,
        eventsPerSecond: slot.live?.meter.rate(now) ?? 0,
        ...(failure === undefined ? {} : { failure }),
        ...(rebuild === undefined ? {} : { rebuild }),
      }
    }

    const status = Effect.gen(function* () {
      const head = yield* eventStore.headPosition
      const now = yield* Clock.currentTimeMillis
      return [...slots.values()].map((slot) => statusOfSlot(slot, head, now))
    })

    const statusOf = (name: string) =>
      Effect.gen(function* () {
        const slot = yield* slotOf(name)
        const head = yield* eventStore.headPosition
        return statusOfSlot(slot, head, yield* Clock.currentTimeMillis)
      })

    const awaitCheckpoint = (slot: Slot, position: GlobalPosition): Effect.Effect<void, ProjectionFailed> =>
      Effect.suspend(() => {
        if (slot.activeCheckpoint >= position) return Effect.void
        const failure = servingFailure(slot)
        if (failure !== undefined) return Effect.fail(failure)
        return Effect.andThen(Deferred.await(slot.changed), awaitCheckpoint(slot, position))
      })

    const waitForSlot = (slot: Slot, position: GlobalPosition): Effect.Effect<void, ProjectionFailed> =>
      Effect.suspend(() => {
        if (slot.activeCheckpoint >= position) return Effect.void
        return Effect.acquireUseRelease(
          Effect.sync(() => {
            slot.readersWaiting++
            const arrived = slot.readerArrived
            slot.readerArrived = Deferred.makeUnsafe<void>()
            Deferred.doneUnsafe(arrived, Effect.void)
          }),
          () => awaitCheckpoint(slot, position),
          () =>
            Effect.sync(() => {
              slot.readersWaiting--
            }),
        )
      })

    const waitFor: ProjectionRunnerService["waitFor"] = (position, options) =>
      Effect.gen(function* () {
        const selected =
          options?.projections === undefined
            ? [...slots.values()]
            : yield* Effect.forEach(options.projections, slotOf)
        yield* Effect.forEach(selected, (slot) => waitForSlot(slot, position), { discard: true })
      })

    // Checking for a running rebuild and starting one must not interleave: two callers could each
    // drop the generation the other just created.
    const rebuildStart = Semaphore.makeUnsafe(1)

    const rebuild: ProjectionRunnerService["rebuild"] = (name) =>
      Effect.gen(function* () {
        const slot = yield* slotOf(name)
        const loop = yield* rebuildStart.withPermit(
          Effect.gen(function* () {
            const running = slot.rebuild
            if (running !== undefined && running.failure === undefined) return running
            if (running !== undefined) {
              if (running.fiber !== undefined) yield* Fiber.interrupt(running.fiber)
              slot.rebuild = undefined
            }
            for (const g of yield* readModels.generations(name)) {
              if (!g.active) yield* readModels.drop(g)
            }
            const head = yield* eventStore.headPosition
            const generation = yield* readModels.createGeneration(slot.projection, { deferIndexes: true })
            const started = newLoop(generation, "rebuild", yield* Clock.currentTimeMillis, head)
            slot.rebuild = started
            yield* Effect.logInfo(
              `${name}: rebuilding generation ${generation.generation} up to position ${head}`,
            )
            yield* startLoop(slot, started)
            return started
          }),
        )
        return yield* Deferred.await(loop.done)
      })

    const restart: ProjectionRunnerService["restart"] = (name) =>
      Effect.gen(function* () {
        const slot = yield* slotOf(name)
        const now = yield* Clock.currentTimeMillis
        const generations = yield* readModels.generations(name)
        for (const role of ["live", "rebuild"] as const) {
          const loop = slot[role]
          if (loop?.failure === undefined) continue
          const stored = generations.find((g) => g.generation === loop.generation)
          if (stored === undefined) continue
          const fresh = newLoop(stored, role, now, loop.target)
          slot[role] = fresh
          yield* startLoop(slot, fresh)
        }
        notify(slot)
      })

    return { status, statusOf, waitFor, rebuild, restart } satisfies ProjectionRunnerService
  })
