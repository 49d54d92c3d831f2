/**
 * What operators and their tools call: liveness, readiness (stores reachable, projections caught
 * up), Prometheus metrics, and the OpenAPI document. No token needed; nothing here shows customer data.
 */
import { EventStore } from "@relata/domain"
import { customerCardProjectionName, ReadModelStore } from "@relata/projections"
import { Effect, type ManagedRuntime, Schema } from "effect"
import type { FastifyInstance } from "fastify"
import type { ApiServices } from "../ApiLayer.ts"
import { addRoute } from "../internal/route.ts"
import type { Metrics } from "../Metrics.ts"
import { ProjectionProgress } from "../ProjectionProgress.ts"

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
  eventStore: Schema.Struct({
    reachable: Schema.Boolean,
    headPosition: Schema.optionalKey(Schema.String),
  }),
  readModels: Schema.Struct({ reachable: Schema.Boolean }),
  projections: Schema.Array(ProjectionReadiness),
})
export type Readiness = typeof Readiness.Type

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
            ...(status.failure === undefined ? {} : { failure: status.failure.message }),
          }))
        : []
    const caughtUp =
      statuses._tag === "Success" &&
      statuses.success.every((status) => status.state !== "failed" && status.lag <= BigInt(readyMaxLag))
    const ready = head._tag === "Success" && models._tag === "Success" && caughtUp
    return {
      status: ready ? "ready" : "not-ready",
      eventStore:
        head._tag === "Success"
          ? { reachable: true, headPosition: String(head.success) }
          : { reachable: false },
      readModels: { reachable: models._tag === "Success" },
      projections,
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
        description: "Not ready: a store is unreachable or a projection is failed or far behind",
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
