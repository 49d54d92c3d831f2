/**
 * The simulator's own account of what it did: the figures the analytics projections must equal.
 * A plain object of numbers, strings and arrays, so it serialises to JSON as it is. Every figure is
 * defined precisely in the package README ("The tally"); the comments here are reminders.
 *
 * Conventions: instants are the events' business instants (`occurredAt`, which is `effectiveAt`
 * for a back-dated change); "at the end of month m" means after every event whose business instant
 * is before the first instant of month m + 1; money is in integer minor units, per currency.
 */
import type { Instant, LifecycleStage, Tier } from "@relata/domain"

/** A count per lifecycle stage. */
export type StageCounts = { readonly [S in LifecycleStage]: number }

/** A count per tier. */
export type TierCounts = { readonly [T in Tier]: number }

/** Customers by tier at the start (outer key) and at the end (inner key) of a period. */
export type TierMatrix = { readonly [From in Tier]: TierCounts }

/** Completed stays in one stage, in milliseconds, sorted ascending; median and p90 by nearest rank. */
export interface StageDurations {
  readonly count: number
  readonly medianMs: number | null
  readonly p90Ms: number | null
  readonly durationsMs: ReadonlyArray<number>
}

/** Customers with one value of a dimension (an owner, a region...), by current stage. */
export interface DistributionRow extends StageCounts {
  readonly total: number
}

/** What became of the commands the simulator issued. */
export interface CommandCounts {
  readonly issued: number
  /** Appended at least one event. */
  readonly accepted: number
  /** Accepted with nothing to append (the target already held, e.g. a classification that kept the tier). */
  readonly unchanged: number
  /** Refused with a rule violation; never appended. */
  readonly rejected: number
}

/** Follow-up compliance of one owner (see the README for the precise rules). */
export interface FollowUpCompliance {
  /** Follow-ups that fell due: onTime + overdue. */
  readonly due: number
  /** Recorded with `at` on or before the due instant. */
  readonly onTime: number
  /** late + openOverdue. */
  readonly overdue: number
  /** Recorded with `at` after the due instant. */
  readonly late: number
  /** Customers of this owner whose follow-up is overdue at the end of the period. */
  readonly openOverdue: number
  /** Recorded while none was due (lost deal or churned customer). */
  readonly unscheduled: number
}

/** One point of the Pareto curve: the top `customers` buyers (`percentOfCustomers` % of them, rounded up). */
export interface ParetoPoint {
  readonly percentOfCustomers: number
  readonly customers: number
  readonly revenueMinor: number
}

/** Revenue in one currency. */
export interface CurrencyRevenue {
  readonly purchases: number
  readonly totalMinor: number
  /** Customers with at least one purchase in this currency. */
  readonly buyers: number
  /** Each buyer's total, largest first (ties by customer id). */
  readonly perCustomer: ReadonlyArray<{ readonly customerId: string; readonly revenueMinor: number }>
  /** The top 20% of buyers (rounded up) and their revenue. */
  readonly top20: { readonly customers: number; readonly revenueMinor: number }
  /** At 10%, 20%, ..., 100% of buyers. */
  readonly pareto: ReadonlyArray<ParetoPoint>
  /** Buyers by their tier at the end of the period, and the sum of their lifetime revenue. */
  readonly lifetimeValueByTier: {
    readonly [T in Tier]: { readonly customers: number; readonly totalMinor: number }
  }
}

