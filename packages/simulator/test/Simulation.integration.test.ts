import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { SqliteEventStore } from "@relata/adapter-sqlite"
import { CustomerCommandHandler, EventStore } from "@relata/domain"
import {
  resolveSimulationConfig,
  runSimulation,
  simulate,
  simulationDecider,
  type Tally,
} from "@relata/simulator"
import { Effect, Layer, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { expectTallyMatches, recording } from "./SimulationChecks.ts"

const folder = fs.mkdtempSync(path.join(os.tmpdir(), "relata-simulator-"))
afterAll(() => fs.rmSync(folder, { recursive: true, force: true }))

describe("simulate over SQLite", () => {
  it("appends to a SQLite file exactly what it appends in memory, and the tally matches the file", async () => {
    const config = { seed: 2024, customers: 300, months: 24 }
    const resolved = await Effect.runPromise(resolveSimulationConfig(config))
    // NORMAL rather than FULL: surviving a power cut is not what this test is about, and it halves the time.
    const stores = SqliteEventStore.layerWithSnapshots({
      path: path.join(folder, "events.sqlite"),
      synchronous: "NORMAL",
    })
    const program = Effect.gen(function* () {
      const { handler, log } = recording(yield* CustomerCommandHandler)
      const tally = yield* simulate(config, { handler })
      const events = yield* Stream.runCollect((yield* EventStore).readAll())
      return { tally, log, events }
    }).pipe(
      Effect.provide(
        Layer.provideMerge(CustomerCommandHandler.layer({ decider: simulationDecider(resolved) }), stores),
      ),
    )
    const onSqlite = await Effect.runPromise(program)
    expectTallyMatches(onSqlite.tally, onSqlite.events, onSqlite.log)

    const inMemory = await Effect.runPromise(runSimulation(config))
    expect(onSqlite.tally).toEqual(inMemory.tally)
    const stored = await Effect.runPromise(Stream.runCollect(inMemory.store.readAll()))
    const comparable = (events: typeof stored) =>
      events.map(({ streamId, version, eventId, type, schemaVersion, data, metadata }) => ({
        streamId,
        version,
        eventId,
        type,
        schemaVersion,
        data,
        metadata,
      }))
    expect(comparable(onSqlite.events)).toEqual(comparable(stored))
  })

  it("runs the README's example", async () => {
    const file = path.join(folder, "example.sqlite")
    const reported: Array<number> = []
    const report = (done: number, total: number) => reported.push(done / total)
    const example = Effect.gen(function* () {
      // README:start
      const config = { seed: 7, customers: 50, months: 6 }
      const resolved = yield* resolveSimulationConfig(config)
      const stores = SqliteEventStore.layerWithSnapshots({ path: file })
      const handlers = CustomerCommandHandler.layer({ decider: simulationDecider(resolved) })
      const tally = yield* Effect.gen(function* () {
        const handler = yield* CustomerCommandHandler
        return yield* simulate(config, { handler, onProgress: ({ done, total }) => report(done, total) })
      }).pipe(Effect.provide(Layer.provide(handlers, stores)))
      // README:end
      return tally
    })
    const tally: Tally = await Effect.runPromise(example)
    expect(tally.period.customers).toBe(50)
    expect(reported.at(-1)).toBe(1)
  })
})
