/**
 * What readers ask of the analytics read model. Most figures come from the four aggregate documents
 * (one read): counts of events, the figures of now, and month-end series as running sums of the
 * per-month changes (work in the number of months, not of customers). A few figures need a whole
 * distribution or the joint state of customers, and read indexed documents in pages of 1000; their
 * cost is bounded and stated:
 *
 * - stage durations (median, p90 and the sorted list): every completed stay, in index order;
 * - revenue concentration (per-buyer list, top 20%, Pareto points): every buyer of the currency;
 * - open overdue follow-ups: the customers whose follow-up is overdue at the instant asked about;
 * - tier migration: only the customers with a tier change effective within the window (the others
 *   are on the diagonal, counted from the month-end series);
 * - `customersAt` (stages and tiers at any instant, not only month ends): every customer registered
 *   before it.
 *
 * Each query reads the active generation; a report's reads are separate, so figures read while the
 * projection commits may straddle a batch.
 */
import type { CustomerId, Instant, LifecycleStage, Tier } from "@relata/domain"
import { Effect } from "effect"
import {
  type InvalidReadModelQuery,
  type ReadModelDocument,
  type ReadModelQuery,
  type ReadModelReadError,
  ReadModelStore,
} from "../ReadModelStore.ts"
import {
  aggregateIds,
  analyticsAggregatesCollection,
  analyticsCustomersCollection,
  analyticsReasonsCollection,
  analyticsRevenueCollection,
  analyticsStaysCollection,
  analyticsTierChangesCollection,
  type BuyerRevenue,
  type Cohorts,
  type CustomerAnalytics,
  type Dimension,
  type EventCounters,
  emptyCohorts,
  emptyEventCounters,
  emptyNowCounters,
  emptyTimeline,
  type NowCounters,
  type ReasonCount,
  type ReasonKind,
  type StageStay,
  stageList,
  type Timeline,
  tierList,
} from "./AnalyticsProjection.ts"
import {
  type AccountFigures,
  type AnalyticsPeriod,
  type AnalyticsReport,
  analyticsRates,
  type ChurnFigures,
  type Cohort,
  type CurrencyRevenue,
  checkAnalyticsPeriod,
  type DistributionFigures,
  type DistributionRow,
  type DistributionTable,
  type EventFigures,
  type FollowUpCompliance,
  type FollowUpFigures,
  type InvalidAnalyticsPeriod,
  type LifecycleFigures,
  type LostDealFigures,
  monthLabel,
  nearestRank,
  periodBounds,
  type RevenueFigures,
  type StageCounts,
  type StageDurations,
  type TierCounts,
  type TierFigures,
  type TierMatrix,
  type TierMigration,
  topCount,
  type WinBackFigures,
} from "./AnalyticsReport.ts"
import { valueBefore } from "./internal/Breakpoints.ts"

export type AnalyticsQueryError = ReadModelReadError | InvalidReadModelQuery

type Count<K extends string> = Record<K, number>

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/** The aggregate documents, as one snapshot of the counters. */
interface Aggregates {
  readonly counters: EventCounters
  readonly now: NowCounters
  readonly timeline: Timeline
  readonly cohorts: Cohorts
}

const readAggregates: Effect.Effect<Aggregates, ReadModelReadError, ReadModelStore> = Effect.gen(
  function* () {
    const store = yield* ReadModelStore
    const documents = yield* store.getMany(analyticsAggregatesCollection, Object.values(aggregateIds))
    const read = <A>(id: string, empty: () => A): A => (documents.get(id) as A | undefined) ?? empty()
    return {
      counters: read(aggregateIds.counters, emptyEventCounters),
      now: read(aggregateIds.now, emptyNowCounters),
      timeline: read(aggregateIds.timeline, emptyTimeline),
      cohorts: read(aggregateIds.cohorts, emptyCohorts),
    }
  },
)

const pageSize = 1_000

