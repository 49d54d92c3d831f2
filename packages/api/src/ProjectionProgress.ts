/**
 * What the routes know of the projections: how far they are (status, `/ready`, metrics), waiting
 * for a position (read-your-writes), and rebuilds. Two implementations, picked by configuration:
 *
 * - in-process (the default): the projection runner runs in the server; this delegates to it.
 * - worker: a separate process runs the projections (`relata projections run`); the server reads
 *   their checkpoints from the read-model store, the head from the event store, and waits by
 *   polling the checkpoints. What checkpoints cannot tell (a projection or a rebuild that failed,
 *   a worker that is not running) comes from the report the worker writes beside them
 *   (WorkerReport.ts). Rebuilds run in the worker, so asking the server for one answers 409 naming
 *   the worker's command.
 */
import {
  EventStore,
  type EventStoreService,
  type GlobalPosition,
  StartOfStore,
  type StoreUnavailable,
} from "@relata/domain"
import {
  type AnyProjection,
  type ProjectionFailed,
  ProjectionRunner,
  type ProjectionStatus,
  ReadModelStore,
  type ReadModelStoreError,
  type ReadModelStoreService,
  UnknownProjection,
} from "@relata/projections"
import { Clock, Context, Effect, Layer } from "effect"
import type { ProjectionsMode } from "./ApiConfig.ts"
import { RebuildRunsOnWorker } from "./ApiError.ts"
import {
  defaultWorkerStaleAfterMs,
  readWorkerReports,
  type WorkerHealth,
  withWorkerReport,
  workerHealthOf,
} from "./WorkerReport.ts"

export interface ProjectionProgressService {
  /** Where the projections run. */
  readonly mode: ProjectionsMode
  /** Every projection's status, in the order they were given. */
  readonly status: Effect.Effect<ReadonlyArray<ProjectionStatus>, StoreUnavailable | ReadModelStoreError>
  readonly statusOf: (
    name: string,
  ) => Effect.Effect<ProjectionStatus, StoreUnavailable | ReadModelStoreError | UnknownProjection>
  /** Worker mode: whether the worker reports, and why not; undefined in-process (no worker to hear from). */
  readonly worker: Effect.Effect<WorkerHealth | undefined, ReadModelStoreError>
  /**
   * Waits until the read models readers see (of the named projections, or all) include every event
   * up to `position`. Callers bound it with a timeout: in worker mode it polls the checkpoints
   * only, so a stopped worker or projection is never reached and the wait runs out.
   */
  readonly waitFor: (
    position: GlobalPosition,
    options?: { readonly projections?: ReadonlyArray<string> },
  ) => Effect.Effect<void, ProjectionFailed | UnknownProjection | ReadModelStoreError>
  /**
   * Starts a blue/green rebuild that outlives the caller (it runs until it switches or fails) and
   * answers the projection's status right after. In worker mode: RebuildRunsOnWorker naming the
   * worker's command.
   */
  readonly startRebuild: (
    name: string,
  ) => Effect.Effect<
    ProjectionStatus,
    StoreUnavailable | ReadModelStoreError | UnknownProjection | RebuildRunsOnWorker
  >
}

export interface CheckpointPollingOptions {
  /** How often a waiting query reads the checkpoints again. Default 10 ms. */
  readonly pollIntervalMs?: number
  /** The span events/s is measured over. Default 5 seconds. */
  readonly rateWindowMs?: number
  /**
   * How old the worker's newest report may be, by this process's clock, before the worker counts as
   * not reporting. Default 15 seconds: the worker reports every second, and the margin covers clock
   * skew between its machine and this one.
   */
  readonly workerStaleAfterMs?: number
}

