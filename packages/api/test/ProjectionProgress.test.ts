/**
 * The projections' progress as the routes see it, in worker mode: read from the checkpoints another
 * runner keeps in the read-model store (here a runner on the same in-memory stores stands in for
 * the worker process) and from the report the worker writes beside them, and the `projections`
 * setting that picks the mode.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import {
  apiProjections,
  loadApiConfig,
  openWorkerReport,
  ProjectionProgress,
  type ProjectionReport,
  reportsOf,
  writeWorkerReport,
} from "@relata/api"
import { EventStore, ExpectedVersion, InMemoryEventStore, StartOfStore } from "@relata/domain"
import {
  customerCardProjectionName,
  InMemoryReadModelStore,
  makeProjectionRunner,
  ProjectionFailed,
  type ProjectionRunnerService,
  ReadModelStore,
} from "@relata/projections"
import { Effect, Layer, Option, Result } from "effect"

const stores = Layer.merge(InMemoryEventStore.layer, InMemoryReadModelStore.layer)
const workerMode = ProjectionProgress.fromCheckpoints(apiProjections, { pollIntervalMs: 5 }).pipe(
  Layer.provideMerge(stores),
)

/** Appends `count` events to a stream no projection reads: every checkpoint still moves past them. */
const appendEvents = (count: number) =>
  Effect.flatMap(EventStore.use(Effect.succeed), (store) =>
    store.append(
      `note-${count}-${Math.random()}`,
      Array.from({ length: count }, (_, i) => ({
        eventId: `${count}-${i}-${Math.random()}`,
        type: "Noted",
        schemaVersion: 1,
        data: { i },
        metadata: {},
      })),
      ExpectedVersion.noStream,
    ),
  )

/** The "worker": a projection runner on the same stores, running until the scope closes. */
const startWorker = Effect.gen(function* () {
  const eventStore = yield* EventStore
  const readModels = yield* ReadModelStore
  return yield* makeProjectionRunner(apiProjections, { eventStore, readModels })
})

// Live clock: the worker-mode progress polls on real time, as it does in the server.
describe("ProjectionProgress in worker mode", () => {
  it.live("reports lag from the checkpoints, and waits by polling until the worker reaches a position", () =>
    Effect.gen(function* () {
      const progress = yield* ProjectionProgress
      expect(progress.mode).toBe("worker")
      const { position } = yield* appendEvents(3)

      // No worker yet: nothing is built, the whole store is lag, and waiting runs out.
      const before = yield* progress.statusOf(customerCardProjectionName)
      expect(before).toMatchObject({
        generation: 0,
        checkpoint: StartOfStore,
        lag: position,
        state: "catching-up",
      })
      expect(yield* progress.waitFor(position).pipe(Effect.timeoutOption(50))).toEqual(Option.none())

      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* startWorker
          const reached = yield* progress.waitFor(position).pipe(Effect.timeoutOption(5_000))
          expect(Option.isSome(reached)).toBe(true)
          const statuses = yield* progress.status
          expect(statuses.map((s) => s.name)).toEqual(apiProjections.map((p) => p.name))
          for (const status of statuses) {
            expect(status).toMatchObject({ generation: 1, checkpoint: position, lag: 0n, state: "running" })
          }
        }),
      )

      // The worker stopped: a later position is never reached, and shows as lag.
      const later = yield* appendEvents(2)
      expect(yield* progress.waitFor(later.position).pipe(Effect.timeoutOption(50))).toEqual(Option.none())
      expect(yield* progress.statusOf(customerCardProjectionName)).toMatchObject({
        checkpoint: position,
        lag: later.position - position,
      })
    }).pipe(Effect.provide(workerMode)),
  )

  it.live("names only the projections it knows, and leaves rebuilds to the worker", () =>
    Effect.gen(function* () {
      const progress = yield* ProjectionProgress
      const unknownWait = yield* Effect.flip(progress.waitFor(1n, { projections: ["no-such"] }))
      expect(unknownWait._tag).toBe("UnknownProjection")
      const unknownStatus = yield* Effect.flip(progress.statusOf("no-such"))
      expect(unknownStatus._tag).toBe("UnknownProjection")
      const unknownRebuild = yield* Effect.flip(progress.startRebuild("no-such"))
      expect(unknownRebuild._tag).toBe("UnknownProjection")
      const rebuild = yield* Effect.flip(progress.startRebuild(customerCardProjectionName))
      expect(rebuild._tag).toBe("RebuildRunsOnWorker")
      expect(rebuild.message).toContain(`relata projections run --rebuild ${customerCardProjectionName}`)
    }).pipe(Effect.provide(workerMode)),
  )

  it.live("shows a newer generation the worker is building as a rebuild under way", () =>
    Effect.gen(function* () {
      const progress = yield* ProjectionProgress
      const readModels = yield* ReadModelStore
      const { position } = yield* appendEvents(4)
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* startWorker
          yield* progress.waitFor(position)
        }),
      )
      const cards = apiProjections.find((p) => p.name === customerCardProjectionName)
      if (cards === undefined) throw new Error("no card projection")
      const next = yield* readModels.createGeneration(cards)
      expect(yield* progress.statusOf(customerCardProjectionName)).toMatchObject({
        generation: 1,
        state: "rebuilding",
        rebuild: { generation: next.generation, state: "building", done: 0, total: Number(position) },
      })
    }).pipe(Effect.provide(workerMode)),
  )
})

