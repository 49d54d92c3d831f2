/**
 * What operators and their tools call: liveness, readiness (stores reachable, projections caught
 * up, in worker mode the worker reporting), Prometheus metrics, and the OpenAPI document. No token needed; nothing here shows customer data.
 */
import { EventStore } from "@relata/domain"
import { customerCardProjectionName, type ProjectionFailed, ReadModelStore } from "@relata/projections"
import { Effect, type ManagedRuntime, Schema } from "effect"
import type { FastifyInstance } from "fastify"
import type { ApiServices } from "../ApiLayer.ts"
import { addRoute } from "../internal/route.ts"
import type { Metrics } from "../Metrics.ts"
import { ProjectionProgress } from "../ProjectionProgress.ts"
import type { WorkerHealth } from "../WorkerReport.ts"
import { WorkerView } from "./projections.ts"

export interface OperationsOptions {
  readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
  readonly metrics: Metrics
  /** Projections further behind than this are not ready. */
  readonly readyMaxLag: number
}

const Health = Schema.Struct({ status: Schema.Literal("ok") })

const ProjectionReadiness = Schema.Struct({
  name: Schema.String,
  state: Schema.String,
  checkpoint: Schema.String,
  lag: Schema.String,
  failure: Schema.optionalKey(Schema.String),
})

/** What /ready reports, whether ready or not. */
export const Readiness = Schema.Struct({
  status: Schema.Literals(["ready", "not-ready"]),
  /** Why not ready, one line per cause; absent when ready. */
  reasons: Schema.optionalKey(Schema.Array(Schema.String)),
  eventStore: Schema.Struct({
    reachable: Schema.Boolean,
    headPosition: Schema.optionalKey(Schema.String),
  }),
  readModels: Schema.Struct({ reachable: Schema.Boolean }),
  projections: Schema.Array(ProjectionReadiness),
  /** Only when the projections run in a separate worker. */
  worker: Schema.optionalKey(WorkerView),
})
export type Readiness = typeof Readiness.Type

/** A stopped projection as the public /ready shows it. */
const stoppedAt = (failure: ProjectionFailed): string =>
  `stopped at position ${failure.position}${failure.eventType === undefined ? "" : ` (${failure.eventType})`}`

const reasonAndTime = ({ reason, reportedAt }: WorkerHealth) => ({
  ...(reason === undefined ? {} : { reason }),
  ...(reportedAt === undefined ? {} : { reportedAt }),
})

const readiness = (readyMaxLag: number) =>
  Effect.gen(function* () {
    const eventStore = yield* EventStore
    const readModels = yield* ReadModelStore
    const progress = yield* ProjectionProgress
    const head = yield* Effect.result(eventStore.headPosition)
    const models = yield* Effect.result(readModels.generations(customerCardProjectionName))
    // In worker mode, from the checkpoints the worker keeps: lag counts there too.
    const statuses = yield* Effect.result(progress.status)
    const projections =
      statuses._tag === "Success"
        ? statuses.success.map((status) => ({
            name: status.name,
            state: status.state,
            checkpoint: String(status.checkpoint),
            lag: String(status.lag),
            // Where it stopped, not why: the cause names customers and data (GET /v1/projections has it).
            ...(status.failure === undefined ? {} : { failure: stoppedAt(status.failure) }),
          }))
        : []
    const worker = yield* Effect.result(progress.worker)
    const reasons = [
      // Store errors stay in the log: this answer is public.
      ...(head._tag === "Success" ? [] : ["event store unreachable"]),
      ...(models._tag === "Success" ? [] : ["read-model store unreachable"]),
      ...(statuses._tag === "Success"
        ? statuses.success.flatMap((status) =>
            status.state === "failed"
              ? [
                  `projection ${status.name} ${status.failure === undefined ? "stopped" : stoppedAt(status.failure)}`,
                ]
              : status.lag > BigInt(readyMaxLag)
                ? [`projection ${status.name} is ${status.lag} positions behind (limit ${readyMaxLag})`]
                : [],
          )
        : ["projection status unavailable"]),
      ...(worker._tag === "Success"
        ? worker.success === undefined || worker.success.reporting
          ? []
          : [worker.success.reason ?? "the projection worker is not reporting"]
        : ["the projection worker's report cannot be read"]),
    ]
    return {
      status: reasons.length === 0 ? "ready" : "not-ready",
      ...(reasons.length === 0 ? {} : { reasons }),
      eventStore:
        head._tag === "Success"
          ? { reachable: true, headPosition: String(head.success) }
          : { reachable: false },
      readModels: { reachable: models._tag === "Success" },
      projections,
      // Which host runs the worker is for authenticated callers (GET /v1/projections), not this public answer.
      ...(worker._tag === "Success" && worker.success !== undefined
        ? { worker: { reporting: worker.success.reporting, ...reasonAndTime(worker.success) } }
        : {}),
    } satisfies Readiness
  })

