/**
 * The projection worker's report: what `relata projections run` tells servers in worker mode about
 * its runner, through the read-model store they share (checkpoints alone cannot say that a
 * projection stopped, that a rebuild failed, or that no worker runs at all).
 *
 * - A read model of its own, `projection-worker`, owned by the worker: one document per projection
 *   in one collection, all rewritten in one transaction every second and at start and stop. It is
 *   not a projection: it follows no events and saves no checkpoint.
 * - Each document carries the time the worker reported it, by the worker's clock. A server compares
 *   it with its own clock, so the staleness limit must exceed the clock skew between the machines
 *   as well as a few missed beats.
 * - Two workers on the same stores overwrite each other's documents (last writer wins); each notices
 *   the other's recent documents and warns, since two runners on one store is already a mistake.
 */
import type { JsonObject } from "@relata/domain"
import {
  type GenerationRef,
  ProjectionFailed,
  type ProjectionStatus,
  type ReadModelDefinition,
  type ReadModelStoreError,
  type ReadModelStoreService,
  type RebuildProgress,
} from "@relata/projections"
import { Effect, Predicate, Result, Schema } from "effect"

/** The collection of the worker's reports, one document per projection, keyed by its name. */
export const workerReportCollection = "projection_worker_status"

/** The worker's read model. Bump `version` when the documents change shape: a worker then starts a new generation. */
export const workerReportModel: ReadModelDefinition = {
  name: "projection-worker",
  version: 1,
  collections: [{ name: workerReportCollection, fields: {} }],
}

const Position = Schema.String.check(Schema.isPattern(/^\d+$/))
const Instant = Schema.String.check(
  Schema.makeFilter((s: string) => !Number.isNaN(Date.parse(s)), { expected: "an ISO 8601 instant" }),
)

/** A ProjectionFailed as stored: enough to rebuild it, with its message, on the server. */
const StoredFailure = Schema.Struct({
  generation: Schema.Int,
  position: Position,
  eventType: Schema.optionalKey(Schema.String),
  streamId: Schema.optionalKey(Schema.String),
  /** What went wrong (the cause's message). */
  reason: Schema.String,
})
type StoredFailure = typeof StoredFailure.Type

const StoredRebuild = Schema.Struct({
  generation: Schema.Int,
  version: Schema.Int,
  state: Schema.Literals(["building", "switched", "failed"]),
  done: Schema.Number,
  total: Schema.Number,
  failure: Schema.optionalKey(StoredFailure),
})

/** One projection as the worker's runner last saw it. */
export const ProjectionReport = Schema.Struct({
  projection: Schema.String,
  state: Schema.Literals(["running", "catching-up", "failed", "rebuilding"]),
  generation: Schema.Int,
  checkpoint: Position,
  failure: Schema.optionalKey(StoredFailure),
  rebuild: Schema.optionalKey(StoredRebuild),
  /** Which worker wrote it: host and process id. */
  worker: Schema.String,
  /** When, by the worker's clock. */
  reportedAt: Instant,
  /** The last report of a worker that stopped cleanly. */
  stopped: Schema.Boolean,
})
export type ProjectionReport = typeof ProjectionReport.Type

// ---------------------------------------------------------------------------------------------
// The worker's side
// ---------------------------------------------------------------------------------------------

const storedFailure = (failure: ProjectionFailed): StoredFailure => ({
  generation: failure.generation,
  position: String(failure.position),
  ...(failure.eventType === undefined ? {} : { eventType: failure.eventType }),
  ...(failure.streamId === undefined ? {} : { streamId: failure.streamId }),
  // As ProjectionFailed's message words it, so the failure rebuilt from this reads the same.
  reason: Predicate.hasProperty(failure.cause, "message")
    ? String(failure.cause.message)
    : String(failure.cause),
})

