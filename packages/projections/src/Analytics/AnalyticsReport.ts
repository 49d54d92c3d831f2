/**
 * The figures the analytics read model answers with: the lifecycle funnel, churn and win-back,
 * cohort retention, tiers, distributions, revenue concentration and follow-up compliance. Each
 * section has the shape and the definition of the simulator's tally (packages/simulator, README,
 * "The tally"), against which the tests check them figure by figure; the ratios a manager reads
 * (conversion, churn rate, top-20% share...) are in `AnalyticsRates`, computed from the counts.
 *
 * Conventions (the tally's): figures are placed in time by the events' business instant
 * (`occurredAt`), so a back-dated change counts in the month it took effect; the state at an
 * instant t folds, in stream order, the events whose business instant is before t; "at the end of
 * month m" is at the first instant of month m + 1; months are calendar months in UTC; money is in
 * integer minor units, per currency; percentiles are by nearest rank; tables list only keys with a
 * count, sorted, and a profile field that is not filled in counts under `unspecified`.
 *
 * "Now" is after every event the read model has applied. Counts of events (entries, lost deals,
 * churns, win-backs, tier changes, follow-ups recorded...) are over every event applied, not only
 * those of the period asked for; the series (month ends, churn per month, cohorts, migration) are
 * per month of the period.
 */
import { Instant, type LifecycleStage, type Tier } from "@relata/domain"
import { Schema } from "effect"

// ---------------------------------------------------------------------------------------------
// Periods
// ---------------------------------------------------------------------------------------------

/** Calendar months (UTC) from `start`, the first instant of a month. */
export interface AnalyticsPeriod {
  readonly start: Instant
  readonly months: number
}

/** The period cannot be used: its start is not the first instant of a UTC month, or its length is not 1 to 1200 months. */
export class InvalidAnalyticsPeriod extends Schema.TaggedError<InvalidAnalyticsPeriod>()(
  "InvalidAnalyticsPeriod",
  { start: Schema.String, months: Schema.Number, reason: Schema.String },
) {
  override get message(): string {
    return `Invalid analytics period (${this.start}, ${this.months} months): ${this.reason}`
  }
}

/** The first instant of the month `months` after the month of `start`. */
export const monthStart = (start: Instant, months: number): Instant => {
  const date = new Date(start)
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1)).toISOString() as Instant
}

/** A month's label, `YYYY-MM`, from any instant in it. */
export const monthLabel = (instant: string): string => instant.slice(0, 7)

/** The month boundaries of a period: `months + 1` instants, the last one its (exclusive) end. */
export const periodBounds = (period: AnalyticsPeriod): ReadonlyArray<Instant> =>
  Array.from({ length: period.months + 1 }, (_, i) => monthStart(period.start, i))

/** Checks a period. */
export const checkAnalyticsPeriod = (period: AnalyticsPeriod): InvalidAnalyticsPeriod | undefined => {
  const invalid = (reason: string) =>
    new InvalidAnalyticsPeriod({ start: period.start, months: period.months, reason })
  if (!Schema.is(Instant)(period.start)) return invalid("the start is not an instant")
  if (monthStart(period.start, 0) !== period.start) {
    return invalid("the start must be the first instant of a UTC month")
  }
  if (!Number.isInteger(period.months) || period.months < 1 || period.months > 1200) {
    return invalid("a period has 1 to 1200 months")
  }
  return undefined
}

/**
 * The p-th percentile of ascending values by nearest rank: the value at 1-based rank
 * ceil(p/100 x n); null when there are none. (The same arithmetic as the tally's, floating point
 * included, so the ranks agree.)
 */
export const nearestRank = (sorted: ReadonlyArray<number>, percent: number): number | null =>
  sorted.length === 0 ? null : (sorted[Math.max(0, Math.ceil((percent / 100) * sorted.length) - 1)] as number)

/** The top `percent` % of `n` (rounded up): the Pareto curve's and the top-20% share's k. */
export const topCount = (n: number, percent: number): number => Math.ceil((percent / 100) * n)

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

/** A count per lifecycle stage. */
export type StageCounts = { readonly [S in LifecycleStage]: number }

/** A count per tier. */
export type TierCounts = { readonly [T in Tier]: number }

/** Customers by tier at the start (outer key) and at the end (inner key) of a period. */
export type TierMatrix = { readonly [From in Tier]: TierCounts }

/** Completed stays in one stage, in milliseconds, ascending; median and p90 by nearest rank. */
export interface StageDurations {
  readonly count: number
  readonly medianMs: number | null
  readonly p90Ms: number | null
  readonly durationsMs: ReadonlyArray<number>
}

