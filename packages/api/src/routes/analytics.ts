/**
 * The numbers a manager decides from, read from the analytics read model: the lifecycle funnel,
 * lost deals, churn and win-back, cohort retention, tiers and their migration, distributions,
 * revenue concentration, follow-up compliance, account figures, or all of them in one report.
 * Figures that run over time take a period of calendar months (UTC).
 */
import { type ActorRole, type Instant, instantFromMillis } from "@relata/domain"
import {
  AccountFigures,
  type AnalyticsPeriod,
  AnalyticsReport,
  accountFigures,
  analyticsReport,
  ChurnFigures,
  CohortRetention,
  churnFigures,
  cohortRetention,
  DistributionFigures,
  distributionFigures,
  FollowUpFigures,
  followUpFigures,
  LifecycleFigures,
  LostDealFigures,
  lifecycleFigures,
  lostDealFigures,
  MonthLabel,
  type ReadModelStore,
  RevenueFigures,
  revenueFigures,
  TierFigures,
  TierMigration,
  tierFigures,
  tierMigration,
  WinBackFigures,
  winBackFigures,
} from "@relata/projections"
import { Clock, Effect, type ManagedRuntime, Schema } from "effect"
import type { FastifyInstance } from "fastify"
import type { ApiServices } from "../ApiLayer.ts"
import { addRoute } from "../internal/route.ts"
import { runEffect } from "../internal/runEffect.ts"
import { type ApiFailure, ProblemDocument } from "../Problem.ts"
import { Position, readYourWrites } from "./queryParameters.ts"

const Months = Schema.String.check(
  Schema.makeFilter((s: string) => /^\d{1,3}$/.test(s) && Number(s) >= 1 && Number(s) <= 120, {
    expected: "1 to 120 months",
  }),
)

const PeriodQuery = Schema.Struct({
  from: Schema.optionalKey(MonthLabel).annotate({
    description: "The first month of the period, YYYY-MM (default: 11 months before this one).",
  }),
  months: Schema.optionalKey(Months).annotate({ description: "Its length in months (default 12)." }),
  minPosition: Schema.optionalKey(Position).annotate({
    description: "Wait briefly until the figures include this position (a command's Relata-Position).",
  }),
})
type PeriodQuery = typeof PeriodQuery.Type

/** One analytics route: the figures it answers with and their schema. */
interface Section {
  readonly path: string
  readonly operationId: string
  readonly summary: string
  /** The figures' schema, as the projections package defines it: the response's documentation. */
  readonly schema: Schema.Top
  /** The figures, encoded with that schema: a figure that breaks it is a defect (a 500), not a body. */
  readonly answer: (
    period: AnalyticsPeriod,
    now: Instant,
  ) => Effect.Effect<unknown, ApiFailure, ReadModelStore>
}

const section = <A, I>(spec: {
  readonly path: string
  readonly operationId: string
  readonly summary: string
  readonly schema: Schema.Codec<A, I>
  readonly figures: (period: AnalyticsPeriod, now: Instant) => Effect.Effect<A, ApiFailure, ReadModelStore>
}): Section => {
  const encode = Schema.encodeEffect(spec.schema)
  return {
    path: spec.path,
    operationId: spec.operationId,
    summary: spec.summary,
    schema: spec.schema,
    answer: (period, now) =>
      Effect.flatMap(spec.figures(period, now), (figures) => Effect.orDie(encode(figures))),
  }
}

