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
import {
  ActorId,
  CompanySize,
  CreditLevel,
  CurrencyCode,
  CustomerId,
  customerEventTypes,
  Department,
  Industry,
  Instant,
  LifecycleStage,
  Reason,
  Region,
  Tier,
} from "@relata/domain"
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

// Each figure is a schema, its type derived from it: the schema is what the API answers with and
// documents (each identified one is a named component of the OpenAPI document). Figures that run
// over open sets of names (owners, regions, reasons, currencies) are string-keyed records whose
// keys are checked against the domain's schema, so readers can still index them with any string.

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0, { description: "a count (0 or more)" }))

/** Money in integer minor units (cents, fen) of one currency. */
const MinorUnits = Schema.Int.check(
  Schema.isGreaterThanOrEqualTo(0, { description: "an amount in minor units of the currency (0 or more)" }),
)

/** A ratio of two counts (or an average); null where the denominator is 0. */
const Ratio = Schema.NullOr(
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0, { description: "a ratio (0 or more)" })),
)

/** Where a profile field or department is not filled in, the tables count it under this key. */
const Unspecified = Schema.Literal("unspecified")

/** Describes a field (on the property, so an identified schema stays one named component). */
const described =
  (description: string) =>
  <S extends Schema.Top>(self: S): S["Rebuild"] =>
    Schema.annotateKey<S>({ description })(self)

/** A calendar month (UTC), `YYYY-MM`. */
export const MonthLabel = Schema.String.check(
  // The `u` flag lets the pattern into the JSON Schema (Effect exports only unicode patterns).
  Schema.isPattern(/^\d{4}-(0[1-9]|1[0-2])$/u, { expected: "a month such as 2024-01" }),
)

/** A count per lifecycle stage. */
export const StageCounts = Schema.Record(LifecycleStage, Count).annotate({
  identifier: "StageCounts",
  description: "A count per lifecycle stage.",
})
export type StageCounts = typeof StageCounts.Type

/** A count per tier. */
export const TierCounts = Schema.Record(Tier, Count).annotate({
  identifier: "TierCounts",
  description: "A count per tier.",
})
export type TierCounts = typeof TierCounts.Type

/** Customers by tier at the start (outer key) and at the end (inner key) of a period. */
export const TierMatrix = Schema.Record(Tier, TierCounts).annotate({
  identifier: "TierMatrix",
  description: "Customers by tier at the start (outer key) and at the end (inner key) of a period.",
})
export type TierMatrix = typeof TierMatrix.Type

/** Completed stays in one stage, in milliseconds, ascending; median and p90 by nearest rank. */
export const StageDurations = Schema.Struct({
  count: Count.pipe(described("Completed stays.")),
  medianMs: Schema.NullOr(Schema.Int).pipe(
    described("The median stay in ms by nearest rank; null without stays."),
  ),
  p90Ms: Schema.NullOr(Schema.Int).pipe(
    described("The 90th percentile in ms by nearest rank; null without stays."),
  ),
  durationsMs: Schema.Array(Schema.Int).pipe(described("Every completed stay in ms, ascending.")),
}).annotate({
  identifier: "StageDurations",
  description:
    "Completed stays in one stage: from a stage-entering event to the customer's next one, by business instant.",
})
export type StageDurations = typeof StageDurations.Type

/** The lifecycle funnel: stages now and at month ends, stage entries, the funnel and time in stage. */
export const LifecycleFigures = Schema.Struct({
  now: StageCounts.pipe(described("Customers by stage now.")),
  lostDealsOpen: Schema.Struct({ lead: Count, prospect: Count }).pipe(
    described("Leads and prospects whose deal is lost (not reopened) now."),
  ),
  atMonthEnd: Schema.Array(StageCounts).pipe(
    described("Customers by stage at the end of each month of the period (customers registered by then)."),
  ),
  entries: Schema.Struct({
    lead: Schema.Struct({ registered: Count, reopened: Count }),
    prospect: Schema.Struct({ qualified: Count, wonBack: Count }),
    customer: Count,
    loyal: Schema.Struct({ byPolicy: Count, byHand: Count }),
    churned: Count,
  }).pipe(described("Stage-entering events by kind, over every event applied.")),
  funnel: Schema.Struct({ lead: Count, prospect: Count, customer: Count, loyal: Count }).pipe(
    described("Distinct customers that were ever lead (all), prospect, customer, loyal."),
  ),
  durations: Schema.Record(LifecycleStage, StageDurations).pipe(described("Completed stays per stage.")),
}).annotate({
  identifier: "LifecycleFigures",
  description:
    "The lifecycle funnel: customers per stage now and at each month end, stage entries, the funnel, time in each stage.",
})
export type LifecycleFigures = typeof LifecycleFigures.Type