export class ProjectionProgress extends Context.Service<ProjectionProgress, ProjectionProgressService>()(
  "@relata/api/ProjectionProgress",
) {
  /** The runner in this process. */
  static readonly inProcess: Layer.Layer<ProjectionProgress, never, ProjectionRunner> = Layer.effect(
    ProjectionProgress,
    Effect.gen(function* () {
      const runner = yield* ProjectionRunner
      const scope = yield* Effect.scope
      return {
        mode: "in-process",
        status: runner.status,
        statusOf: runner.statusOf,
        worker: Effect.succeed(undefined),
        waitFor: runner.waitFor,
        startRebuild: (name) =>
          Effect.gen(function* () {
            const before = yield* runner.statusOf(name)
            // The rebuild lives as long as the runner, not as long as the request that asked for it.
            yield* Effect.forkIn(
              runner
                .rebuild(name)
                .pipe(Effect.catch((error) => Effect.logWarning("rebuild failed", name, error.message))),
              scope,
            )
            yield* Effect.yieldNow
            return yield* runner.statusOf(name).pipe(Effect.orElseSucceed(() => before))
          }),
      } satisfies ProjectionProgressService
    }),
  )

  /** The checkpoints a separate worker keeps in the read-model store. */
  static readonly fromCheckpoints = (
    projections: ReadonlyArray<AnyProjection>,
    options: CheckpointPollingOptions = {},
  ): Layer.Layer<ProjectionProgress, never, EventStore | ReadModelStore> =>
    Layer.effect(
      ProjectionProgress,
      Effect.gen(function* () {
        const eventStore = yield* EventStore
        const readModels = yield* ReadModelStore
        return yield* makeCheckpointProgress(projections, { eventStore, readModels }, options)
      }),
    )
}