/** The lifecycle funnel: stages now and at month ends, stage entries, the funnel and time in stage. */
export interface LifecycleFigures {
  /** Customers by stage now. */
  readonly now: StageCounts
  /** Leads and prospects whose deal is lost (not reopened) now. */
  readonly lostDealsOpen: { readonly lead: number; readonly prospect: number }
  /** Customers by stage at the end of each month of the period (customers registered by then). */
  readonly atMonthEnd: ReadonlyArray<StageCounts>
  /** Stage-entering events by kind. */
  readonly entries: {
    readonly lead: { readonly registered: number; readonly reopened: number }
    readonly prospect: { readonly qualified: number; readonly wonBack: number }
    readonly customer: number
    readonly loyal: { readonly byPolicy: number; readonly byHand: number }
    readonly churned: number
  }
  /** Distinct customers that were ever lead (all), prospect, customer, loyal. */
  readonly funnel: {
    readonly lead: number
    readonly prospect: number
    readonly customer: number
    readonly loyal: number
  }
  /** Completed stays per stage: from a stage-entering event to the customer's next one. */
  readonly durations: { readonly [S in LifecycleStage]: StageDurations }
}

/** DealLost events: in total, by the stage lost in and by reason (as recorded); LeadReopened events. */
export interface LostDealFigures {
  readonly total: number
  readonly byStage: { readonly lead: number; readonly prospect: number }
  readonly byReason: { readonly [reason: string]: number }
  readonly reopened: number
}

/** One month of churn: customers (customer or loyal, frozen included) at its start, and churned in it. */
export interface ChurnMonth {
  readonly month: string
  readonly activeAtStart: number
  readonly churned: number
}

export interface ChurnFigures {
  readonly total: number
  readonly byReason: { readonly [reason: string]: number }
  readonly byMonth: ReadonlyArray<ChurnMonth>
}

/** Win-back attempts: succeeded when a conversion follows, else failed when a lost deal does, else open. */
export interface WinBackFigures {
  readonly churns: number
  readonly started: number
  readonly succeeded: number
  readonly failed: number
  readonly open: number
}

/** A registration cohort: its size and, per month since (0: the registration month), the members that are customer or loyal at its end. */
export interface Cohort {
  readonly month: string
  readonly registered: number
  readonly retained: ReadonlyArray<number>
}

/** Customers registered before `from`, by tier at `from` (outer key) and at `to`. */
export interface TierMigration {
  readonly from: Instant
  readonly to: Instant
  readonly matrix: TierMatrix
}

export interface TierFigures {
  readonly now: TierCounts
  readonly atMonthEnd: ReadonlyArray<TierCounts>
  /** TierChanged events by origin; back-dated: effective before the instant it was recorded at. */
  readonly changes: {
    readonly byHand: number
    readonly byHandBackDated: number
    readonly byClassification: number
  }
  /** Per quarter of the period (three months from its start; the last may be shorter). */
  readonly migration: ReadonlyArray<TierMigration>
}

/** Customers now with one value of a dimension, by stage. */
export type DistributionRow = StageCounts & { readonly total: number }

export type DistributionTable = { readonly [key: string]: DistributionRow }

export interface DistributionFigures {
  readonly byOwner: DistributionTable
  readonly byDepartment: DistributionTable
  readonly byRegion: DistributionTable
  readonly byIndustry: DistributionTable
  readonly byCreditLevel: DistributionTable
  readonly bySize: DistributionTable
}

/** The top `customers` buyers (`percentOfCustomers` % of them, rounded up) and their revenue. */
export interface ParetoPoint {
  readonly percentOfCustomers: number
  readonly customers: number
  readonly revenueMinor: number
}

/** Revenue in one currency: purchases are CustomerConverted's first purchase and PurchaseRecorded. */
export interface CurrencyRevenue {
  readonly purchases: number
  readonly totalMinor: number
  /** Customers with revenue > 0 in the currency. */
  readonly buyers: number
  /** Each buyer's lifetime revenue, largest first, ties by customer id (code-unit order). */
  readonly perCustomer: ReadonlyArray<{ readonly customerId: string; readonly revenueMinor: number }>
  readonly top20: { readonly customers: number; readonly revenueMinor: number }
  /** At 10%, 20%, ..., 100% of buyers. */
  readonly pareto: ReadonlyArray<ParetoPoint>
  /** Buyers by their tier now, and the sum of their lifetime revenue. */
  readonly lifetimeValueByTier: {
    readonly [T in Tier]: { readonly customers: number; readonly totalMinor: number }
  }
}

export type RevenueFigures = { readonly [currency: string]: CurrencyRevenue }

