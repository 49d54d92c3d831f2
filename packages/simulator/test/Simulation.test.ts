import {
  customerModel,
  defaultFollowUpCadence,
  type EventStoreService,
  makeCommandHandler,
  makeInMemoryEventStore,
  makeInMemorySnapshotStore,
  verifyStreamChain,
} from "@relata/domain"
import {
  resolveSimulationConfig,
  runSimulation,
  type SimulationConfig,
  type SimulationProgress,
  simulate,
  simulationDecider,
} from "@relata/simulator"
import { Effect, Exit, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { expectTallyMatches, recording } from "./SimulationChecks.ts"
import { customerStreams, tallyFromEvents } from "./TallyFromEvents.ts"

const readAll = (store: EventStoreService) => Effect.runPromise(Stream.runCollect(store.readAll()))

/** Simulates on an in-memory store through a recording handler; returns the tally, the log and the events. */
const run = async (config: SimulationConfig) => {
  const resolved = await Effect.runPromise(resolveSimulationConfig(config))
  const store = makeInMemoryEventStore()
  const { handler, log } = recording(
    makeCommandHandler(customerModel(simulationDecider(resolved)), {
      eventStore: store,
      snapshotStore: makeInMemorySnapshotStore(),
    }),
  )
  const progress: Array<SimulationProgress> = []
  const tally = await Effect.runPromise(simulate(config, { handler, onProgress: (p) => progress.push(p) }))
  return { tally, log, progress, events: await readAll(store) }
}

let main: ReturnType<typeof run> | undefined
/** One two-year run shared by the tests that only read it. */
const mainRun = () => (main ??= run({ seed: 7, customers: 400, months: 24 }))

describe("simulate", () => {
  it("keeps a tally that equals, figure by figure, a recount of the stored events", async () => {
    const { tally, events, log } = await mainRun()
    expect(tally.period.customers).toBe(400)
    expectTallyMatches(tally, events, log)
  })

  it("reaches every stage, freezes, both kinds of loyalty, win-back success and failure, back-dated tier changes", async () => {
    const { tally, events } = await mainRun()
    const reference = tallyFromEvents(events, {
      start: tally.period.start,
      months: 24,
      cadence: defaultFollowUpCadence,
    })
    const { entries } = reference.stages
    expect(entries.lead.reopened).toBeGreaterThan(0)
    expect(entries.prospect.qualified).toBeGreaterThan(0)
    expect(entries.customer).toBeGreaterThan(0)
    expect(entries.loyal.byPolicy).toBeGreaterThan(0)
    expect(entries.loyal.byHand).toBeGreaterThan(0)
    expect(entries.churned).toBeGreaterThan(0)
    expect(reference.winBack.succeeded).toBeGreaterThan(0)
    expect(reference.winBack.failed).toBeGreaterThan(0)
    expect(reference.tiers.changes.byHandBackDated).toBeGreaterThan(0)
    expect(reference.tiers.changes.byClassification).toBeGreaterThan(0)
    expect(reference.accounts.freezes).toBeGreaterThan(0)
    expect(reference.accounts.unfreezes).toBeGreaterThan(0)
    expect(reference.accounts.handovers).toBeGreaterThan(0)
    expect(reference.accounts.duplicates).toBeGreaterThan(0)
    expect(reference.lostDeals.byStage.lead).toBeGreaterThan(0)
    expect(reference.lostDeals.byStage.prospect).toBeGreaterThan(0)
    for (const stage of ["lead", "prospect", "customer", "loyal", "churned"] as const) {
      expect(reference.stages.now[stage], stage).toBeGreaterThan(0)
    }
    for (const type of [
      "ContactAdded",
      "ContactUpdated",
      "ContactRemoved",
      "ProfileUpdated",
      "FollowUpRecorded",
    ]) {
      expect(reference.events.byType[type], type).toBeGreaterThan(0)
    }
    const owners = Object.values(reference.followUps.byOwner)
    expect(owners.some((row) => row.late > 0 && row.onTime > 0)).toBe(true)
    expect(owners.some((row) => row.unscheduled > 0)).toBe(true)
    // The rep who leaves in month 14 hands every account over under one correlation id.
    expect(
      events.some((e) => e.type === "OwnerAssigned" && String(e.metadata.correlationId).includes("handover")),
    ).toBe(true)
    expect(Object.keys(tally.rejections).sort()).toEqual([
      "AccountIsFrozen",
      "AccountNotFrozen",
      "ActorNotPermitted",
      "BusinessDateInFuture",
      "ContactAlreadyExists",
      "ContactNotFound",
      "CustomerNotFound",
      "InvalidLifecycleTransition",
      "PossibleDuplicateCustomer",
    ])
    // About 1 in 4 win-back attempts succeeds, as the sources say.
    const rate = reference.winBack.succeeded / reference.winBack.started
    expect(rate).toBeGreaterThan(0.1)
    expect(rate).toBeLessThan(0.45)
  })

  it("issues commands in global time order and records each event at its simulated instant", async () => {
    const { tally, events } = await mainRun()
    let previous = ""
    for (const event of events) {
      const recordedAt = event.metadata.recordedAt as string
      expect(recordedAt >= previous, `${event.streamId}@${event.version}`).toBe(true)
      previous = recordedAt
      expect(recordedAt >= tally.period.start && recordedAt < tally.period.end).toBe(true)
      const effectiveAt = event.metadata.effectiveAt as string | undefined
      if (effectiveAt === undefined) expect(event.data.occurredAt).toBe(recordedAt)
      else expect([event.data.occurredAt === effectiveAt, effectiveAt < recordedAt]).toEqual([true, true])
    }
    for (const stream of customerStreams(events)) expect(verifyStreamChain(stream.recorded).ok).toBe(true)
  })

  it("reports progress in simulated days, ending at the period's length", async () => {
    const { progress } = await mainRun()
    const days = progress.map((p) => p.done)
    expect(days).toEqual([...days].sort((a, b) => a - b))
    expect(progress.at(-1)).toMatchObject({ done: 731, total: 731 })
    expect(progress.length).toBeLessThanOrEqual(732)
  })

  it("appends the same events and keeps the same tally for the same seed, and others for another seed", async () => {
    const config = { seed: 11, customers: 120, months: 12 }
    const first = await run(config)
    const second = await run(config)
    const other = await run({ ...config, seed: 12 })
    expect(second.events).toEqual(first.events)
    expect(second.tally).toEqual(first.tally)
    expect(JSON.parse(JSON.stringify(first.tally))).toEqual(first.tally)
    expect(other.events.slice(0, 20).map((e) => e.data)).not.toEqual(
      first.events.slice(0, 20).map((e) => e.data),
    )
    expect(other.tally).not.toEqual(first.tally)
    expectTallyMatches(other.tally, other.events, other.log)
  })

  it("runs on a fresh in-memory store with runSimulation", async () => {
    const { tally, store } = await Effect.runPromise(runSimulation({ seed: 3, customers: 40, months: 6 }))
    expectTallyMatches(tally, await readAll(store))
  })

  it("refuses a configuration it cannot use", async () => {
    const refused = async (config: SimulationConfig) => {
      const exit = await Effect.runPromiseExit(resolveSimulationConfig(config))
      expect(Exit.isFailure(exit)).toBe(true)
      return JSON.stringify(exit)
    }
    expect(await refused({ start: "2023-01-15" })).toContain("first instant of a UTC month")
    expect(await refused({ customers: 0 })).toContain("InvalidSimulationConfig")
    expect(await refused({ reps: [{ id: "rep-1", department: "Nowhere" }] })).toContain("not configured")
    expect(await refused({ behaviour: { qualifyRate: 0.9, leadLossRate: 0.2 } })).toContain("exceeds 1")
  })
})