const sections: ReadonlyArray<Section> = [
  section({
    path: "report",
    operationId: "analyticsReport",
    summary: "Every figure for a period, with the rates a manager reads",
    schema: AnalyticsReport,
    figures: (period, now) => analyticsReport(period, { overdueAt: now }),
  }),
  section({
    path: "funnel",
    operationId: "lifecycleFunnel",
    summary: "Customers per stage now and at each month end, stage entries, the funnel, time in each stage",
    schema: LifecycleFigures,
    figures: (period) => lifecycleFigures(period),
  }),
  section({
    path: "lost-deals",
    operationId: "lostDeals",
    summary: "Lost deals in total, by stage and by reason; reopened leads",
    schema: LostDealFigures,
    figures: () => lostDealFigures(),
  }),
  section({
    path: "churn",
    operationId: "churn",
    summary: "Churn per month (churned / active at its start) and by reason",
    schema: ChurnFigures,
    figures: (period) => churnFigures(period),
  }),
  section({
    path: "win-back",
    operationId: "winBack",
    summary: "Win-back attempts and their outcomes",
    schema: WinBackFigures,
    figures: () => winBackFigures(),
  }),
  section({
    path: "cohorts",
    operationId: "cohortRetention",
    summary: "Retention by registration cohort: a cohort x month matrix",
    schema: CohortRetention,
    figures: (period) => cohortRetention(period),
  }),
  section({
    path: "tiers",
    operationId: "tiers",
    summary: "Tiers now and at each month end, tier changes, and the migration matrix per quarter",
    schema: TierFigures,
    figures: (period) => tierFigures(period),
  }),
  section({
    path: "tier-migration",
    operationId: "tierMigration",
    summary: "The tier migration matrix between the start and the end of the period",
    schema: TierMigration,
    figures: (period) => tierMigration(period),
  }),
  section({
    path: "distribution",
    operationId: "distribution",
    summary: "Customers by owner, department, region, industry, credit level and size, with their stages",
    schema: DistributionFigures,
    figures: () => distributionFigures(),
  }),
  section({
    path: "revenue",
    operationId: "revenue",
    summary:
      "Revenue concentration per currency: the top 20% share, the Pareto curve, lifetime value per tier",
    schema: RevenueFigures,
    figures: () => revenueFigures(),
  }),
  section({
    path: "follow-ups",
    operationId: "followUpCompliance",
    summary: "Follow-up compliance per owner: due, done on time, overdue now",
    schema: FollowUpFigures,
    figures: (_period, now) => followUpFigures(now),
  }),
  section({
    path: "accounts",
    operationId: "accounts",
    summary: "Freezes, unfreezes, handovers, confirmed duplicates, accounts frozen now",
    schema: AccountFigures,
    figures: () => accountFigures(),
  }),
]

const problem = (description: string) => ({
  description,
  schema: ProblemDocument,
  contentType: "application/problem+json",
})

const readers: ReadonlyArray<ActorRole> = ["manager", "auditor", "admin"]

/** The first instant of the UTC month `offset` months after the month of `instant`. */
const monthStart = (instant: Instant, offset: number): Instant => {
  const date = new Date(instant)
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + offset, 1)).toISOString() as Instant
}

/** The period a query names, defaulting to the twelve months up to and including the current one. */
const periodOf = (query: PeriodQuery, now: Instant): AnalyticsPeriod => {
  const months = query.months === undefined ? 12 : Number(query.months)
  const start =
    query.from === undefined ? monthStart(now, -(months - 1)) : (`${query.from}-01T00:00:00.000Z` as Instant)
  return { start, months }
}

/** Registers one route per section of the analytics. */
export const analytics = async (
  app: FastifyInstance,
  options: {
    readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
    readonly readYourWritesTimeoutMs?: number
  },
): Promise<void> => {
  const { runtime } = options
  const timeoutMs = options.readYourWritesTimeoutMs ?? 2_000
  for (const section of sections) {
    addRoute<unknown, PeriodQuery>(app, {
      method: "GET",
      url: `/v1/analytics/${section.path}`,
      operationId: section.operationId,
      summary: section.summary,
      description:
        "Figures follow the events' business dates; months are calendar months in UTC; money is in minor units per currency. Each field's definition is in the response schema (the projections package's Analytics schemas); docs/api.md has the overview.",
      tags: ["Analytics"],
      access: { kind: "roles", roles: readers, action: "read analytics" },
      query: PeriodQuery,
      responses: {
        200: { description: "The figures", schema: section.schema },
        400: problem("Invalid period"),
        401: problem("No valid bearer token"),
        403: problem("Not a manager, auditor or admin"),
        503: problem("The read models are unavailable or did not reach minPosition in time"),
      },
      handler: async ({ query, request }) =>
        runEffect(
          runtime,
          request,
          Effect.gen(function* () {
            yield* readYourWrites(query.minPosition, timeoutMs)
            const now = instantFromMillis(yield* Clock.currentTimeMillis)
            return yield* section.answer(periodOf(query, now), now)
          }),
        ) as Promise<unknown>,
    })
  }
}