/** Registers /health, /ready, /metrics and /openapi.json. */
export const operations = async (app: FastifyInstance, options: OperationsOptions): Promise<void> => {
  const { runtime, metrics } = options

  metrics.addGauge(
    "relata_event_store_head_position",
    "The global position of the newest event in the store.",
    async () => {
      const head = await runtime.runPromise(EventStore.use((store) => store.headPosition))
      return [{ labels: {}, value: Number(head) }]
    },
  )
  metrics.addGauge(
    "relata_projection_lag",
    "How many positions each projection is behind the event store's head.",
    async () => {
      const statuses = await runtime.runPromise(ProjectionProgress.use((p) => p.status))
      return statuses.map((status) => ({ labels: { projection: status.name }, value: Number(status.lag) }))
    },
  )
  metrics.addGauge(
    "relata_projection_events_per_second",
    "Events each projection applied per second, over the last few seconds.",
    async () => {
      const statuses = await runtime.runPromise(ProjectionProgress.use((p) => p.status))
      return statuses.map((status) => ({
        labels: { projection: status.name },
        value: status.eventsPerSecond,
      }))
    },
  )

  metrics.addGauge(
    "relata_projection_failed",
    "1 when a projection has stopped on an error (in worker mode, as the worker last reported), else 0.",
    async () => {
      const statuses = await runtime.runPromise(ProjectionProgress.use((p) => p.status))
      return statuses.map((status) => ({
        labels: { projection: status.name },
        value: status.state === "failed" ? 1 : 0,
      }))
    },
  )
  metrics.addGauge(
    "relata_projection_worker_reporting",
    "Worker mode: 1 while the projection worker's heartbeat is recent, else 0 (absent in-process).",
    async () => {
      const worker = await runtime.runPromise(ProjectionProgress.use((p) => p.worker))
      return worker === undefined ? [] : [{ labels: {}, value: worker.reporting ? 1 : 0 }]
    },
  )

  addRoute(app, {
    method: "GET",
    url: "/health",
    operationId: "health",
    summary: "Liveness: the process answers",
    tags: ["Operations"],
    access: { kind: "public" },
    responses: { 200: { description: "Alive", schema: Health } },
    handler: async () => ({ status: "ok" }),
  })

  addRoute(app, {
    method: "GET",
    url: "/ready",
    operationId: "ready",
    summary: "Readiness: stores reachable and projections caught up",
    tags: ["Operations"],
    access: { kind: "public" },
    responses: {
      200: { description: "Ready to serve", schema: Readiness },
      503: {
        description:
          "Not ready: a store is unreachable, a projection is failed or far behind, or (worker mode) the projection worker is not reporting; `reasons` says which",
        schema: Readiness,
      },
    },
    handler: async ({ reply }) => {
      const report = await runtime.runPromise(readiness(options.readyMaxLag))
      reply.code(report.status === "ready" ? 200 : 503)
      return report
    },
  })

  addRoute(app, {
    method: "GET",
    url: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics (text format 0.0.4)",
    tags: ["Operations"],
    access: { kind: "public" },
    responses: { 200: { description: "The metrics", contentType: "text/plain", schema: Schema.String } },
    handler: async ({ reply }) => {
      const text = await metrics.render()
      reply.type("text/plain; version=0.0.4; charset=utf-8")
      return text
    },
  })

  app.get("/openapi.json", { schema: { hide: true } as never }, async () => app.swagger())
}
