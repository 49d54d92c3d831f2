import { describe, expect, it } from "@effect/vitest"
import {
  CustomerDecider,
  type CustomerEvent,
  type CustomerState,
  decodeCustomerEvent,
  type EventStoreService,
  makeInMemoryEventStore,
  type RecordedEvent,
} from "@relata/domain"
import {
  type AnalyticsPeriod,
  AnalyticsProjection,
  analyticsReport,
  customersAt,
  makeInMemoryReadModelStore,
  makeProjectionRunner,
  ReadModelStore,
  type ReadModelStoreService,
  type StageCounts,
  type TierCounts,
} from "@relata/projections"
import { Effect, Result, Stream } from "effect"
import { customerCommands, eur, instant, reps, source } from "./support/customers.ts"

const period = (start: string, months: number): AnalyticsPeriod => ({ start: instant(start), months })

/** Projects every event of the store (in small batches, so customers span transactions). */
const project = (eventStore: EventStoreService) =>
  Effect.gen(function* () {
    const readModels = makeInMemoryReadModelStore()
    const runner = yield* makeProjectionRunner(
      [AnalyticsProjection],
      { eventStore, readModels },
      { batchSize: 3 },
    )
    yield* runner.waitFor(yield* eventStore.headPosition)
    return readModels
  })

const reportOf = (readModels: ReadModelStoreService, of: AnalyticsPeriod) =>
  Effect.provideService(analyticsReport(of), ReadModelStore, readModels)

/** Customers by stage and tier at `t`, the plain way: each stream folded over its events effective before `t`. */
const foldAt = (events: ReadonlyArray<RecordedEvent>, t: string) => {
  const states = new Map<string, CustomerState>()
  for (const recorded of events) {
    const event: CustomerEvent = Result.getOrThrow(decodeCustomerEvent(recorded))
    if (event.occurredAt >= t) continue
    states.set(
      event.customerId,
      CustomerDecider.evolve(states.get(event.customerId) ?? { status: "unregistered" }, event),
    )
  }
  const stages = { lead: 0, prospect: 0, customer: 0, loyal: 0, churned: 0 }
  const tiers = { A: 0, B: 0, C: 0, D: 0 }
  for (const state of states.values()) {
    if (state.status !== "registered") continue
    stages[state.stage]++
    tiers[state.tier]++
  }
  return { stages: stages as StageCounts, tiers: tiers as TierCounts }
}

/** Checks the month-end series and `customersAt` against plain folds. */
const expectFoldsAt = (
  eventStore: EventStoreService,
  readModels: ReadModelStoreService,
  of: AnalyticsPeriod,
) =>
  Effect.gen(function* () {
    const events = Array.from(yield* Stream.runCollect(eventStore.readAll()))
    const report = yield* reportOf(readModels, of)
    const ends = [...report.period.months.slice(1).map((m) => `${m}-01T00:00:00.000Z`), report.period.end]
    expect(report.stages.atMonthEnd).toEqual(ends.map((t) => foldAt(events, t).stages))
    expect(report.tiers.atMonthEnd).toEqual(ends.map((t) => foldAt(events, t).tiers))
    for (const recorded of events) {
      for (const t of [
        recorded.data.occurredAt as string,
        `${(recorded.data.occurredAt as string).slice(0, 10)}T23:59:59.999Z`,
      ]) {
        const at = yield* Effect.provideService(customersAt(instant(t)), ReadModelStore, readModels)
        expect(at, t).toEqual(foldAt(events, t))
      }
    }
    return report
  })

const lead = (name: string, tier: "A" | "B" | "C" | "D" = "D") => ({
  profile: { name },
  source,
  owner: reps[0],
  tier,
})