/** A count per reason, as recorded on the events. */
const ByReason = Schema.Record(Schema.String, Count).check(Schema.isPropertyNames(Reason))

/** DealLost events: in total, by the stage lost in and by reason (as recorded); LeadReopened events. */
export const LostDealFigures = Schema.Struct({
  total: Count.pipe(described("DealLost events.")),
  byStage: Schema.Struct({ lead: Count, prospect: Count }).pipe(
    described("DealLost events by the stage lost in."),
  ),
  byReason: ByReason.pipe(described("DealLost events by reason, as recorded.")),
  reopened: Count.pipe(described("LeadReopened events.")),
}).annotate({
  identifier: "LostDealFigures",
  description: "Lost deals in total, by stage and by reason; reopened leads. Over every event applied.",
})
export type LostDealFigures = typeof LostDealFigures.Type

/** One month of churn: customers (customer or loyal, frozen included) at its start, and churned in it. */
export const ChurnMonth = Schema.Struct({
  month: MonthLabel,
  activeAtStart: Count.pipe(
    described("Customers (customer or loyal, frozen included) at the month's start."),
  ),
  churned: Count.pipe(described("CustomerChurned events effective in the month.")),
}).annotate({ identifier: "ChurnMonth", description: "One month of churn." })
export type ChurnMonth = typeof ChurnMonth.Type

/** Churns: in total, by reason, and per month of the period. */
export const ChurnFigures = Schema.Struct({
  total: Count.pipe(described("CustomerChurned events.")),
  byReason: ByReason.pipe(described("CustomerChurned events by reason, as recorded.")),
  byMonth: Schema.Array(ChurnMonth).pipe(described("Per month of the period.")),
}).annotate({
  identifier: "ChurnFigures",
  description: "Churn in total, by reason, and per month of the period (churned / active at its start).",
})
export type ChurnFigures = typeof ChurnFigures.Type

/** Win-back attempts: succeeded when a conversion follows, else failed when a lost deal does, else open. */
export const WinBackFigures = Schema.Struct({
  churns: Count.pipe(described("CustomerChurned events.")),
  started: Count.pipe(described("CustomerWinBackStarted events.")),
  succeeded: Count.pipe(described("Attempts followed by a conversion.")),
  failed: Count.pipe(described("Attempts followed by a lost deal, without a conversion.")),
  open: Count.pipe(described("Attempts not decided yet.")),
}).annotate({
  identifier: "WinBackFigures",
  description:
    "Win-back attempts: succeeded when a conversion follows, else failed when a lost deal does, else open.",
})
export type WinBackFigures = typeof WinBackFigures.Type

/** A registration cohort: its size and, per month since, the members that are customer or loyal at its end. */
export const Cohort = Schema.Struct({
  month: MonthLabel.pipe(described("The registration month.")),
  registered: Count.pipe(described("Customers registered in the month.")),
  retained: Schema.Array(Count).pipe(
    described(
      "Per month since (0: the registration month, to the period's end), the members that are customer or loyal at its end.",
    ),
  ),
}).annotate({ identifier: "Cohort", description: "A registration cohort and its retention." })
export type Cohort = typeof Cohort.Type

/** One cohort per month of the period. */
export const CohortRetention = Schema.Array(Cohort).annotate({
  identifier: "CohortRetention",
  description: "Retention by registration cohort, one row per month of the period: a cohort x month matrix.",
})

/** Customers registered before `from`, by tier at `from` (outer key) and at `to`. */
export const TierMigration = Schema.Struct({
  from: Instant,
  to: Instant,
  matrix: TierMatrix,
}).annotate({
  identifier: "TierMigration",
  description: "Customers registered before `from`, by tier at `from` (outer key) and at `to` (inner key).",
})
export type TierMigration = typeof TierMigration.Type

/** Tiers now and at month ends, tier changes, and the migration per quarter. */
export const TierFigures = Schema.Struct({
  now: TierCounts.pipe(described("Customers by tier now.")),
  atMonthEnd: Schema.Array(TierCounts).pipe(
    described("Customers by tier at the end of each month of the period."),
  ),
  changes: Schema.Struct({ byHand: Count, byHandBackDated: Count, byClassification: Count }).pipe(
    described("TierChanged events by origin; back-dated: effective before the instant it was recorded at."),
  ),
  migration: Schema.Array(TierMigration).pipe(
    described("Per quarter of the period (three months from its start; the last may be shorter)."),
  ),
}).annotate({
  identifier: "TierFigures",
  description: "Tiers now and at each month end, tier changes, and the migration matrix per quarter.",
})
export type TierFigures = typeof TierFigures.Type

