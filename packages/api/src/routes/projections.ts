/**
 * The projections the server runs (or a worker runs for it): their status (checkpoint, lag, rate,
 * failures, rebuild progress; in worker mode whether the worker reports) and blue/green rebuilds. What `relata projections status|rebuild` calls.
 */
import type { ProjectionStatus } from "@relata/projections"
import { Effect, type ManagedRuntime, Schema } from "effect"
import type { FastifyInstance } from "fastify"
import type { ApiServices } from "../ApiLayer.ts"
import { addRoute } from "../internal/route.ts"
import { runEffect } from "../internal/runEffect.ts"
import { ProblemDocument } from "../Problem.ts"
import { ProjectionProgress } from "../ProjectionProgress.ts"

const RebuildView = Schema.Struct({
  generation: Schema.Int,
  version: Schema.Int,
  state: Schema.Literals(["building", "switched", "failed"]),
  done: Schema.Number,
  total: Schema.Number,
  eventsPerSecond: Schema.Number,
  etaSeconds: Schema.NullOr(Schema.Number),
  failure: Schema.optionalKey(Schema.String),
})

/** A projection's status as the API shows it (positions as decimal strings). */
export const ProjectionStatusView = Schema.Struct({
  name: Schema.String,
  version: Schema.Int,
  generation: Schema.Int,
  state: Schema.Literals(["running", "catching-up", "failed", "rebuilding"]),
  checkpoint: Schema.String,
  headPosition: Schema.String,
  lag: Schema.String,
  eventsPerSecond: Schema.Number,
  failure: Schema.optionalKey(Schema.String),
  rebuild: Schema.optionalKey(RebuildView),
}).annotate({ title: "ProjectionStatus" })
export type ProjectionStatusView = typeof ProjectionStatusView.Type

/** Worker mode: whether the projection worker reports (a recent heartbeat), and why not. */
export const WorkerView = Schema.Struct({
  reporting: Schema.Boolean,
  reason: Schema.optionalKey(Schema.String),
  /** The worker that wrote the newest report: host and process id. */
  worker: Schema.optionalKey(Schema.String),
  /** When, by the worker's clock. */
  reportedAt: Schema.optionalKey(Schema.String),
}).annotate({ title: "ProjectionWorker" })

const Statuses = Schema.Struct({
  projections: Schema.Array(ProjectionStatusView),
  /** Only when the projections run in a separate worker. */
  worker: Schema.optionalKey(WorkerView),
})

const NamePath = Schema.Struct({
  name: Schema.String.check(
    Schema.makeFilter((s: string) => /^[a-z0-9][a-z0-9-]{0,99}$/.test(s), { expected: "a projection name" }),
  ),
})

/** The view of a runner's status. */
export const projectionStatusView = (status: ProjectionStatus): ProjectionStatusView => ({
  name: status.name,
  version: status.version,
  generation: status.generation,
  state: status.state,
  checkpoint: String(status.checkpoint),
  headPosition: String(status.headPosition),
  lag: String(status.lag),
  eventsPerSecond: status.eventsPerSecond,
  ...(status.failure === undefined ? {} : { failure: status.failure.message }),
  ...(status.rebuild === undefined
    ? {}
    : {
        rebuild: {
          generation: status.rebuild.generation,
          version: status.rebuild.version,
          state: status.rebuild.state,
          done: status.rebuild.done,
          total: status.rebuild.total,
          eventsPerSecond: status.rebuild.eventsPerSecond,
          etaSeconds: status.rebuild.etaSeconds ?? null,
          ...(status.rebuild.failure === undefined ? {} : { failure: status.rebuild.failure.message }),
        },
      }),
})

const problem = (description: string) => ({
  description,
  schema: ProblemDocument,
  contentType: "application/problem+json",
})

/** Registers GET /v1/projections and POST /v1/projections/{name}/rebuild. */
export const projections = async (
  app: FastifyInstance,
  options: { readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown> },
): Promise<void> => {
  const { runtime } = options

  addRoute(app, {
    method: "GET",
    url: "/v1/projections",
    operationId: "listProjections",
    summary: "Every projection's status: checkpoint, lag, rate, failure, rebuild progress",
    tags: ["Operations"],
    access: { kind: "roles", roles: ["auditor", "admin"], action: "read projection status" },
    responses: {
      200: { description: "The statuses", schema: Statuses },
      401: problem("No valid bearer token"),
      403: problem("Not an auditor or admin"),
    },
    handler: async ({ request }) => {
      const { statuses, worker } = await runEffect(
        runtime,
        request,
        ProjectionProgress.use((progress) =>
          Effect.all({ statuses: progress.status, worker: progress.worker }),
        ),
      )
      return {
        projections: statuses.map(projectionStatusView),
        ...(worker === undefined ? {} : { worker }),
      }
    },
  })

  addRoute<typeof NamePath.Type>(app, {
    method: "POST",
    url: "/v1/projections/:name/rebuild",
    operationId: "rebuildProjection",
    summary:
      "Rebuild a projection blue/green: a new generation from the first event, switched to when caught up",
    description:
      "Answers at once; follow the progress in GET /v1/projections (`rebuild`). The current read model keeps serving until the switch.",
    tags: ["Operations"],
    access: { kind: "roles", roles: ["admin"], action: "rebuild projections" },
    params: NamePath,
    responses: {
      202: { description: "The rebuild started (or was already under way)", schema: ProjectionStatusView },
      401: problem("No valid bearer token"),
      403: problem("Not an admin"),
      404: problem("No projection of that name"),
      409: problem(
        "Projections run in a separate worker (projections: worker): rebuild there with `relata projections run --rebuild <name>`",
      ),
      503: problem("The stores cannot be reached"),
    },
    handler: async ({ params, request, reply }) => {
      const status = await runEffect(
        runtime,
        request,
        ProjectionProgress.use((progress) => progress.startRebuild(params.name)),
      )
      reply.code(202)
      return projectionStatusView(status)
    },
  })
}