/** Every document that matches, page after page. */
const readAll = (
  collection: string,
  query: Omit<ReadModelQuery, "after" | "limit">,
): Effect.Effect<ReadonlyArray<ReadModelDocument>, AnalyticsQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const all: Array<ReadModelDocument> = []
    let after: string | undefined
    do {
      const page = yield* store.query(collection, {
        ...query,
        limit: pageSize,
        ...(after === undefined ? {} : { after }),
      })
      for (const item of page.items) all.push(item)
      after = page.next
    } while (after !== undefined)
    return all
  })

const checked = (period: AnalyticsPeriod): Effect.Effect<ReadonlyArray<Instant>, InvalidAnalyticsPeriod> => {
  const invalid = checkAnalyticsPeriod(period)
  return invalid === undefined ? Effect.succeed(periodBounds(period)) : Effect.fail(invalid)
}

const sortedKeys = <A>(record: { readonly [key: string]: A }): { [key: string]: A } => {
  const result: { [key: string]: A } = {}
  for (const key of Object.keys(record).sort()) result[key] = record[key] as A
  return result
}

const zeroStages = (): Count<LifecycleStage> => ({ lead: 0, prospect: 0, customer: 0, loyal: 0, churned: 0 })
const zeroTiers = (): Count<Tier> => ({ A: 0, B: 0, C: 0, D: 0 })

/**
 * Running sums of per-month changes: the sums before the first label, and at the end of each label
 * (every change of a month at or before it).
 */
const runningSums = <K extends string>(
  changes: { readonly [month: string]: Partial<Count<K>> },
  keys: ReadonlyArray<K>,
  labels: ReadonlyArray<string>,
  zero: () => Count<K>,
): { readonly before: Count<K>; readonly atEnd: ReadonlyArray<Count<K>> } => {
  const months = Object.keys(changes).sort()
  const running = zero()
  let i = 0
  const addUpTo = (inclusive: boolean, label: string) => {
    while (i < months.length) {
      const month = months[i] as string
      if (inclusive ? month > label : month >= label) break
      const change = changes[month] as Partial<Count<K>>
      for (const key of keys) running[key] += change[key] ?? 0
      i++
    }
  }
  addUpTo(false, labels[0] ?? "")
  const before = { ...running }
  const atEnd = labels.map((label) => {
    addUpTo(true, label)
    return { ...running }
  })
  return { before, atEnd }
}

/** Running sums of one number per month, at the end of each label. */
const runningTotals = (
  changes: { readonly [month: string]: number },
  labels: ReadonlyArray<string>,
): ReadonlyArray<number> => {
  const months = Object.keys(changes).sort()
  let running = 0
  let i = 0
  return labels.map((label) => {
    while (i < months.length && (months[i] as string) <= label) {
      running += changes[months[i] as string] as number
      i++
    }
    return running
  })
}

const stageSeries = (timeline: Timeline, labels: ReadonlyArray<string>) => {
  const stages: { [month: string]: Partial<Count<LifecycleStage>> } = {}
  for (const [month, change] of Object.entries(timeline.months)) stages[month] = change.stages
  return runningSums(stages, stageList, labels, zeroStages)
}

const tierSeries = (timeline: Timeline, labels: ReadonlyArray<string>) => {
  const tiers: { [month: string]: Partial<Count<Tier>> } = {}
  for (const [month, change] of Object.entries(timeline.months)) tiers[month] = change.tiers
  return runningSums(tiers, tierList, labels, zeroTiers)
}

const reasonsOf = (kind: ReasonKind) =>
  Effect.map(readAll(analyticsReasonsCollection, { where: { kind } }), (items) => {
    const byReason: { [reason: string]: number } = {}
    for (const { document } of items) {
      const entry = document as unknown as ReasonCount
      if (entry.count > 0) byReason[entry.reason] = entry.count
    }
    return sortedKeys(byReason)
  })

// ---------------------------------------------------------------------------------------------
// Figures from the aggregates
// ---------------------------------------------------------------------------------------------

const eventsOf = ({ counters }: Aggregates): EventFigures => ({
  total: counters.events.total,
  byType: sortedKeys(counters.events.byType),
})

const accountsOf = ({ counters, now }: Aggregates): AccountFigures => ({
  frozenNow: now.frozen,
  ...counters.accounts,
})