/** What the worker stores of its runner's statuses. */
export const reportsOf = (
  statuses: ReadonlyArray<ProjectionStatus>,
  worker: { readonly worker: string; readonly now: number; readonly stopped: boolean },
): ReadonlyArray<ProjectionReport> =>
  statuses.map((status) => ({
    projection: status.name,
    state: status.state,
    generation: status.generation,
    checkpoint: String(status.checkpoint),
    ...(status.failure === undefined ? {} : { failure: storedFailure(status.failure) }),
    ...(status.rebuild === undefined
      ? {}
      : {
          rebuild: {
            generation: status.rebuild.generation,
            version: status.rebuild.version,
            state: status.rebuild.state,
            done: status.rebuild.done,
            total: status.rebuild.total,
            ...(status.rebuild.failure === undefined
              ? {}
              : { failure: storedFailure(status.rebuild.failure) }),
          },
        }),
    worker: worker.worker,
    reportedAt: new Date(worker.now).toISOString(),
    stopped: worker.stopped,
  }))

/**
 * The generation the worker writes to: the active one of this version, else a new one, active at
 * once (there is nothing to build). A generation of another version it replaces is dropped.
 */
export const openWorkerReport = (
  readModels: ReadModelStoreService,
): Effect.Effect<GenerationRef, ReadModelStoreError> =>
  Effect.gen(function* () {
    const active = (yield* readModels.generations(workerReportModel.name)).find((g) => g.active)
    if (active?.version === workerReportModel.version) {
      return yield* readModels.attach(workerReportModel, active.generation)
    }
    const created = yield* readModels.createGeneration(workerReportModel)
    yield* readModels.activate(created)
    if (active !== undefined) yield* readModels.drop(active)
    return created
  })

/** A worker other than `worker` whose report is this recent is most likely still running. */
const otherWorkerWindowMs = 5_000

/**
 * Replaces the stored reports with these, in one transaction. Answers the other worker that wrote
 * the previous ones within the last few seconds and had not stopped, if any: a second worker on the
 * same stores.
 */
export const writeWorkerReport = (
  readModels: ReadModelStoreService,
  target: GenerationRef,
  reports: ReadonlyArray<ProjectionReport>,
): Effect.Effect<string | undefined, ReadModelStoreError> =>
  Effect.catchTag(
    readModels.transact(target, (tx) =>
      Effect.gen(function* () {
        yield* tx.load(
          workerReportCollection,
          reports.map((report) => report.projection),
        )
        let other: string | undefined
        for (const report of reports) {
          const previous = decodeReport(tx.get(workerReportCollection, report.projection))
          if (
            previous !== undefined &&
            previous.worker !== report.worker &&
            !previous.stopped &&
            Date.parse(report.reportedAt) - Date.parse(previous.reportedAt) < otherWorkerWindowMs
          ) {
            other = previous.worker
          }
          // Strings, numbers and booleans only: JSON as it is.
          tx.put(workerReportCollection, report.projection, report as unknown as JsonObject)
        }
        return other
      }),
    ),
    // No expected checkpoint is given, so there is none to conflict with.
    "CheckpointConflict",
    (conflict) => Effect.die(conflict),
  )

// ---------------------------------------------------------------------------------------------
// The server's side
// ---------------------------------------------------------------------------------------------

const decodeProjectionReport = Schema.decodeUnknownResult(ProjectionReport)

/** A stored document as a report; undefined when absent or not one this release can read. */
const decodeReport = (document: JsonObject | undefined): ProjectionReport | undefined => {
  if (document === undefined) return undefined
  const decoded = decodeProjectionReport(document)
  return Result.isSuccess(decoded) ? decoded.success : undefined
}

/** The worker's last report of each of these projections; none before a worker first started. */
export const readWorkerReports = (
  readModels: ReadModelStoreService,
  projections: ReadonlyArray<string>,
): Effect.Effect<ReadonlyMap<string, ProjectionReport>, ReadModelStoreError> =>
  readModels.getMany(workerReportCollection, projections).pipe(
    Effect.map((found) => {
      const reports = new Map<string, ProjectionReport>()
      for (const [name, document] of found) {
        const report = decodeReport(document)
        if (report !== undefined) reports.set(name, report)
      }
      return reports
    }),
    Effect.catchTag("CollectionNotFound", () => Effect.succeed(new Map<string, ProjectionReport>())),
  )