describe("ProjectionProgress in worker mode, with the worker's report", () => {
  const staleAfterMs = 10_000
  const reported = ProjectionProgress.fromCheckpoints(apiProjections, {
    pollIntervalMs: 5,
    workerStaleAfterMs: staleAfterMs,
  }).pipe(Layer.provideMerge(stores))

  /** What `relata projections run` writes each second: its runner's statuses, as of `now`. */
  const report = (runner: ProjectionRunnerService, now: number, stopped = false) =>
    Effect.gen(function* () {
      const readModels = yield* ReadModelStore
      const target = yield* openWorkerReport(readModels)
      const statuses = yield* runner.status
      return yield* writeWorkerReport(
        readModels,
        target,
        reportsOf(statuses, { worker: "worker-host pid 42", now, stopped }),
      )
    })

  /** A customer event no projection can decode: each stops on it. */
  const poison = Effect.flatMap(EventStore.use(Effect.succeed), (store) =>
    store.append(
      "customer-poison",
      [{ eventId: "poison-1", type: "LeadRegistered", schemaVersion: 1, data: {}, metadata: {} }],
      ExpectedVersion.noStream,
    ),
  )

  it.live(
    "shows what the worker reports: a stopped projection as failed with its reason, a failed rebuild as failed",
    () =>
      Effect.gen(function* () {
        const progress = yield* ProjectionProgress
        expect(yield* progress.worker).toMatchObject({
          reporting: false,
          reason: expect.stringContaining("never reported"),
        })
        const { position: before } = yield* appendEvents(3)
        const { position } = yield* poison

        yield* Effect.scoped(
          Effect.gen(function* () {
            const runner = yield* startWorker
            const stopped = yield* Effect.flip(
              runner.waitFor(position, { projections: [customerCardProjectionName] }),
            )
            expect(stopped._tag).toBe("ProjectionFailed")
            // Checkpoints alone: lag, and nothing more.
            expect(yield* progress.statusOf(customerCardProjectionName)).toMatchObject({
              state: "catching-up",
              checkpoint: before,
              lag: 1n,
            })

            expect(yield* report(runner, Date.now())).toBeUndefined()
            const failed = yield* progress.statusOf(customerCardProjectionName)
            expect(failed).toMatchObject({ state: "failed", checkpoint: before, lag: 1n, generation: 1 })
            expect(failed.failure).toBeInstanceOf(ProjectionFailed)
            expect(failed.failure).toMatchObject({
              projection: customerCardProjectionName,
              generation: 1,
              position,
              eventType: "LeadRegistered",
              streamId: "customer-poison",
            })
            expect(failed.failure?.message).toBe(stopped.message)
            expect(yield* progress.worker).toEqual({
              reporting: true,
              worker: "worker-host pid 42",
              reportedAt: expect.any(String),
            })

            // A rebuild stops at the same event: failed, not rebuilding for ever.
            const rebuild = yield* Effect.flip(runner.rebuild(customerCardProjectionName))
            expect(rebuild._tag).toBe("ProjectionFailed")
            expect((yield* progress.statusOf(customerCardProjectionName)).rebuild).toMatchObject({
              generation: 2,
              state: "building",
            })
            yield* report(runner, Date.now())
            const rebuildFailed = yield* progress.statusOf(customerCardProjectionName)
            expect(rebuildFailed).toMatchObject({
              state: "failed",
              generation: 1,
              rebuild: { generation: 2, state: "failed", eventsPerSecond: 0 },
            })
            expect(rebuildFailed.rebuild?.failure?.message).toBe(rebuild.message)
            expect((yield* progress.status).find((s) => s.name === customerCardProjectionName)).toEqual(
              rebuildFailed,
            )

            // The worker stops: its last report says so.
            yield* report(runner, Date.now(), true)
            expect(yield* progress.worker).toMatchObject({
              reporting: false,
              reason: "the projection worker stopped",
            })
            // It failed to report for longer than the limit, by this process's clock.
            yield* report(runner, Date.now() - staleAfterMs - 5_000)
            const stale = yield* progress.worker
            expect(stale?.reporting).toBe(false)
            expect(stale?.reason).toContain("has not reported for 15 s (limit 10 s)")
            // A worker clock ahead of this one still counts as reporting.
            yield* report(runner, Date.now() + 5_000)
            expect((yield* progress.worker)?.reporting).toBe(true)
          }),
        )
      }).pipe(Effect.provide(reported)),
  )

  it.live(
    "takes a failed rebuild out of rebuilding, and ignores reports of generations no longer stored",
    () =>
      Effect.gen(function* () {
        const progress = yield* ProjectionProgress
        const readModels = yield* ReadModelStore
        const { position } = yield* appendEvents(4)
        yield* Effect.scoped(Effect.flatMap(startWorker, (runner) => runner.waitFor(position)))
        const cards = apiProjections.find((p) => p.name === customerCardProjectionName)
        if (cards === undefined) throw new Error("no card projection")
        const next = yield* readModels.createGeneration(cards)
        const target = yield* openWorkerReport(readModels)
        const write = (overrides: Partial<ProjectionReport>) =>
          writeWorkerReport(readModels, target, [
            {
              projection: customerCardProjectionName,
              state: "running",
              generation: 1,
              checkpoint: String(position),
              worker: "worker-host pid 7",
              reportedAt: new Date().toISOString(),
              stopped: false,
              ...overrides,
            },
          ])
        const failure = {
          generation: next.generation,
          position: "3",
          eventType: "LeadRegistered",
          streamId: "customer-x",
          reason: "cannot decode",
        }

        yield* write({
          rebuild: { generation: next.generation, version: 1, state: "failed", done: 2, total: 4, failure },
        })
        const status = yield* progress.statusOf(customerCardProjectionName)
        expect(status).toMatchObject({
          state: "running",
          rebuild: { generation: next.generation, state: "failed", done: 2, total: 4 },
        })
        expect(status.failure).toBeUndefined()
        expect(status.rebuild?.failure?.message).toBe(
          `Projection ${customerCardProjectionName} (generation ${next.generation}) stopped at LeadRegistered (position 3, stream customer-x): cannot decode`,
        )

        // Of another generation than those stored: out of date.
        yield* write({
          failure: { ...failure, generation: 9 },
          rebuild: { generation: 9, version: 1, state: "failed", done: 2, total: 4 },
        })
        expect(yield* progress.statusOf(customerCardProjectionName)).toMatchObject({
          state: "rebuilding",
          rebuild: { generation: next.generation, state: "building" },
        })

        // A document this release cannot read counts as no report.
        yield* readModels.transact(target, (tx) =>
          Effect.sync(() =>
            tx.put("projection_worker_status", customerCardProjectionName, { projection: 1 }),
          ),
        )
        expect(yield* progress.worker).toMatchObject({ reporting: false })
      }).pipe(Effect.provide(reported)),
  )

  it.live("warns a worker that another one reported on the same stores a moment ago", () =>
    Effect.gen(function* () {
      const readModels = yield* ReadModelStore
      const target = yield* openWorkerReport(readModels)
      const at = (worker: string, now: number, stopped = false): ProjectionReport => ({
        projection: customerCardProjectionName,
        state: "running",
        generation: 1,
        checkpoint: "0",
        worker,
        reportedAt: new Date(now).toISOString(),
        stopped,
      })
      const now = Date.now()
      expect(yield* writeWorkerReport(readModels, target, [at("a pid 1", now)])).toBeUndefined()
      expect(yield* writeWorkerReport(readModels, target, [at("a pid 1", now + 1_000)])).toBeUndefined()
      expect(yield* writeWorkerReport(readModels, target, [at("b pid 2", now + 2_000)])).toBe("a pid 1")
      // One that stopped, or last reported long ago, is gone.
      yield* writeWorkerReport(readModels, target, [at("b pid 2", now + 3_000, true)])
      expect(yield* writeWorkerReport(readModels, target, [at("a pid 1", now + 4_000)])).toBeUndefined()
      expect(yield* writeWorkerReport(readModels, target, [at("b pid 2", now + 60_000)])).toBeUndefined()
      // Attached again on the next start: the same generation.
      expect(yield* openWorkerReport(readModels)).toMatchObject({ generation: target.generation })
    }).pipe(Effect.provide(reported)),
  )
})