describe("AnalyticsProjection", () => {
  it.effect("counts a back-dated change in the month it took effect, even before an earlier change", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      const send = customerCommands(eventStore)
      yield* send("c1", "2024-01-05T09:00:00.000Z", "RegisterLead", lead("Acme"))
      // Recorded in February, effective in January.
      yield* send(
        "c1",
        "2024-02-03T09:00:00.000Z",
        "ChangeTier",
        { to: "C", reason: "bigger orders" },
        { effectiveAt: instant("2024-01-28T09:00:00.000Z") },
      )
      yield* send("c1", "2024-03-10T09:00:00.000Z", "ChangeTier", { to: "A", reason: "key account" })
      // Back-dated before the change of 10 March: in stream order it comes last, so from 1 March on it holds.
      yield* send(
        "c1",
        "2024-03-20T09:00:00.000Z",
        "ChangeTier",
        { to: "B", reason: "correction" },
        { effectiveAt: instant("2024-03-01T09:00:00.000Z") },
      )
      // A conversion back-dated into January.
      yield* send("c2", "2024-01-10T09:00:00.000Z", "RegisterLead", lead("Bolt"))
      yield* send("c2", "2024-01-11T09:00:00.000Z", "QualifyLead", {})
      yield* send(
        "c2",
        "2024-02-02T09:00:00.000Z",
        "ConvertToCustomer",
        { firstPurchase: eur(5_000) },
        { effectiveAt: instant("2024-01-30T09:00:00.000Z") },
      )
      const readModels = yield* project(eventStore)
      const report = yield* expectFoldsAt(eventStore, readModels, period("2024-01-01T00:00:00.000Z", 4))

      expect(report.tiers.atMonthEnd).toEqual([
        { A: 0, B: 0, C: 1, D: 1 },
        { A: 0, B: 0, C: 1, D: 1 },
        { A: 0, B: 1, C: 0, D: 1 },
        { A: 0, B: 1, C: 0, D: 1 },
      ])
      expect(report.tiers.now).toEqual({ A: 0, B: 1, C: 0, D: 1 })
      expect(report.tiers.changes).toEqual({ byHand: 3, byHandBackDated: 2, byClassification: 0 })
      expect(report.tiers.migration).toEqual([
        {
          from: "2024-01-01T00:00:00.000Z",
          to: "2024-04-01T00:00:00.000Z",
          matrix: {
            A: { A: 0, B: 0, C: 0, D: 0 },
            B: { A: 0, B: 0, C: 0, D: 0 },
            C: { A: 0, B: 0, C: 0, D: 0 },
            D: { A: 0, B: 0, C: 0, D: 0 },
          },
        },
        {
          from: "2024-04-01T00:00:00.000Z",
          to: "2024-05-01T00:00:00.000Z",
          matrix: {
            A: { A: 0, B: 0, C: 0, D: 0 },
            B: { A: 0, B: 1, C: 0, D: 0 },
            C: { A: 0, B: 0, C: 0, D: 0 },
            D: { A: 0, B: 0, C: 0, D: 1 },
          },
        },
      ])
      const fromFebruary = yield* reportOf(readModels, period("2024-02-01T00:00:00.000Z", 2))
      expect(fromFebruary.tiers.migration[0]?.matrix).toMatchObject({
        C: { A: 0, B: 1, C: 0, D: 0 },
        D: { A: 0, B: 0, C: 0, D: 1 },
      })
      expect(report.stages.atMonthEnd[0]).toMatchObject({ lead: 1, prospect: 0, customer: 1 })
      expect(report.cohorts[0]).toEqual({ month: "2024-01", registered: 2, retained: [1, 1, 1, 1] })
    }),
  )

  it.effect("decides each win-back attempt: converted again, lost, lost then converted, still open", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      const send = customerCommands(eventStore)
      const day = (d: number) => new Date(Date.UTC(2024, 0, 1 + d, 9)).toISOString()
      for (const [i, id] of ["won", "lost", "late", "open"].entries()) {
        yield* send(id, day(i), "RegisterLead", lead(id))
        yield* send(id, day(i + 1), "QualifyLead", {})
        yield* send(id, day(i + 2), "ConvertToCustomer", { firstPurchase: eur(1_000) })
        yield* send(id, day(i + 3), "ChurnCustomer", { reason: "price" })
        yield* send(id, day(i + 40), "WinBackCustomer", {})
      }
      yield* send("won", day(60), "ConvertToCustomer", { firstPurchase: eur(2_000) })
      yield* send("lost", day(60), "MarkDealLost", { reason: "no budget" })
      yield* send("late", day(61), "MarkDealLost", { reason: "no budget" })
      yield* send("late", day(90), "ReopenLead", {})
      yield* send("late", day(91), "QualifyLead", {})
      yield* send("late", day(92), "ConvertToCustomer", { firstPurchase: eur(3_000) })
      const readModels = yield* project(eventStore)
      const report = yield* expectFoldsAt(eventStore, readModels, period("2024-01-01T00:00:00.000Z", 4))
      expect(report.winBack).toEqual({ churns: 4, started: 4, succeeded: 2, failed: 1, open: 1 })
      expect(report.rates.winBack).toEqual({ rate: 0.5, attemptSuccessRate: 0.5 })
      expect(report.stages.entries).toEqual({
        lead: { registered: 4, reopened: 1 },
        prospect: { qualified: 5, wonBack: 4 },
        customer: 6,
        loyal: { byPolicy: 0, byHand: 0 },
        churned: 4,
      })
      expect(report.lostDeals).toEqual({
        total: 2,
        byStage: { lead: 0, prospect: 2 },
        byReason: { "no budget": 2 },
        reopened: 1,
      })
      expect(report.stages.funnel).toEqual({ lead: 4, prospect: 4, customer: 4, loyal: 0 })
      expect(report.stages.lostDealsOpen).toEqual({ lead: 0, prospect: 1 })
      expect(report.revenue.EUR).toMatchObject({
        purchases: 6,
        totalMinor: 9_000,
        buyers: 4,
        perCustomer: [
          { customerId: "late", revenueMinor: 4_000 },
          { customerId: "won", revenueMinor: 3_000 },
          { customerId: "lost", revenueMinor: 1_000 },
          { customerId: "open", revenueMinor: 1_000 },
        ],
        top20: { customers: 1, revenueMinor: 4_000 },
      })
    }),
  )

  it.effect("counts a churn in the customer's first month in the numerator only", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      const send = customerCommands(eventStore)
      // Active before the period: in January's denominator.
      yield* send("old", "2023-12-01T09:00:00.000Z", "RegisterLead", lead("Old"))
      yield* send("old", "2023-12-02T09:00:00.000Z", "QualifyLead", {})
      yield* send("old", "2023-12-03T09:00:00.000Z", "ConvertToCustomer", { firstPurchase: eur(100) })
      yield* send("old", "2024-01-15T09:00:00.000Z", "ChurnCustomer", { reason: "moved away" })
      // Registered, converted and churned within January.
      yield* send("new", "2024-01-03T09:00:00.000Z", "RegisterLead", lead("New"))
      yield* send("new", "2024-01-04T09:00:00.000Z", "QualifyLead", {})
      yield* send("new", "2024-01-10T09:00:00.000Z", "ConvertToCustomer", { firstPurchase: eur(100) })
      yield* send("new", "2024-01-20T09:00:00.000Z", "ChurnCustomer", { reason: "unhappy" })
      const readModels = yield* project(eventStore)
      const report = yield* expectFoldsAt(eventStore, readModels, period("2024-01-01T00:00:00.000Z", 2))
      expect(report.churn).toEqual({
        total: 2,
        byReason: { "moved away": 1, unhappy: 1 },
        byMonth: [
          { month: "2024-01", activeAtStart: 1, churned: 2 },
          { month: "2024-02", activeAtStart: 0, churned: 0 },
        ],
      })
      expect(report.rates.churnByMonth).toEqual([
        { month: "2024-01", rate: 2 },
        { month: "2024-02", rate: null },
      ])
      expect(report.cohorts).toEqual([
        { month: "2024-01", registered: 1, retained: [0, 0] },
        { month: "2024-02", registered: 0, retained: [0] },
      ])
      // Registered before the period's end, including December's.
      expect(report.period.customers).toBe(2)
      const day = 86_400_000
      expect(report.stages.durations.customer).toEqual({
        count: 2,
        medianMs: 10 * day,
        p90Ms: 43 * day,
        durationsMs: [10 * day, 43 * day],
      })
      expect(report.stages.durations.churned).toEqual({
        count: 0,
        medianMs: null,
        p90Ms: null,
        durationsMs: [],
      })
    }),
  )

  it.effect("carries the series over months without events, before, between and after them", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      const send = customerCommands(eventStore)
      yield* send("c1", "2024-02-10T09:00:00.000Z", "RegisterLead", { ...lead("One", "B"), owner: reps[1] })
      yield* send("c1", "2024-02-11T09:00:00.000Z", "QualifyLead", {})
      yield* send("c1", "2024-05-11T09:00:00.000Z", "ConvertToCustomer", { firstPurchase: eur(700) })
      yield* send("c1", "2024-05-12T09:00:00.000Z", "RecordFollowUp", {
        channel: "phone",
        summary: "thanks",
        outcome: "happy",
      })
      const readModels = yield* project(eventStore)
      const report = yield* expectFoldsAt(eventStore, readModels, period("2024-01-01T00:00:00.000Z", 8))
      const stages = (lead: number, prospect: number, customer: number) => ({
        lead,
        prospect,
        customer,
        loyal: 0,
        churned: 0,
      })
      expect(report.stages.atMonthEnd).toEqual([
        stages(0, 0, 0),
        stages(0, 1, 0),
        stages(0, 1, 0),
        stages(0, 1, 0),
        stages(0, 0, 1),
        stages(0, 0, 1),
        stages(0, 0, 1),
        stages(0, 0, 1),
      ])
      expect(report.cohorts.map((c) => [c.month, c.registered, c.retained])).toEqual([
        ["2024-01", 0, [0, 0, 0, 0, 0, 0, 0, 0]],
        ["2024-02", 1, [0, 0, 0, 1, 1, 1, 1]],
        ["2024-03", 0, [0, 0, 0, 0, 0, 0]],
        ["2024-04", 0, [0, 0, 0, 0, 0]],
        ["2024-05", 0, [0, 0, 0, 0]],
        ["2024-06", 0, [0, 0, 0]],
        ["2024-07", 0, [0, 0]],
        ["2024-08", 0, [0]],
      ])
      expect(report.churn.byMonth.map((m) => m.activeAtStart)).toEqual([0, 0, 0, 0, 0, 1, 1, 1])
      // Tier B is due every 14 days: 12 May + 14 days is long past at the end of August.
      expect(report.followUps).toEqual({
        recorded: 1,
        byOwner: { "rep-2": { due: 2, onTime: 0, overdue: 2, late: 1, openOverdue: 1, unscheduled: 0 } },
      })
      expect(report.distribution.byOwner).toEqual({
        "rep-2": { total: 1, lead: 0, prospect: 0, customer: 1, loyal: 0, churned: 0 },
      })
      expect(report.distribution.byRegion).toEqual({
        unspecified: { total: 1, lead: 0, prospect: 0, customer: 1, loyal: 0, churned: 0 },
      })
    }),
  )

  it.effect("answers zeros, not errors, before any event; refuses a period that does not start a month", () =>
    Effect.gen(function* () {
      const readModels = yield* project(makeInMemoryEventStore())
      const report = yield* reportOf(readModels, period("2024-01-01T00:00:00.000Z", 1))
      expect(report.period).toEqual({
        customers: 0,
        start: "2024-01-01T00:00:00.000Z",
        end: "2024-02-01T00:00:00.000Z",
        months: ["2024-01"],
      })
      expect(report.stages.atMonthEnd).toEqual([{ lead: 0, prospect: 0, customer: 0, loyal: 0, churned: 0 }])
      expect(report.revenue).toEqual({})
      expect(report.followUps).toEqual({ recorded: 0, byOwner: {} })
      expect(report.rates.conversion).toEqual({
        leadToProspect: null,
        prospectToCustomer: null,
        customerToLoyal: null,
      })
      const refused = yield* Effect.flip(reportOf(readModels, period("2024-01-15T00:00:00.000Z", 1)))
      expect(refused._tag).toBe("InvalidAnalyticsPeriod")
    }),
  )
})