const winBackOf = ({ counters }: Aggregates): WinBackFigures => ({
  churns: counters.entries.churned,
  ...counters.winBack,
})

const distributionOf = ({ now }: Aggregates): DistributionFigures => {
  const table = (dimension: Dimension): DistributionTable => {
    const rows: { [key: string]: DistributionRow } = {}
    for (const [key, row] of Object.entries(now.distribution[dimension])) {
      if (row.total > 0) rows[key] = { ...row }
    }
    return sortedKeys(rows)
  }
  return {
    byOwner: table("owner"),
    byDepartment: table("department"),
    byRegion: table("region"),
    byIndustry: table("industry"),
    byCreditLevel: table("creditLevel"),
    bySize: table("size"),
  }
}

const cohortsOf = ({ cohorts }: Aggregates, labels: ReadonlyArray<string>): ReadonlyArray<Cohort> =>
  labels.map((month, c) => {
    const cohort = cohorts.cohorts[month]
    const since = labels.slice(c)
    return {
      month,
      registered: cohort?.registered ?? 0,
      retained: cohort === undefined ? since.map(() => 0) : runningTotals(cohort.active, since),
    }
  })

const churnOf = (
  aggregates: Aggregates,
  labels: ReadonlyArray<string>,
  byReason: { readonly [reason: string]: number },
): ChurnFigures => {
  const { before, atEnd } = stageSeries(aggregates.timeline, labels)
  return {
    total: aggregates.counters.entries.churned,
    byReason,
    byMonth: labels.map((month, m) => {
      const start = m === 0 ? before : (atEnd[m - 1] as StageCounts)
      return {
        month,
        activeAtStart: start.customer + start.loyal,
        churned: aggregates.timeline.months[month]?.churned ?? 0,
      }
    }),
  }
}

// ---------------------------------------------------------------------------------------------
// Figures that read indexed documents
// ---------------------------------------------------------------------------------------------

/** Every completed stay per stage, sorted, with median and p90 (reads every stay: O(stays)). */
export const stageDurations = (): Effect.Effect<
  LifecycleFigures["durations"],
  AnalyticsQueryError,
  ReadModelStore
> =>
  Effect.gen(function* () {
    const result = {} as Record<LifecycleStage, StageDurations>
    for (const stage of stageList) {
      const stays = yield* readAll(analyticsStaysCollection, {
        where: { stage },
        orderBy: { field: "durationMs", direction: "asc" },
      })
      const sorted = stays.map(({ document }) => (document as unknown as StageStay).durationMs)
      result[stage] = {
        count: sorted.length,
        medianMs: nearestRank(sorted, 50),
        p90Ms: nearestRank(sorted, 90),
        durationsMs: sorted,
      }
    }
    return result
  })

const revenueOf = (
  aggregates: Aggregates,
): Effect.Effect<RevenueFigures, AnalyticsQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const revenue: { [currency: string]: CurrencyRevenue } = {}
    for (const currency of Object.keys(aggregates.counters.purchases).sort()) {
      const rows = yield* readAll(analyticsRevenueCollection, {
        where: { currency },
        orderBy: { field: "revenueMinor", direction: "desc" },
      })
      const perCustomer = rows
        .map(({ document }) => {
          const row = document as unknown as BuyerRevenue
          // The projection keys revenue by the id of a decoded event, so it is a CustomerId.
          return { customerId: row.customerId as CustomerId, revenueMinor: row.revenueMinor }
        })
        .sort((a, b) => b.revenueMinor - a.revenueMinor || (a.customerId < b.customerId ? -1 : 1))
      const cumulative: Array<number> = []
      let total = 0
      for (const buyer of perCustomer) {
        total += buyer.revenueMinor
        cumulative.push(total)
      }
      const top = (percent: number) => {
        const customers = topCount(perCustomer.length, percent)
        return { customers, revenueMinor: customers === 0 ? 0 : (cumulative[customers - 1] as number) }
      }
      const byTier = aggregates.now.lifetimeValue[currency]
      revenue[currency] = {
        purchases: aggregates.counters.purchases[currency] as number,
        totalMinor: total,
        buyers: perCustomer.length,
        perCustomer,
        top20: top(20),
        pareto: Array.from({ length: 10 }, (_, i) => ({
          percentOfCustomers: (i + 1) * 10,
          ...top((i + 1) * 10),
        })),
        lifetimeValueByTier: {
          A: { ...(byTier?.A ?? { customers: 0, totalMinor: 0 }) },
          B: { ...(byTier?.B ?? { customers: 0, totalMinor: 0 }) },
          C: { ...(byTier?.C ?? { customers: 0, totalMinor: 0 }) },
          D: { ...(byTier?.D ?? { customers: 0, totalMinor: 0 }) },
        },
      }
    }
    return revenue
  })

