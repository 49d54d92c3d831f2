/**
 * The projections' progress as the routes see it, in worker mode: read from the checkpoints another
 * runner keeps in the read-model store (here a runner on the same in-memory stores stands in for
 * the worker process), and the `projections` setting that picks the mode.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { apiProjections, loadApiConfig, ProjectionProgress } from "@relata/api"
import { EventStore, ExpectedVersion, InMemoryEventStore, StartOfStore } from "@relata/domain"
import {
  customerCardProjectionName,
  InMemoryReadModelStore,
  makeProjectionRunner,
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
