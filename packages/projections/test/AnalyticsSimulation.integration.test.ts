import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { makeSqliteReadModelStore, SqliteEventStore } from "@relata/adapter-sqlite"
import { CustomerCommandHandler, EventStore } from "@relata/domain"
import {
  AnalyticsProjection,
  type AnalyticsReport,
  analyticsReport,
  makeProjectionRunner,
  ReadModelStore,
} from "@relata/projections"
import { resolveSimulationConfig, simulate, simulationDecider, type Tally } from "@relata/simulator"
import { Clock, Effect, Layer } from "effect"

const tempFile = Effect.acquireRelease(
  Effect.sync(() => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-analytics-")), "relata.sqlite")),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

const sections = [
  "events",
  "stages",
  "lostDeals",
  "churn",
  "winBack",
  "cohorts",
  "tiers",
  "distribution",
  "revenue",
  "followUps",
  "accounts",
] as const satisfies ReadonlyArray<keyof AnalyticsReport & keyof Tally>

describe("Analytics on SQLite", () => {
  it.live(
    "equals the simulator's tally with the events and the read model in one SQLite file, also after a restart",
    () =>
      Effect.gen(function* () {
        const file = yield* tempFile
        const config = { seed: 11, customers: 250, months: 24 }
        const resolved = yield* resolveSimulationConfig(config)
        // NORMAL: surviving a power cut is not what this test is about.
        const stores = SqliteEventStore.layerWithSnapshots({ path: file, synchronous: "NORMAL" })
        const handlers = CustomerCommandHandler.layer({ decider: simulationDecider(resolved) })
        const { tally, head } = yield* Effect.gen(function* () {
          const tally = yield* simulate(config, { handler: yield* CustomerCommandHandler })
          return { tally, head: yield* (yield* EventStore).headPosition }
        }).pipe(Effect.provide(Layer.provideMerge(handlers, stores)))
        const period = { start: tally.period.start, months: tally.period.months.length }

        const projectAndReport = Effect.scoped(
          Effect.gen(function* () {
            const eventStore = yield* SqliteEventStore.make({ path: file })
            const readModels = yield* Effect.acquireRelease(
              makeSqliteReadModelStore({ path: file }),
              (store) => store.close,
            )
            const startedAt = yield* Clock.currentTimeMillis
            const runner = yield* makeProjectionRunner([AnalyticsProjection], { eventStore, readModels })
            yield* runner.waitFor(head)
            const elapsedMs = (yield* Clock.currentTimeMillis) - startedAt
            const report = yield* Effect.provideService(analyticsReport(period), ReadModelStore, readModels)
            return { report, elapsedMs }
          }),
        )
        const first = yield* projectAndReport
        yield* Effect.logInfo(`analytics on SQLite caught up on ${head} events in ${first.elapsedMs} ms`)
        const { seed, ...periodFigures } = tally.period
        expect(first.report.period).toEqual(periodFigures)
        for (const section of sections)
          expect({ section, figures: first.report[section] }).toEqual({ section, figures: tally[section] })

        // A second runner resumes from the stored checkpoint: nothing is applied twice.
        const second = yield* projectAndReport
        expect(second.report).toEqual(first.report)
      }),
    180_000,
  )
})