describe("the projections setting", () => {
  const ok = (env: Record<string, string>) => {
    const result = loadApiConfig(env)
    if (Result.isFailure(result)) throw new Error(result.failure.message)
    return result.success
  }
  const failure = (env: Record<string, string>): string => {
    const result = loadApiConfig(env)
    if (Result.isSuccess(result)) throw new Error("expected a configuration error")
    return result.failure.message
  }

  it("runs the projections in the server by default", () => {
    expect(ok({}).projections).toBe("in-process")
  })

  it("reads worker mode from the file and the environment, the environment winning", () => {
    const folder = mkdtempSync(join(tmpdir(), "relata-projections-config-"))
    afterAll(() => rmSync(folder, { recursive: true, force: true }))
    const file = join(folder, "relata.json")
    writeFileSync(file, JSON.stringify({ projections: "worker" }))
    expect(ok({ RELATA_PROJECTIONS: "worker" }).projections).toBe("worker")
    expect(ok({ RELATA_CONFIG: file }).projections).toBe("worker")
    expect(ok({ RELATA_CONFIG: file, RELATA_PROJECTIONS: "in-process" }).projections).toBe("in-process")
  })

  it("reads how old the worker's report may be, 15 s by default", () => {
    expect(ok({}).workerStaleAfterMs).toBe(15_000)
    expect(ok({ RELATA_WORKER_STALE_AFTER_MS: "60000" }).workerStaleAfterMs).toBe(60_000)
    expect(failure({ RELATA_WORKER_STALE_AFTER_MS: "0" })).toContain("workerStaleAfterMs")
  })

  it("names a bad mode", () => {
    expect(failure({ RELATA_PROJECTIONS: "elsewhere" })).toContain("projections")
  })

  it("refuses worker mode on stores another process cannot open", () => {
    expect(failure({ RELATA_PROJECTIONS: "worker", RELATA_EVENT_STORE: "memory:" })).toContain("projections")
    expect(failure({ RELATA_PROJECTIONS: "worker", RELATA_READ_MODELS: "memory:" })).toContain("projections")
    // KurrentDB keeps the events; read models default to memory beside it, so they must be named.
    expect(failure({ RELATA_PROJECTIONS: "worker", RELATA_EVENT_STORE: "kurrentdb://db:2113" })).toContain(
      "projections",
    )
    expect(
      ok({
        RELATA_PROJECTIONS: "worker",
        RELATA_EVENT_STORE: "kurrentdb://db:2113",
        RELATA_READ_MODELS: "postgres://relata@db/relata",
      }).projections,
    ).toBe("worker")
  })
})