const followUpsOf = (
  aggregates: Aggregates,
  overdueAt: Instant,
): Effect.Effect<FollowUpFigures, AnalyticsQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const overdue = yield* readAll(analyticsCustomersCollection, {
      where: { followUpDue: { lt: overdueAt } },
    })
    const openOverdue: { [owner: string]: number } = {}
    for (const { document } of overdue) {
      const owner = (document as unknown as CustomerAnalytics).owner
      openOverdue[owner] = (openOverdue[owner] ?? 0) + 1
    }
    const owners = new Set([
      ...Object.keys(aggregates.counters.followUps.byOwner),
      ...Object.keys(openOverdue),
    ])
    const byOwner: { [owner: string]: FollowUpCompliance } = {}
    for (const owner of [...owners].sort()) {
      const recorded = aggregates.counters.followUps.byOwner[owner] ?? { onTime: 0, late: 0, unscheduled: 0 }
      const open = openOverdue[owner] ?? 0
      byOwner[owner] = {
        due: recorded.onTime + recorded.late + open,
        onTime: recorded.onTime,
        overdue: recorded.late + open,
        late: recorded.late,
        openOverdue: open,
        unscheduled: recorded.unscheduled,
      }
    }
    return { recorded: aggregates.counters.followUps.recorded, byOwner }
  })

/**
 * The customers registered before `from` by tier at `from` and at `to` (month starts), given the
 * tiers at `from`: only customers with a tier change effective in [from, to) can leave the diagonal,
 * so only they are read.
 */
const migrationOf = (
  from: Instant,
  to: Instant,
  tiersAtFrom: TierCounts,
): Effect.Effect<TierMigration, AnalyticsQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const changes = yield* readAll(analyticsTierChangesCollection, { where: { at: { gte: from, lt: to } } })
    const candidates = [...new Set(changes.map(({ document }) => String(document.customerId)))]
    const moved = { A: zeroTiers(), B: zeroTiers(), C: zeroTiers(), D: zeroTiers() }
    for (let i = 0; i < candidates.length; i += pageSize) {
      const documents = yield* store.getMany(analyticsCustomersCollection, candidates.slice(i, i + pageSize))
      for (const document of documents.values()) {
        const customer = document as unknown as CustomerAnalytics
        if (customer.registeredAt >= from) continue
        const before = valueBefore(customer.tiers, from)
        const after = valueBefore(customer.tiers, to)
        if (before !== undefined && after !== undefined && before !== after) moved[before][after]++
      }
    }
    const matrix = {} as Record<Tier, TierCounts>
    for (const tier of tierList) {
      const row = moved[tier]
      let left = 0
      for (const other of tierList) left += row[other]
      matrix[tier] = { ...row, [tier]: tiersAtFrom[tier] - left }
    }
    return { from, to, matrix: matrix as TierMatrix }
  })

const tiersOf = (
  aggregates: Aggregates,
  bounds: ReadonlyArray<Instant>,
): Effect.Effect<TierFigures, AnalyticsQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const labels = bounds.slice(0, -1).map(monthLabel)
    const { before, atEnd } = tierSeries(aggregates.timeline, labels)
    const months = labels.length
    const migration: Array<TierMigration> = []
    for (let m = 0; m < months; m += 3) {
      const from = bounds[m] as Instant
      const to = bounds[Math.min(m + 3, months)] as Instant
      migration.push(yield* migrationOf(from, to, m === 0 ? before : (atEnd[m - 1] as TierCounts)))
    }
    return {
      now: { ...aggregates.now.tiers },
      atMonthEnd: atEnd,
      changes: { ...aggregates.counters.tierChanges },
      migration,
    }
  })

