import { describe, expect, it } from "@effect/vitest"
import {
  AnalyticsProjection,
  type AnalyticsReport,
  analyticsReport,
  customersAt,
  makeInMemoryReadModelStore,
  makeProjectionRunner,
  ReadModelStore,
  tierMigration,
} from "@relata/projections"
import { runSimulation, type SimulationConfig, type Tally } from "@relata/simulator"
import { Clock, Effect } from "effect"

/** Checks every figure of the report against the simulator's tally, section by section. */
const expectReportMatchesTally = (report: AnalyticsReport, tally: Tally): void => {
  const { seed, ...period } = tally.period
  expect(report.period).toEqual(period)
  expect(report.events).toEqual(tally.events)
  expect(report.stages).toEqual(tally.stages)
  expect(report.lostDeals).toEqual(tally.lostDeals)
  expect(report.churn).toEqual(tally.churn)
  expect(report.winBack).toEqual(tally.winBack)
  expect(report.cohorts).toEqual(tally.cohorts)
  expect(report.tiers).toEqual(tally.tiers)
  expect(report.distribution).toEqual(tally.distribution)
  expect(report.revenue).toEqual(tally.revenue)
  expect(report.followUps).toEqual(tally.followUps)
  expect(report.accounts).toEqual(tally.accounts)

  // The rates are the ratios of the tally's counts.
  const ratio = (a: number, b: number) => (b === 0 ? null : a / b)
  const { funnel } = tally.stages
  expect(report.rates.conversion).toEqual({
    leadToProspect: ratio(funnel.prospect, funnel.lead),
    prospectToCustomer: ratio(funnel.customer, funnel.prospect),
    customerToLoyal: ratio(funnel.loyal, funnel.customer),
  })
  expect(report.rates.churnByMonth).toEqual(
    tally.churn.byMonth.map((row) => ({ month: row.month, rate: ratio(row.churned, row.activeAtStart) })),
  )
  expect(report.rates.winBack).toEqual({
    rate: ratio(tally.winBack.succeeded, tally.winBack.churns),
    attemptSuccessRate: ratio(tally.winBack.succeeded, tally.winBack.started),
  })
  for (const [currency, revenue] of Object.entries(tally.revenue)) {
    expect(report.rates.revenue[currency]?.top20Share).toBe(
      ratio(revenue.top20.revenueMinor, revenue.totalMinor),
    )
    expect(report.rates.revenue[currency]?.averageLifetimeValueByTier.A).toBe(
      ratio(revenue.lifetimeValueByTier.A.totalMinor, revenue.lifetimeValueByTier.A.customers),
    )
  }
  for (const [owner, row] of Object.entries(tally.followUps.byOwner)) {
    expect(report.rates.followUpCompliance[owner]).toBe(ratio(row.onTime, row.due))
  }
}

/** Simulates, projects the simulation's store with the runner, and reads the report for its period. */
const simulateAndReport = (config: SimulationConfig, batchSize?: number) =>
  Effect.gen(function* () {
    const { tally, store } = yield* runSimulation(config)
    const readModels = makeInMemoryReadModelStore()
    const head = yield* store.headPosition
    const startedAt = yield* Clock.currentTimeMillis
    const runner = yield* makeProjectionRunner(
      [AnalyticsProjection],
      { eventStore: store, readModels },
      batchSize === undefined ? {} : { batchSize },
    )
    yield* runner.waitFor(head)
    const elapsedMs = (yield* Clock.currentTimeMillis) - startedAt
    const period = { start: tally.period.start, months: tally.period.months.length }
    const report = yield* Effect.provideService(analyticsReport(period), ReadModelStore, readModels)
    return { tally, report, readModels, period, events: Number(head), elapsedMs }
  })

describe("Analytics against the simulator's tally", () => {
  it.live(
    "equals the tally figure by figure: seed 7, 400 customers over two years",
    () =>
      Effect.gen(function* () {
        const { tally, report, readModels, period, events, elapsedMs } = yield* simulateAndReport({
          seed: 7,
          customers: 400,
          months: 24,
        })
        expect(tally.period.customers).toBe(400)
        expectReportMatchesTally(report, tally)
        yield* Effect.logInfo(`analytics caught up on ${events} events in ${elapsedMs} ms`)

        // The simulation reaches the cases the figures distinguish.
        expect(tally.tiers.changes.byHandBackDated).toBeGreaterThan(0)
        expect(tally.winBack.succeeded).toBeGreaterThan(0)
        expect(tally.winBack.failed).toBeGreaterThan(0)

        // Any instant, not only month ends: at a month end it agrees with the series.
        const at = yield* Effect.provideService(customersAt(tally.period.end), ReadModelStore, readModels)
        expect(at).toEqual({
          stages: tally.stages.atMonthEnd.at(-1),
          tiers: tally.tiers.atMonthEnd.at(-1),
        })
        // A migration over three months is the quarter's.
        const quarter = yield* Effect.provideService(
          tierMigration({ start: period.start, months: 3 }),
          ReadModelStore,
          readModels,
        )
        expect(quarter).toEqual(tally.tiers.migration[0])
      }),
    120_000,
  )

  it.live(
    "equals the tally for another seed and period, whatever the batch size",
    () =>
      Effect.gen(function* () {
        const config = { seed: 2024, customers: 300, months: 20, start: "2022-05-01T00:00:00.000Z" }
        const { tally, report } = yield* simulateAndReport(config, 37)
        expect(tally.period.months).toHaveLength(20)
        expectReportMatchesTally(report, tally)
      }),
    120_000,
  )
})
