/**
 * The numbers a manager decides from, read from the analytics read model: the lifecycle funnel,
 * lost deals, churn and win-back, cohort retention, tiers and their migration, distributions,
 * revenue concentration, follow-up compliance, account figures, or all of them in one report.
 * Figures that run over time take a period of calendar months (UTC).
 */
import { type ActorRole, type Instant, instantFromMillis } from "@relata/domain"
import {
  type AnalyticsPeriod,
  accountFigures,
  analyticsReport,
  churnFigures,
  cohortRetention,
  distributionFigures,
  followUpFigures,
  lifecycleFigures,
  lostDealFigures,
  type ReadModelStore,
  revenueFigures,
  tierFigures,
  tierMigration,
  winBackFigures,
} from "@relata/projections"
import { Clock, Effect, type ManagedRuntime, Schema } from "effect"
import type { FastifyInstance } from "fastify"
import type { ApiServices } from "../ApiLayer.ts"
import { addRoute } from "../internal/route.ts"
import { runEffect } from "../internal/runEffect.ts"
import { type ApiFailure, ProblemDocument } from "../Problem.ts"
import { Position, readYourWrites } from "./queryParameters.ts"

const Month = Schema.String.check(
  Schema.makeFilter((s: string) => /^\d{4}-(0[1-9]|1[0-2])$/.test(s), {
    expected: "a month such as 2024-01",
  }),
)

const Months = Schema.String.check(
  Schema.makeFilter((s: string) => /^\d{1,3}$/.test(s) && Number(s) >= 1 && Number(s) <= 120, {
    expected: "1 to 120 months",
  }),
)

const PeriodQuery = Schema.Struct({
  from: Schema.optionalKey(Month).annotate({
    description: "The first month of the period, YYYY-MM (default: 11 months before this one).",
  }),
  months: Schema.optionalKey(Months).annotate({ description: "Its length in months (default 12)." }),
  minPosition: Schema.optionalKey(Position).annotate({
    description: "Wait briefly until the figures include this position (a command's Relata-Position).",
  }),
})
type PeriodQuery = typeof PeriodQuery.Type

/** What the analytics queries answer: figures as the projections package defines them. */
const Figures = (title: string, description: string) =>
  Schema.Record(Schema.String, Schema.Unknown).annotate({ title, description })

interface Section {
  readonly path: string
  readonly operationId: string
  readonly summary: string
  readonly title: string
  readonly figures: (
    period: AnalyticsPeriod,
    now: Instant,
  ) => Effect.Effect<unknown, ApiFailure, ReadModelStore>
}

const sections: ReadonlyArray<Section> = [
  {
    path: "report",
    operationId: "analyticsReport",
    summary: "Every figure for a period, with the rates a manager reads",
    title: "AnalyticsReport",
    figures: (period, now) => analyticsReport(period, { overdueAt: now }),
  },
  {
    path: "funnel",
    operationId: "lifecycleFunnel",
    summary: "Customers per stage now and at each month end, stage entries, the funnel, time in each stage",
    title: "LifecycleFigures",
    figures: (period) => lifecycleFigures(period),
  },
  {
    path: "lost-deals",
    operationId: "lostDeals",
    summary: "Lost deals in total, by stage and by reason; reopened leads",
    title: "LostDealFigures",
    figures: () => lostDealFigures(),
  },
  {
    path: "churn",
    operationId: "churn",
    summary: "Churn per month (churned / active at its start) and by reason",
    title: "ChurnFigures",
    figures: (period) => churnFigures(period),
  },
  {
    path: "win-back",
    operationId: "winBack",
    summary: "Win-back attempts and their outcomes",
    title: "WinBackFigures",
    figures: () => winBackFigures(),
  },
  {
    path: "cohorts",
    operationId: "cohortRetention",
    summary: "Retention by registration cohort: a cohort x month matrix",
    title: "Cohorts",
    figures: (period) => cohortRetention(period),
  },
  {
    path: "tiers",
    operationId: "tiers",
    summary: "Tiers now and at each month end, tier changes, and the migration matrix per quarter",
    title: "TierFigures",
    figures: (period) => tierFigures(period),
  },
  {
    path: "tier-migration",
    operationId: "tierMigration",
    summary: "The tier migration matrix between the start and the end of the period",
    title: "TierMigration",
    figures: (period) => tierMigration(period),
  },
  {
    path: "distribution",
    operationId: "distribution",
    summary: "Customers by owner, department, region, industry, credit level and size, with their stages",
    title: "DistributionFigures",
    figures: () => distributionFigures(),
  },
  {
    path: "revenue",
    operationId: "revenue",
    summary:
      "Revenue concentration per currency: the top 20% share, the Pareto curve, lifetime value per tier",
    title: "RevenueFigures",
    figures: () => revenueFigures(),
  },
  {
    path: "follow-ups",
    operationId: "followUpCompliance",
    summary: "Follow-up compliance per owner: due, done on time, overdue now",
    title: "FollowUpFigures",
    figures: (_period, now) => followUpFigures(now),
  },
  {
    path: "accounts",
    operationId: "accounts",
    summary: "Freezes, unfreezes, handovers, confirmed duplicates, accounts frozen now",
    title: "AccountFigures",
    figures: () => accountFigures(),
  },
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
        "Figures follow the events' business dates; months are calendar months in UTC; money is in minor units per currency. Field by field definitions: docs/api.md and the projections package (Analytics).",
      tags: ["Analytics"],
      access: { kind: "roles", roles: readers, action: "read analytics" },
      query: PeriodQuery,
      responses: {
        200: { description: "The figures", schema: Figures(section.title, section.summary) },
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
            return yield* section.figures(periodOf(query, now), now)
          }),
        ) as Promise<unknown>,
    })
  }
}