const lifecycleOf = (
  aggregates: Aggregates,
  labels: ReadonlyArray<string>,
): Effect.Effect<LifecycleFigures, AnalyticsQueryError, ReadModelStore> =>
  Effect.map(stageDurations(), (durations) => {
    const { counters, now } = aggregates
    return {
      now: { ...now.stages },
      lostDealsOpen: { ...now.lostDealsOpen },
      atMonthEnd: stageSeries(aggregates.timeline, labels).atEnd,
      entries: counters.entries,
      funnel: { lead: counters.customers, ...counters.funnel },
      durations,
    }
  })

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** Options of the figures that depend on an instant. */
export interface AnalyticsReportOptions {
  /** The instant open follow-ups are overdue at; default the period's end (as the tally counts them). */
  readonly overdueAt?: Instant
}

/** Every figure, for a period. */
export const analyticsReport = (
  period: AnalyticsPeriod,
  options: AnalyticsReportOptions = {},
): Effect.Effect<AnalyticsReport, AnalyticsQueryError | InvalidAnalyticsPeriod, ReadModelStore> =>
  Effect.gen(function* () {
    const bounds = yield* checked(period)
    const end = bounds[bounds.length - 1] as Instant
    const labels = bounds.slice(0, -1).map(monthLabel)
    const aggregates = yield* readAggregates
    const endLabel = monthLabel(end)
    let customers = 0
    for (const [month, cohort] of Object.entries(aggregates.cohorts.cohorts)) {
      if (month < endLabel) customers += cohort.registered
    }
    const stages = yield* lifecycleOf(aggregates, labels)
    const lostDeals: LostDealFigures = {
      ...aggregates.counters.lostDeals,
      byReason: yield* reasonsOf("lostDeal"),
    }
    const churn = churnOf(aggregates, labels, yield* reasonsOf("churn"))
    const winBack = winBackOf(aggregates)
    const tiers = yield* tiersOf(aggregates, bounds)
    const revenue = yield* revenueOf(aggregates)
    const followUps = yield* followUpsOf(aggregates, options.overdueAt ?? end)
    const figures = { stages, churn, winBack, revenue, followUps }
    return {
      period: { customers, start: period.start, end, months: labels },
      events: eventsOf(aggregates),
      stages,
      lostDeals,
      churn,
      winBack,
      cohorts: cohortsOf(aggregates, labels),
      tiers,
      distribution: distributionOf(aggregates),
      revenue,
      followUps,
      accounts: accountsOf(aggregates),
      rates: analyticsRates(figures),
    }
  })

/** The lifecycle funnel: stages now and at each month end of the period, entries, funnel, time in stage. */
export const lifecycleFigures = (
  period: AnalyticsPeriod,
): Effect.Effect<LifecycleFigures, AnalyticsQueryError | InvalidAnalyticsPeriod, ReadModelStore> =>
  Effect.gen(function* () {
    const bounds = yield* checked(period)
    return yield* lifecycleOf(yield* readAggregates, bounds.slice(0, -1).map(monthLabel))
  })

/** Lost deals: in total, by stage and by reason; reopened leads. */
export const lostDealFigures = (): Effect.Effect<LostDealFigures, AnalyticsQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const { counters } = yield* readAggregates
    return { ...counters.lostDeals, byReason: yield* reasonsOf("lostDeal") }
  })

/** Churns: in total, by reason, and per month of the period with the customers active at its start. */
export const churnFigures = (
  period: AnalyticsPeriod,
): Effect.Effect<ChurnFigures, AnalyticsQueryError | InvalidAnalyticsPeriod, ReadModelStore> =>
  Effect.gen(function* () {
    const bounds = yield* checked(period)
    const aggregates = yield* readAggregates
    return churnOf(aggregates, bounds.slice(0, -1).map(monthLabel), yield* reasonsOf("churn"))
  })