/**
 * One owner's follow-ups: each FollowUpRecorded is judged against the due instant of the state just
 * before it (its owner then): on time, late, or unscheduled (none was due). `openOverdue`: the
 * owner's customers whose follow-up is overdue at the instant asked about.
 */
export interface FollowUpCompliance {
  /** onTime + overdue. */
  readonly due: number
  readonly onTime: number
  /** late + openOverdue. */
  readonly overdue: number
  readonly late: number
  readonly openOverdue: number
  readonly unscheduled: number
}

export interface FollowUpFigures {
  readonly recorded: number
  readonly byOwner: { readonly [owner: string]: FollowUpCompliance }
}

export interface AccountFigures {
  readonly frozenNow: number
  readonly freezes: number
  readonly unfreezes: number
  /** OwnerAssigned events. */
  readonly handovers: number
  /** Leads registered as suspected duplicates. */
  readonly duplicates: number
}

export interface EventFigures {
  readonly total: number
  readonly byType: { readonly [type: string]: number }
}

/** The ratios of the counts; null where the denominator is 0. */
export interface AnalyticsRates {
  /** Funnel: prospect / lead, customer / prospect, loyal / customer. */
  readonly conversion: {
    readonly leadToProspect: number | null
    readonly prospectToCustomer: number | null
    readonly customerToLoyal: number | null
  }
  /** Per month of the period: churned / activeAtStart. */
  readonly churnByMonth: ReadonlyArray<{ readonly month: string; readonly rate: number | null }>
  /** Won back / churned (succeeded / churns), and succeeded / started. */
  readonly winBack: { readonly rate: number | null; readonly attemptSuccessRate: number | null }
  /** Per currency: the top 20% of buyers' share of the revenue, and the average lifetime value per tier. */
  readonly revenue: {
    readonly [currency: string]: {
      readonly top20Share: number | null
      readonly averageLifetimeValueByTier: { readonly [T in Tier]: number | null }
    }
  }
  /** Per owner: onTime / due. */
  readonly followUpCompliance: { readonly [owner: string]: number | null }
}

/** Everything, for one period. */
export interface AnalyticsReport {
  readonly period: {
    /** Customers registered before the period's end. */
    readonly customers: number
    readonly start: Instant
    /** The first instant after the period. */
    readonly end: Instant
    /** The period's months, `YYYY-MM`: every per-month array follows this order. */
    readonly months: ReadonlyArray<string>
  }
  readonly events: EventFigures
  readonly stages: LifecycleFigures
  readonly lostDeals: LostDealFigures
  readonly churn: ChurnFigures
  readonly winBack: WinBackFigures
  readonly cohorts: ReadonlyArray<Cohort>
  readonly tiers: TierFigures
  readonly distribution: DistributionFigures
  readonly revenue: RevenueFigures
  readonly followUps: FollowUpFigures
  readonly accounts: AccountFigures
  readonly rates: AnalyticsRates
}

const ratio = (numerator: number, denominator: number): number | null =>
  denominator === 0 ? null : numerator / denominator

/** The ratios of a report's counts. */
export const analyticsRates = (
  report: Pick<AnalyticsReport, "stages" | "churn" | "winBack" | "revenue" | "followUps">,
): AnalyticsRates => {
  const { funnel } = report.stages
  const tiers: ReadonlyArray<Tier> = ["A", "B", "C", "D"]
  return {
    conversion: {
      leadToProspect: ratio(funnel.prospect, funnel.lead),
      prospectToCustomer: ratio(funnel.customer, funnel.prospect),
      customerToLoyal: ratio(funnel.loyal, funnel.customer),
    },
    churnByMonth: report.churn.byMonth.map((row) => ({
      month: row.month,
      rate: ratio(row.churned, row.activeAtStart),
    })),
    winBack: {
      rate: ratio(report.winBack.succeeded, report.winBack.churns),
      attemptSuccessRate: ratio(report.winBack.succeeded, report.winBack.started),
    },
    revenue: Object.fromEntries(
      Object.entries(report.revenue).map(([currency, revenue]) => [
        currency,
        {
          top20Share: ratio(revenue.top20.revenueMinor, revenue.totalMinor),
          averageLifetimeValueByTier: Object.fromEntries(
            tiers.map((tier) => {
              const { customers, totalMinor } = revenue.lifetimeValueByTier[tier]
              return [tier, ratio(totalMinor, customers)]
            }),
          ) as { [T in Tier]: number | null },
        },
      ]),
    ),
    followUpCompliance: Object.fromEntries(
      Object.entries(report.followUps.byOwner).map(([owner, row]) => [owner, ratio(row.onTime, row.due)]),
    ),
  }
}