/** The projections' progress read from their checkpoints (worker mode). */
const makeCheckpointProgress = (
  projections: ReadonlyArray<AnyProjection>,
  stores: {
    readonly eventStore: EventStoreService
    readonly readModels: ReadModelStoreService
  },
  options: CheckpointPollingOptions,
): Effect.Effect<ProjectionProgressService> =>
  Effect.gen(function* () {
    const { eventStore, readModels } = stores
    const pollIntervalMs = options.pollIntervalMs ?? 10
    const rateWindowMs = options.rateWindowMs ?? 5_000
    const staleAfterMs = options.workerStaleAfterMs ?? defaultWorkerStaleAfterMs
    const names = projections.map((projection) => projection.name)
    const byName = new Map(projections.map((projection) => [projection.name, projection]))
    /** Recent (time, checkpoint) readings per projection and generation, for events/s. */
    const readings = new Map<string, Array<{ readonly at: number; readonly checkpoint: GlobalPosition }>>()

    /** Positions per second over the window, from the readings status calls take. */
    const rateOf = (key: string, now: number, checkpoint: GlobalPosition): number => {
      const list = readings.get(key) ?? []
      list.push({ at: now, checkpoint })
      while (list.length > 1 && (list[0]?.at ?? now) < now - rateWindowMs) list.shift()
      readings.set(key, list)
      const oldest = list[0]
      if (oldest === undefined || now <= oldest.at) return 0
      return (Number(checkpoint - oldest.checkpoint) * 1000) / (now - oldest.at)
    }

    /** Forgets the readings of a projection's generations that are gone. */
    const forgetOthers = (name: string, keep: ReadonlyArray<string>) => {
      for (const key of readings.keys()) {
        if (key.startsWith(`${name}#`) && !keep.includes(key)) readings.delete(key)
      }
    }

    const projectionOf = (name: string) => {
      const projection = byName.get(name)
      return projection === undefined
        ? Effect.fail(new UnknownProjection({ projection: name }))
        : Effect.succeed(projection)
    }

    /** The active generation's checkpoint (StartOfStore before the worker built one). */
    const checkpointOf = (name: string) =>
      Effect.map(readModels.generations(name), (generations) => ({
        generations,
        active: generations.find((g) => g.active),
      }))

    const statusOfProjection = (projection: AnyProjection, head: GlobalPosition, now: number) =>
      Effect.map(checkpointOf(projection.name), ({ generations, active }): ProjectionStatus => {
        const checkpoint = active?.checkpoint ?? StartOfStore
        // A generation newer than the active one is a rebuild the worker has under way.
        const building = generations
          .filter((g) => !g.active && g.generation > (active?.generation ?? 0))
          .at(-1)
        const done = building === undefined ? 0 : Math.min(Number(building.checkpoint), Number(head))
        const liveKey = `${projection.name}#${active?.generation ?? 0}`
        const buildKey = `${projection.name}#${building?.generation ?? 0}`
        forgetOthers(projection.name, [liveKey, buildKey])
        const buildRate = building === undefined ? 0 : rateOf(buildKey, now, building.checkpoint)
        return {
          name: projection.name,
          version: active?.version ?? projection.version,
          generation: active?.generation ?? 0,
          state: building !== undefined ? "rebuilding" : checkpoint < head ? "catching-up" : "running",
          checkpoint,
          headPosition: head,
          lag: head > checkpoint ? head - checkpoint : 0n,
          eventsPerSecond: rateOf(liveKey, now, checkpoint),
          ...(building === undefined
            ? {}
            : {
                rebuild: {
                  generation: building.generation,
                  version: building.version,
                  state: "building" as const,
                  done,
                  total: Number(head),
                  eventsPerSecond: buildRate,
                  etaSeconds: buildRate > 0 ? (Number(head) - done) / buildRate : undefined,
                },
              }),
        }
      })

    const status = Effect.gen(function* () {
      const head = yield* eventStore.headPosition
      const now = yield* Clock.currentTimeMillis
      const reports = yield* readWorkerReports(readModels, names)
      return yield* Effect.forEach(projections, (projection) =>
        Effect.map(statusOfProjection(projection, head, now), (found) =>
          withWorkerReport(found, reports.get(projection.name)),
        ),
      )
    })

    const statusOf = (name: string) =>
      Effect.gen(function* () {
        const projection = yield* projectionOf(name)
        const head = yield* eventStore.headPosition
        const found = yield* statusOfProjection(projection, head, yield* Clock.currentTimeMillis)
        const reports = yield* readWorkerReports(readModels, [name])
        return withWorkerReport(found, reports.get(name))
      })

    const worker = Effect.gen(function* () {
      const reports = yield* readWorkerReports(readModels, names)
      return workerHealthOf(reports.values(), yield* Clock.currentTimeMillis, staleAfterMs)
    })

    // Every waiting request shares one reading of the checkpoints per interval: the store sees one
    // query per projection and interval however many requests wait.
    const activeCheckpoints = yield* Effect.cachedWithTTL(
      Effect.map(
        Effect.forEach(projections, (projection) => checkpointOf(projection.name)),
        (found) =>
          new Map(projections.map((projection, i) => [projection.name, found[i]?.active?.checkpoint])),
      ),
      pollIntervalMs,
    )

    const reached = (names: ReadonlyArray<string>, position: GlobalPosition) =>
      Effect.map(activeCheckpoints, (checkpoints) =>
        names.every((name) => {
          const checkpoint = checkpoints.get(name)
          return checkpoint !== undefined && checkpoint >= position
        }),
      )

    const waitFor: ProjectionProgressService["waitFor"] = (position, waitOptions) =>
      Effect.gen(function* () {
        const waited =
          waitOptions?.projections === undefined
            ? names
            : yield* Effect.forEach(waitOptions.projections, (name) => Effect.as(projectionOf(name), name))
        while (!(yield* reached(waited, position))) yield* Effect.sleep(pollIntervalMs)
      })

    return {
      mode: "worker",
      status,
      statusOf,
      worker,
      waitFor,
      startRebuild: (name) =>
        Effect.andThen(projectionOf(name), new RebuildRunsOnWorker({ projection: name })),
    } satisfies ProjectionProgressService
  })