/** Customers now with one value of a dimension, by stage, and their total. */
export const DistributionRow = Schema.Record(
  Schema.Literals([...LifecycleStage.literals, "total"]),
  Count,
).annotate({
  identifier: "DistributionRow",
  description: "Customers now with one value of a dimension, by stage, and their total.",
})
export type DistributionRow = typeof DistributionRow.Type

const DistributionTable = Schema.Record(Schema.String, DistributionRow)
/** Rows keyed by a dimension's values; only values with customers are listed. */
export type DistributionTable = typeof DistributionTable.Type

const tableBy = (key: Schema.Constraint) => DistributionTable.check(Schema.isPropertyNames(key))
const tableOf = <const L extends ReadonlyArray<string>>(key: Schema.Literals<L>) =>
  Schema.Record(Schema.Union([key, Unspecified]), Schema.optionalKey(DistributionRow))

/** Customers now by owner, department, region, industry, credit level and size, with their stages. */
export const DistributionFigures = Schema.Struct({
  byOwner: tableBy(ActorId).pipe(described("By owner (an actor id).")),
  byDepartment: tableBy(Schema.Union([Department, Unspecified])).pipe(described("By department.")),
  byRegion: tableBy(Schema.Union([Region, Unspecified])).pipe(described("By region.")),
  byIndustry: tableBy(Schema.Union([Industry, Unspecified])).pipe(described("By industry.")),
  byCreditLevel: tableOf(CreditLevel).pipe(described("By credit level.")),
  bySize: tableOf(CompanySize).pipe(described("By company size.")),
}).annotate({
  identifier: "DistributionFigures",
  description:
    "Customers now by owner, department, region, industry, credit level and size, with their stages. Each table lists only the values with customers; a field not filled in counts under `unspecified`.",
})
export type DistributionFigures = typeof DistributionFigures.Type

/** The top `customers` buyers (`percentOfCustomers` % of them, rounded up) and their revenue. */
export const ParetoPoint = Schema.Struct({
  percentOfCustomers: Count,
  customers: Count,
  revenueMinor: MinorUnits,
}).annotate({
  identifier: "ParetoPoint",
  description: "The top `customers` buyers (`percentOfCustomers` % of them, rounded up) and their revenue.",
})
export type ParetoPoint = typeof ParetoPoint.Type

/** Revenue in one currency: purchases are CustomerConverted's first purchase and PurchaseRecorded. */
export const CurrencyRevenue = Schema.Struct({
  purchases: Count.pipe(described("First purchases (CustomerConverted) and PurchaseRecorded events.")),
  totalMinor: MinorUnits.pipe(described("Their sum.")),
  buyers: Count.pipe(described("Customers with revenue > 0 in the currency.")),
  perCustomer: Schema.Array(Schema.Struct({ customerId: CustomerId, revenueMinor: MinorUnits })).pipe(
    described("Each buyer's lifetime revenue, largest first, ties by customer id (code-unit order)."),
  ),
  top20: Schema.Struct({ customers: Count, revenueMinor: MinorUnits }).pipe(
    described("The top 20% of buyers (rounded up) and their revenue."),
  ),
  pareto: Schema.Array(ParetoPoint).pipe(described("At 10%, 20%, ..., 100% of buyers.")),
  lifetimeValueByTier: Schema.Record(Tier, Schema.Struct({ customers: Count, totalMinor: MinorUnits })).pipe(
    described("Buyers by their tier now, and the sum of their lifetime revenue."),
  ),
}).annotate({
  identifier: "CurrencyRevenue",
  description:
    "Revenue in one currency, in minor units: purchases, buyers, concentration, lifetime value per tier.",
})
export type CurrencyRevenue = typeof CurrencyRevenue.Type

/** Revenue per currency. */
export const RevenueFigures = Schema.Record(Schema.String, CurrencyRevenue)
  .check(Schema.isPropertyNames(CurrencyCode))
  .annotate({
    identifier: "RevenueFigures",
    description:
      "Revenue concentration per currency (ISO 4217 code): the top 20% share, the Pareto curve, lifetime value per tier.",
  })
export type RevenueFigures = typeof RevenueFigures.Type

/**
 * One owner's follow-ups: each FollowUpRecorded is judged against the due instant of the state just
 * before it (its owner then): on time, late, or unscheduled (none was due). `openOverdue`: the
 * owner's customers whose follow-up is overdue at the instant asked about.
 */
