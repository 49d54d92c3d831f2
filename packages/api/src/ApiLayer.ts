/**
 * The services the HTTP API runs on, as one layer: the event store (and snapshots) and the read
 * models (both given: configuration picks their adapters), the command handler, and the projections'
 * progress: by default the projection runner keeping the read models (cards, audit trail,
 * analytics) up to date in this process; in worker mode their checkpoints, kept by another process.
 */
import type { EventStore, SnapshotStore, StoreUnavailable } from "@relata/domain"
import {
  AnalyticsProjection,
  type AnyProjection,
  AuditTrailProjection,
  CustomerCardProjection,
  ProjectionRunner,
  type ProjectionRunnerConfig,
  type ReadModelStore,
  type ReadModelStoreError,
} from "@relata/projections"
import { Layer } from "effect"
import { ApiCommandHandler } from "./ApiCommandHandler.ts"
import type { ProjectionsMode } from "./ApiConfig.ts"
import { LatestCards } from "./LatestCards.ts"
import { type CheckpointPollingOptions, ProjectionProgress } from "./ProjectionProgress.ts"

/** What the app's routes use. */
export type ApiServices = EventStore | ApiCommandHandler | LatestCards | ReadModelStore | ProjectionProgress

/** The projections the server runs: customer cards, the audit trail and the analytics. */
export const apiProjections: ReadonlyArray<AnyProjection> = [
  CustomerCardProjection as AnyProjection,
  AuditTrailProjection as AnyProjection,
  AnalyticsProjection as AnyProjection,
]

export interface ApiLayerOptions<E1, E2> {
  readonly eventStore: Layer.Layer<EventStore | SnapshotStore, E1> | Layer.Layer<EventStore, E1>
  readonly readModels: Layer.Layer<ReadModelStore, E2>
  /** Where the projections run: here (default), or in a worker whose checkpoints this reads. */
  readonly projections?: ProjectionsMode
  readonly runner?: ProjectionRunnerConfig
  /** Worker mode: how checkpoints are polled. */
  readonly polling?: CheckpointPollingOptions
}

/**
 * The API's services over the given stores. In-process, the projections run while the layer's
 * scope is open.
 */
export const apiLayer = <E1, E2>(
  options: ApiLayerOptions<E1, E2>,
): Layer.Layer<ApiServices, E1 | E2 | ReadModelStoreError | StoreUnavailable> => {
  const stores = Layer.merge(options.eventStore as Layer.Layer<EventStore, E1>, options.readModels)
  const progress =
    options.projections === "worker"
      ? ProjectionProgress.fromCheckpoints(apiProjections, options.polling ?? {})
      : ProjectionProgress.inProcess.pipe(
          Layer.provide(ProjectionRunner.layer(apiProjections, options.runner ?? {})),
        )
  const services = Layer.mergeAll(ApiCommandHandler.layer(), LatestCards.layer, progress)
  return services.pipe(Layer.provideMerge(stores))
}