/** Everything the simulator did, as figures. */
export interface Tally {
  readonly period: {
    readonly seed: number
    /** Customers registered. */
    readonly customers: number
    readonly start: Instant
    /** The first instant after the period (exclusive). */
    readonly end: Instant
    /** The months of the period, `YYYY-MM`; every per-month array follows this order. */
    readonly months: ReadonlyArray<string>
  }
  readonly commands: CommandCounts & { readonly byType: { readonly [type: string]: CommandCounts } }
  /** Rejected commands by rule violation tag. */
  readonly rejections: { readonly [tag: string]: number }
  readonly events: { readonly total: number; readonly byType: { readonly [type: string]: number } }
  readonly stages: {
    /** Customers by stage at the end of the period. */
    readonly now: StageCounts
    /** Leads and prospects whose deal is lost (not reopened) at the end of the period. */
    readonly lostDealsOpen: { readonly lead: number; readonly prospect: number }
    /** Customers by stage at the end of each month. */
    readonly atMonthEnd: ReadonlyArray<StageCounts>
    /** Stage entries by the event that made them. */
    readonly entries: {
      readonly lead: { readonly registered: number; readonly reopened: number }
      readonly prospect: { readonly qualified: number; readonly wonBack: number }
      readonly customer: number
      readonly loyal: { readonly byPolicy: number; readonly byHand: number }
      readonly churned: number
    }
    /** Distinct customers that were ever in each stage (the funnel lead -> prospect -> customer -> loyal). */
    readonly funnel: {
      readonly lead: number
      readonly prospect: number
      readonly customer: number
      readonly loyal: number
    }
    readonly durations: { readonly [S in LifecycleStage]: StageDurations }
  }
  readonly lostDeals: {
    readonly total: number
    readonly byStage: { readonly lead: number; readonly prospect: number }
    readonly byReason: { readonly [reason: string]: number }
    readonly reopened: number
  }
  readonly churn: {
    readonly total: number
    readonly byReason: { readonly [reason: string]: number }
    readonly byMonth: ReadonlyArray<{
      readonly month: string
      readonly activeAtStart: number
      readonly churned: number
    }>
  }
  readonly winBack: {
    /** Churn events (the denominator of "won back / churned"). */
    readonly churns: number
    readonly started: number
    /** Attempts followed by a conversion. */
    readonly succeeded: number
    /** Attempts not followed by a conversion, after which a deal was lost. */
    readonly failed: number
    /** Attempts with neither by the end of the period. */
    readonly open: number
  }
  /** One row per registration month: its size and, per month since, the members that are customer or loyal then. */
  readonly cohorts: ReadonlyArray<{
    readonly month: string
    readonly registered: number
    readonly retained: ReadonlyArray<number>
  }>
  readonly tiers: {
    readonly now: TierCounts
    readonly atMonthEnd: ReadonlyArray<TierCounts>
    /** TierChanged events by origin. */
    readonly changes: {
      readonly byHand: number
      /** Of those by hand: with an `effectiveAt` before the command's `issuedAt`. */
      readonly byHandBackDated: number
      readonly byClassification: number
    }
    /** Per quarter of the period (the last may be shorter): customers registered before it, by tier at its start and end. */
    readonly migration: ReadonlyArray<{
      readonly from: Instant
      readonly to: Instant
      readonly matrix: TierMatrix
    }>
  }
  /** Customers at the end of the period by a dimension of the card; a missing profile field is `unspecified`. */
  readonly distribution: {
    readonly byOwner: { readonly [owner: string]: DistributionRow }
    readonly byDepartment: { readonly [department: string]: DistributionRow }
    readonly byRegion: { readonly [region: string]: DistributionRow }
    readonly byIndustry: { readonly [industry: string]: DistributionRow }
    readonly byCreditLevel: { readonly [level: string]: DistributionRow }
    readonly bySize: { readonly [size: string]: DistributionRow }
  }
  /** Per currency. */
  readonly revenue: { readonly [currency: string]: CurrencyRevenue }
  readonly followUps: {
    readonly recorded: number
    readonly byOwner: { readonly [owner: string]: FollowUpCompliance }
  }
  readonly accounts: {
    readonly frozenNow: number
    readonly freezes: number
    readonly unfreezes: number
    /** OwnerAssigned events. */
    readonly handovers: number
    /** Leads registered as suspected duplicates, confirmed with a reason. */
    readonly duplicates: number
  }
}

/** The key used in distributions for a profile field that is not filled in. */
export const unspecified = "unspecified"

/** The percentile of sorted values by nearest rank (the smallest value with at least p% at or below it). */
export const nearestRank = (sorted: ReadonlyArray<number>, percent: number): number | null =>
  sorted.length === 0 ? null : (sorted[Math.max(0, Math.ceil((percent / 100) * sorted.length) - 1)] as number)