export const FollowUpCompliance = Schema.Struct({
  due: Count.pipe(described("onTime + overdue.")),
  onTime: Count.pipe(described("Follow-ups recorded by their due instant.")),
  overdue: Count.pipe(described("late + openOverdue.")),
  late: Count.pipe(described("Follow-ups recorded after their due instant.")),
  openOverdue: Count.pipe(described("The owner's customers whose follow-up is overdue now.")),
  unscheduled: Count.pipe(described("Follow-ups recorded when none was due.")),
}).annotate({
  identifier: "FollowUpCompliance",
  description:
    "One owner's follow-ups, each judged against the due instant of the state just before it (its owner then).",
})
export type FollowUpCompliance = typeof FollowUpCompliance.Type

/** Follow-ups recorded, and compliance per owner. */
export const FollowUpFigures = Schema.Struct({
  recorded: Count.pipe(described("FollowUpRecorded events.")),
  byOwner: Schema.Record(Schema.String, FollowUpCompliance)
    .check(Schema.isPropertyNames(ActorId))
    .pipe(described("Per owner (an actor id).")),
}).annotate({
  identifier: "FollowUpFigures",
  description: "Follow-up compliance per owner: due, done on time, overdue now.",
})
export type FollowUpFigures = typeof FollowUpFigures.Type

/** Freezes, unfreezes, handovers, duplicates, and the accounts frozen now. */
export const AccountFigures = Schema.Struct({
  frozenNow: Count.pipe(described("Accounts frozen now.")),
  freezes: Count.pipe(described("AccountFrozen events.")),
  unfreezes: Count.pipe(described("AccountUnfrozen events.")),
  handovers: Count.pipe(described("OwnerAssigned events.")),
  duplicates: Count.pipe(described("Leads registered as suspected duplicates.")),
}).annotate({
  identifier: "AccountFigures",
  description: "Freezes, unfreezes, handovers, suspected duplicates, accounts frozen now.",
})
export type AccountFigures = typeof AccountFigures.Type

/** Events applied, in total and by type. */
export const EventFigures = Schema.Struct({
  total: Count.pipe(described("Events applied.")),
  byType: Schema.Record(Schema.Literals(customerEventTypes), Schema.optionalKey(Count)).pipe(
    described("Events applied by type; only the types that occurred."),
  ),
}).annotate({ identifier: "EventFigures", description: "Events applied, in total and by type." })
export type EventFigures = typeof EventFigures.Type

/** The ratios of the counts; null where the denominator is 0. */
export const AnalyticsRates = Schema.Struct({
  conversion: Schema.Struct({
    leadToProspect: Ratio,
    prospectToCustomer: Ratio,
    customerToLoyal: Ratio,
  }).pipe(described("Funnel: prospect / lead, customer / prospect, loyal / customer.")),
  churnByMonth: Schema.Array(Schema.Struct({ month: MonthLabel, rate: Ratio })).pipe(
    described("Per month of the period: churned / activeAtStart."),
  ),
  winBack: Schema.Struct({ rate: Ratio, attemptSuccessRate: Ratio }).pipe(
    described("Won back / churned (succeeded / churns), and succeeded / started."),
  ),
  revenue: Schema.Record(
    Schema.String,
    Schema.Struct({
      top20Share: Ratio.pipe(described("The top 20% of buyers' share of the revenue.")),
      averageLifetimeValueByTier: Schema.Record(Tier, Ratio).pipe(
        described("The average lifetime revenue of a buyer per tier now, in minor units."),
      ),
    }),
  )
    .check(Schema.isPropertyNames(CurrencyCode))
    .pipe(described("Per currency.")),
  followUpCompliance: Schema.Record(Schema.String, Ratio)
    .check(Schema.isPropertyNames(ActorId))
    .pipe(described("Per owner: onTime / due.")),
}).annotate({
  identifier: "AnalyticsRates",
  description: "The ratios a manager reads, computed from the counts; null where the denominator is 0.",
})
export type AnalyticsRates = typeof AnalyticsRates.Type

/** Everything, for one period. */
export const AnalyticsReport = Schema.Struct({
  period: Schema.Struct({
    customers: Count.pipe(described("Customers registered before the period's end.")),
    start: Instant.pipe(described("The period's first instant.")),
    end: Instant.pipe(described("The first instant after the period.")),
    months: Schema.Array(MonthLabel).pipe(
      described("The period's months, `YYYY-MM`: every per-month array follows this order."),
    ),
  }),
  events: EventFigures,
  stages: LifecycleFigures,
  lostDeals: LostDealFigures,
  churn: ChurnFigures,
  winBack: WinBackFigures,
  cohorts: CohortRetention,
  tiers: TierFigures,
  distribution: DistributionFigures,
  revenue: RevenueFigures,
  followUps: FollowUpFigures,
  accounts: AccountFigures,
  rates: AnalyticsRates,
}).annotate({
  identifier: "AnalyticsReport",
  description: "Every figure for a period, with the rates a manager reads.",
})
export type AnalyticsReport = typeof AnalyticsReport.Type

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