/** Win-back attempts and their outcomes, and churns. */
export const winBackFigures = (): Effect.Effect<WinBackFigures, ReadModelReadError, ReadModelStore> =>
  Effect.map(readAggregates, winBackOf)

/** Retention by registration cohort, one row per month of the period. */
export const cohortRetention = (
  period: AnalyticsPeriod,
): Effect.Effect<ReadonlyArray<Cohort>, ReadModelReadError | InvalidAnalyticsPeriod, ReadModelStore> =>
  Effect.gen(function* () {
    const bounds = yield* checked(period)
    return cohortsOf(yield* readAggregates, bounds.slice(0, -1).map(monthLabel))
  })

/** Tiers now and at each month end, tier changes, and the migration matrix per quarter of the period. */
export const tierFigures = (
  period: AnalyticsPeriod,
): Effect.Effect<TierFigures, AnalyticsQueryError | InvalidAnalyticsPeriod, ReadModelStore> =>
  Effect.gen(function* () {
    const bounds = yield* checked(period)
    return yield* tiersOf(yield* readAggregates, bounds)
  })

/** The tier migration matrix between the start and the end of a period (any number of months). */
export const tierMigration = (
  period: AnalyticsPeriod,
): Effect.Effect<TierMigration, AnalyticsQueryError | InvalidAnalyticsPeriod, ReadModelStore> =>
  Effect.gen(function* () {
    const bounds = yield* checked(period)
    const aggregates = yield* readAggregates
    const { before } = tierSeries(aggregates.timeline, [monthLabel(period.start)])
    return yield* migrationOf(period.start, bounds[bounds.length - 1] as Instant, before)
  })

/** Customers now by owner, department, region, industry, credit level and size, with their stages. */
export const distributionFigures = (): Effect.Effect<
  DistributionFigures,
  ReadModelReadError,
  ReadModelStore
> => Effect.map(readAggregates, distributionOf)

/** Revenue per currency: per buyer, top 20%, Pareto points, lifetime value per tier now. */
export const revenueFigures = (): Effect.Effect<RevenueFigures, AnalyticsQueryError, ReadModelStore> =>
  Effect.flatMap(readAggregates, revenueOf)

/** Follow-up compliance per owner, with the follow-ups overdue at `overdueAt`. */
export const followUpFigures = (
  overdueAt: Instant,
): Effect.Effect<FollowUpFigures, AnalyticsQueryError, ReadModelStore> =>
  Effect.flatMap(readAggregates, (aggregates) => followUpsOf(aggregates, overdueAt))

/** Freezes, unfreezes, handovers, confirmed duplicates, and the accounts frozen now. */
export const accountFigures = (): Effect.Effect<AccountFigures, ReadModelReadError, ReadModelStore> =>
  Effect.map(readAggregates, accountsOf)

/** Events applied, in total and by type. */
export const eventFigures = (): Effect.Effect<EventFigures, ReadModelReadError, ReadModelStore> =>
  Effect.map(readAggregates, eventsOf)

/**
 * Customers by stage and by tier at any instant (the fold of the events effective before it), not
 * only at month ends. Reads every customer registered before the instant: O(customers).
 */
export const customersAt = (
  instant: Instant,
): Effect.Effect<
  { readonly stages: StageCounts; readonly tiers: TierCounts },
  AnalyticsQueryError,
  ReadModelStore
> =>
  Effect.map(readAll(analyticsCustomersCollection, { where: { registeredAt: { lt: instant } } }), (items) => {
    const stages = zeroStages()
    const tiers = zeroTiers()
    for (const { document } of items) {
      const customer = document as unknown as CustomerAnalytics
      const stage = valueBefore(customer.stages, instant)
      const tier = valueBefore(customer.tiers, instant)
      if (stage !== undefined) stages[stage]++
      if (tier !== undefined) tiers[tier]++
    }
    return { stages, tiers }
  })