/**
 * How old the worker's newest report may be, by the server's clock, before the worker counts as not
 * reporting. It reports every second; the rest is margin for missed beats and clock skew.
 */
export const defaultWorkerStaleAfterMs = 15_000

/** Whether the projection worker reports; when not, why (without naming its host: `/ready` is public). */
export interface WorkerHealth {
  /** A report newer than the staleness limit, from a worker that has not stopped. */
  readonly reporting: boolean
  readonly reason?: string
  /** The worker that wrote the newest report (host and process id). */
  readonly worker?: string
  /** When, by the worker's clock. */
  readonly reportedAt?: string
}

/** The worker's health from its newest report, against this process's clock (`now`). */
export const workerHealthOf = (
  reports: Iterable<ProjectionReport>,
  now: number,
  staleAfterMs: number,
): WorkerHealth => {
  let newest: ProjectionReport | undefined
  for (const report of reports) {
    if (newest === undefined || Date.parse(report.reportedAt) > Date.parse(newest.reportedAt)) newest = report
  }
  if (newest === undefined) {
    return {
      reporting: false,
      reason: "the projection worker has never reported: start it with `relata projections run`",
    }
  }
  const last = { worker: newest.worker, reportedAt: newest.reportedAt }
  if (newest.stopped) {
    return { reporting: false, reason: "the projection worker stopped", ...last }
  }
  // A worker clock ahead of this one gives a negative age: fresh, as it should be.
  const ageMs = now - Date.parse(newest.reportedAt)
  if (ageMs > staleAfterMs) {
    return {
      reporting: false,
      reason: `the projection worker has not reported for ${Math.round(ageMs / 1000)} s (limit ${staleAfterMs / 1000} s): it is not running, or cannot write to the read-model store`,
      ...last,
    }
  }
  return { reporting: true, ...last }
}

const failureOf = (projection: string, stored: StoredFailure): ProjectionFailed =>
  new ProjectionFailed({
    projection,
    generation: stored.generation,
    position: BigInt(stored.position),
    ...(stored.eventType === undefined ? {} : { eventType: stored.eventType }),
    ...(stored.streamId === undefined ? {} : { streamId: stored.streamId }),
    cause: stored.reason,
  })

/**
 * A status read from the checkpoints, with what only the worker knows: that the generation readers
 * see has stopped on a failure, that the rebuild of the newer generation failed, or that one
 * switched. A report about other generations than those stored now is out of date and ignored.
 * The last report counts however old it is: a failed projection stays failed until a worker restarts
 * it, and a new worker reports at once.
 */
export const withWorkerReport = (
  status: ProjectionStatus,
  report: ProjectionReport | undefined,
): ProjectionStatus => {
  if (report === undefined) return status
  const failure =
    report.failure !== undefined && report.failure.generation === status.generation
      ? failureOf(status.name, report.failure)
      : undefined
  const reported = report.rebuild
  const rebuild: RebuildProgress | undefined =
    reported === undefined
      ? status.rebuild
      : reported.state === "failed" && status.rebuild?.generation === reported.generation
        ? {
            ...status.rebuild,
            state: "failed",
            done: reported.done,
            total: reported.total,
            eventsPerSecond: 0,
            etaSeconds: 0,
            ...(reported.failure === undefined ? {} : { failure: failureOf(status.name, reported.failure) }),
          }
        : reported.state === "switched" &&
            status.rebuild === undefined &&
            status.generation === reported.generation
          ? {
              generation: reported.generation,
              version: reported.version,
              state: "switched",
              done: reported.done,
              total: reported.total,
              eventsPerSecond: 0,
              etaSeconds: 0,
            }
          : status.rebuild
  const state =
    failure !== undefined
      ? "failed"
      : status.state === "rebuilding" && rebuild?.state !== "building"
        ? status.lag > 0n
          ? "catching-up"
          : "running"
        : status.state
  return {
    ...status,
    state,
    ...(failure === undefined ? {} : { failure }),
    ...(rebuild === undefined ? {} : { rebuild }),
  }
}
