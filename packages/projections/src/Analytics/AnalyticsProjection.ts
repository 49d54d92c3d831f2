/**
 * The analytics projection: everything the analytics queries need, kept up to date per event with
 * work that does not grow with the number of customers.
 *
 * - `analytics_customers`: one small document per customer (about 500 bytes): the few facts of its
 *   state the figures read (stage, tier, owner, profile dimensions, revenue...), its stage and tier
 *   through business time as breakpoints (internal/Breakpoints.ts), the stages it ever reached, its
 *   undecided win-back attempt and when its next follow-up is due (indexed). The facts change only
 *   through the decider's `evolve` and the cadence's `nextFollowUpDue` (one code path with the
 *   cards), applied to the state the facts describe (`stateOf`).
 * - `analytics_aggregates`: four documents of counters, changed in place per event (see
 *   internal/WorkingCopies.ts): `counters` (event counts: entries, lost deals, win-backs, tier
 *   changes, follow-ups per owner...), `now` (customers now by stage, tier, owner, region...; lifetime
 *   value per currency and tier), `timeline` (per month: the changes of the customers' stage and tier
 *   that month, whose running sums give any month end; churns), `cohorts` (per registration month:
 *   its size and the month-by-month changes of its members that are customer or loyal).
 * - Documents a query reads in full when it needs the whole distribution (documented there):
 *   `analytics_stays` (one per completed stay in a stage, indexed by stage and duration),
 *   `analytics_revenue` (one per buyer and currency, indexed by currency and revenue),
 *   `analytics_tier_changes` (one per TierChanged, indexed by its business instant: the only
 *   customers whose tier can differ between two instants), `analytics_reasons` (a count per lost-deal
 *   or churn reason: reasons are free text, so they get documents of their own, not keys of a counter).
 *
 * A back-dated event (a tier change effective days before it was recorded) lands in the month it
 * took effect: a breakpoint change is reported as signed changes at the instants it affects, so the
 * month sums stay exact. Changing the decider, the cadence or any document needs a new `version`.
 */

import { createHash } from "node:crypto"
import type { CustomerDecider as CustomerDeciderShape } from "@relata/domain"
import {
  type ActorId,
  CustomerDecider,
  type CustomerEvent,
  type CustomerId,
  type CustomerProfile,
  type CustomerState,
  customerStreamPrefix,
  type Department,
  decodeCustomerEvent,
  defaultFollowUpCadence,
  type FollowUpSchedule,
  type Instant,
  initialState,
  type LeadSource,
  type LifecycleStage,
  type Money,
  makeFollowUpSchedule,
  type Reason,
  type RecordedEvent,
  type RegisteredCustomer,
  type Tier,
} from "@relata/domain"
import { defineProjection, type Projection } from "../Projection.ts"
import { type DocumentKey, defineCollection, Field, type ReadModelTransaction } from "../ReadModelStore.ts"
import { monthLabel } from "./AnalyticsReport.ts"
import { type Breakpoints, type OnDelta, withChange } from "./internal/Breakpoints.ts"
import { makeWorkingCopies } from "./internal/WorkingCopies.ts"

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

/** The projection's name; its checkpoint and generations go by it. */
export const analyticsProjectionName = "analytics"

export const analyticsCustomersCollection = "analytics_customers"
export const analyticsAggregatesCollection = "analytics_aggregates"
export const analyticsStaysCollection = "analytics_stays"
export const analyticsRevenueCollection = "analytics_revenue"
export const analyticsTierChangesCollection = "analytics_tier_changes"
export const analyticsReasonsCollection = "analytics_reasons"

/** The key for a profile field or department that is not filled in. */
export const unspecified = "unspecified"

/** The profile fields the distribution tables count by. */
export type ProfileDimensions = Pick<CustomerProfile, "industry" | "size" | "region" | "creditLevel">

/** One customer's analytics facts. */
export type CustomerAnalytics = {
  /** The stream version of the last event folded in. */
  readonly version: number
  readonly registeredAt: Instant
  readonly stage: LifecycleStage
  /** When the current stay in `stage` began. */
  readonly stageSince: Instant
  /** The deal is lost (a lead or prospect, until reopened). */
  readonly lostDeal: boolean
  readonly frozen: boolean
  readonly tier: Tier
  readonly owner: string
  readonly department: string | null
  readonly profile: ProfileDimensions
  /** Lifetime revenue per currency, in minor units. */
  readonly revenue: { readonly [currency: string]: number }
  readonly lastFollowUpAt: Instant | null
  /** When its next follow-up is due under the cadence; null when none is. */
  readonly followUpDue: Instant | null
  readonly stages: Breakpoints<LifecycleStage>
  readonly tiers: Breakpoints<Tier>
  /** The stages beyond lead it ever reached, in the order reached. */
  readonly ever: ReadonlyArray<LifecycleStage>
  /** Its last win-back attempt, while undecided: open, or lost (a deal lost since, no conversion yet). */
  readonly winBack: "open" | "lost" | null
}

/** A completed stay in a stage. */
export type StageStay = { readonly stage: LifecycleStage; readonly durationMs: number }

/** A buyer's lifetime revenue in one currency (only while it is above 0). */
export type BuyerRevenue = {
  readonly customerId: string
  readonly currency: string
  readonly revenueMinor: number
}

/** A TierChanged event: its customer and business instant. */
export type TierChangeEntry = { readonly customerId: string; readonly at: Instant }

/** How many lost deals or churns gave a reason. */
export type ReasonCount = { readonly kind: ReasonKind; readonly reason: string; readonly count: number }
export type ReasonKind = "lostDeal" | "churn"

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type Count<K extends string> = Record<K, number>

export type EventCounters = {
  customers: number
  events: { total: number; byType: Record<string, number> }
  entries: {
    lead: { registered: number; reopened: number }
    prospect: { qualified: number; wonBack: number }
    customer: number
    loyal: { byPolicy: number; byHand: number }
    churned: number
  }
  funnel: { prospect: number; customer: number; loyal: number }
  lostDeals: { total: number; byStage: { lead: number; prospect: number }; reopened: number }
  winBack: { started: number; succeeded: number; failed: number; open: number }
  tierChanges: { byHand: number; byHandBackDated: number; byClassification: number }
  accounts: { freezes: number; unfreezes: number; handovers: number; duplicates: number }
  followUps: {
    recorded: number
    byOwner: Record<string, { onTime: number; late: number; unscheduled: number }>
  }
  /** Purchases per currency (any amount). */
  purchases: Record<string, number>
}

/** The dimensions of the distribution tables. */
export type Dimension = "owner" | "department" | "region" | "industry" | "creditLevel" | "size"
export const dimensions: ReadonlyArray<Dimension> = [
  "owner",
  "department",
  "region",
  "industry",
  "creditLevel",
  "size",
]

export type NowCounters = {
  stages: Count<LifecycleStage>
  lostDealsOpen: { lead: number; prospect: number }
  frozen: number
  tiers: Count<Tier>
  /** Per dimension and value: total and per stage; rows that fall to 0 are removed. */
  distribution: Record<Dimension, Record<string, Count<LifecycleStage | "total">>>
  /** Per currency and tier now: buyers and the sum of their lifetime revenue. */
  lifetimeValue: Record<string, Record<Tier, { customers: number; totalMinor: number }>>
}

/** Per month (`YYYY-MM`): net changes of the customers in each stage and tier at that month's end; churns. */
export type Timeline = {
  months: Record<
    string,
    { stages: Partial<Count<LifecycleStage>>; tiers: Partial<Count<Tier>>; churned: number }
  >
}

/** Per registration month: its size and, per month, the net change of its members that are customer or loyal. */
export type Cohorts = { cohorts: Record<string, { registered: number; active: Record<string, number> }> }

export const stageList: ReadonlyArray<LifecycleStage> = ["lead", "prospect", "customer", "loyal", "churned"]
export const tierList: ReadonlyArray<Tier> = ["A", "B", "C", "D"]
const zeroStages = (): Count<LifecycleStage> => ({ lead: 0, prospect: 0, customer: 0, loyal: 0, churned: 0 })
const zeroTiers = (): Count<Tier> => ({ A: 0, B: 0, C: 0, D: 0 })

export const emptyEventCounters = (): EventCounters => ({
  customers: 0,
  events: { total: 0, byType: {} },
  entries: {
    lead: { registered: 0, reopened: 0 },
    prospect: { qualified: 0, wonBack: 0 },
    customer: 0,
    loyal: { byPolicy: 0, byHand: 0 },
    churned: 0,
  },
  funnel: { prospect: 0, customer: 0, loyal: 0 },
  lostDeals: { total: 0, byStage: { lead: 0, prospect: 0 }, reopened: 0 },
  winBack: { started: 0, succeeded: 0, failed: 0, open: 0 },
  tierChanges: { byHand: 0, byHandBackDated: 0, byClassification: 0 },
  accounts: { freezes: 0, unfreezes: 0, handovers: 0, duplicates: 0 },
  followUps: { recorded: 0, byOwner: {} },
  purchases: {},
})

export const emptyNowCounters = (): NowCounters => ({
  stages: zeroStages(),
  lostDealsOpen: { lead: 0, prospect: 0 },
  frozen: 0,
  tiers: zeroTiers(),
  distribution: { owner: {}, department: {}, region: {}, industry: {}, creditLevel: {}, size: {} },
  lifetimeValue: {},
})

export const emptyTimeline = (): Timeline => ({ months: {} })
export const emptyCohorts = (): Cohorts => ({ cohorts: {} })

/** The ids of the aggregate documents. */
export const aggregateIds = {
  counters: "counters",
  now: "now",
  timeline: "timeline",
  cohorts: "cohorts",
} as const

export const analyticsCustomers = defineCollection<CustomerAnalytics>({
  name: analyticsCustomersCollection,
  fields: {
    registeredAt: Field.text((doc) => doc.registeredAt),
    followUpDue: Field.text((doc) => doc.followUpDue),
  },
})

export const analyticsAggregates = defineCollection<unknown>({
  name: analyticsAggregatesCollection,
  fields: {},
})

export const analyticsStays = defineCollection<StageStay>({
  name: analyticsStaysCollection,
  fields: {
    stage: Field.text((stay) => stay.stage),
    durationMs: Field.number((stay) => stay.durationMs),
  },
  indexes: [["stage", "durationMs"]],
})

export const analyticsRevenue = defineCollection<BuyerRevenue>({
  name: analyticsRevenueCollection,
  fields: {
    currency: Field.text((row) => row.currency),
    revenueMinor: Field.number((row) => row.revenueMinor),
  },
  indexes: [["currency", "revenueMinor"]],
})

export const analyticsTierChanges = defineCollection<TierChangeEntry>({
  name: analyticsTierChangesCollection,
  fields: { at: Field.text((entry) => entry.at) },
})

export const analyticsReasons = defineCollection<ReasonCount>({
  name: analyticsReasonsCollection,
  fields: { kind: Field.text((entry) => entry.kind) },
})

/** A reason's document id: reasons are free text of up to 2000 characters, too long for some indexes. */
const reasonId = (kind: ReasonKind, reason: string): string =>
  `${kind}:${createHash("sha256").update(reason, "utf8").digest("hex")}`

// ---------------------------------------------------------------------------------------------
// Folding
// ---------------------------------------------------------------------------------------------

/** How the analytics fold: the decider whose `evolve` builds the state, and the follow-up cadence. */
export interface AnalyticsPolicy {
  readonly decider: CustomerDeciderShape
  readonly schedule: FollowUpSchedule
}

/** The Customer decider and the default cadence. */
export const defaultAnalyticsPolicy: AnalyticsPolicy = {
  decider: CustomerDecider,
  schedule: makeFollowUpSchedule(defaultFollowUpCadence),
}

/** The events that start a stay in a stage (and end the previous one). */
const entersStage: { readonly [Tag in CustomerEvent["_tag"]]: boolean } = {
  LeadRegistered: true,
  LeadQualified: true,
  DealLost: false,
  LeadReopened: true,
  CustomerConverted: true,
  PurchaseRecorded: false,
  CustomerBecameLoyal: true,
  CustomerChurned: true,
  CustomerWinBackStarted: true,
  TierChanged: false,
  AccountFrozen: false,
  AccountUnfrozen: false,
  OwnerAssigned: false,
  ContactAdded: false,
  ContactUpdated: false,
  ContactRemoved: false,
  FollowUpRecorded: false,
  ProfileUpdated: false,
}

const isActive = (stage: LifecycleStage): boolean => stage === "customer" || stage === "loyal"

const add = <K extends string>(record: Partial<Record<K, number>>, key: K, by: number): void => {
  const value = (record[key] ?? 0) + by
  if (value === 0) delete record[key]
  else record[key] = value
}

const dimensionsOf = (profile: CustomerProfile): ProfileDimensions => {
  const dimensions: Mutable<ProfileDimensions> = {}
  if (profile.industry !== undefined) dimensions.industry = profile.industry
  if (profile.size !== undefined) dimensions.size = profile.size
  if (profile.region !== undefined) dimensions.region = profile.region
  if (profile.creditLevel !== undefined) dimensions.creditLevel = profile.creditLevel
  return dimensions
}

const sameDimensions = (a: ProfileDimensions, b: ProfileDimensions): boolean =>
  a === b ||
  (a.industry === b.industry && a.size === b.size && a.region === b.region && a.creditLevel === b.creditLevel)

/** What the facts do not say: the neutral value of every other field of the state. */
const untold = "" as Reason

/**
 * The decider's state the facts describe, for `evolve` and the cadence. Every field the facts keep
 * is exact; the others (contacts, reasons, purchase counts...) hold neutral values, which is sound
 * because evolve derives none of the kept fields from them and the cadence reads only kept fields.
 * (The figures' equality with the simulator's tally, which folds full states, checks this.)
 */
const stateOf = (customerId: CustomerId, facts: CustomerAnalytics): RegisteredCustomer => ({
  status: "registered",
  customerId,
  profile: { name: untold, ...facts.profile },
  source: untold as LeadSource,
  stage: facts.stage,
  stageSince: facts.stageSince,
  lostDeal: facts.lostDeal ? { reason: untold, since: facts.stageSince } : null,
  lastChurn: null,
  winBacks: 0,
  tier: facts.tier,
  tierSince: facts.registeredAt,
  owner: facts.owner as ActorId,
  department: facts.department as Department | null,
  frozen: facts.frozen ? { reason: untold, since: facts.registeredAt } : null,
  contacts: [],
  purchases: {
    count: 0,
    totals: facts.revenue as RegisteredCustomer["purchases"]["totals"],
    firstAt: null,
    lastAt: null,
    recent: [],
  },
  followUps: 0,
  lastFollowUpAt: facts.lastFollowUpAt,
  duplicateOf: null,
  registeredAt: facts.registeredAt,
  updatedAt: facts.registeredAt,
})

/** The value of each dimension for a customer. */
const dimensionValue = (facts: CustomerAnalytics, dimension: Dimension): string => {
  switch (dimension) {
    case "owner":
      return facts.owner
    case "department":
      return facts.department ?? unspecified
    case "region":
      return facts.profile.region ?? unspecified
    case "industry":
      return facts.profile.industry ?? unspecified
    case "creditLevel":
      return facts.profile.creditLevel ?? unspecified
    case "size":
      return facts.profile.size ?? unspecified
  }
}

/** Adds (by = 1) or removes (by = -1) a customer's contribution to the figures of now. */
const countNow = (now: NowCounters, facts: CustomerAnalytics, by: 1 | -1): void => {
  now.stages[facts.stage] += by
  if (facts.lostDeal && (facts.stage === "lead" || facts.stage === "prospect")) {
    now.lostDealsOpen[facts.stage] += by
  }
  if (facts.frozen) now.frozen += by
  now.tiers[facts.tier] += by
  for (const dimension of dimensions) {
    const table = now.distribution[dimension]
    const key = dimensionValue(facts, dimension)
    let row = table[key]
    if (row === undefined) {
      row = { total: 0, ...zeroStages() }
      table[key] = row
    }
    row.total += by
    row[facts.stage] += by
    if (row.total === 0) delete table[key]
  }
  for (const currency in facts.revenue) {
    const revenue = facts.revenue[currency] as number
    if (revenue <= 0) continue
    let byTier = now.lifetimeValue[currency]
    if (byTier === undefined) {
      byTier = {
        A: { customers: 0, totalMinor: 0 },
        B: { customers: 0, totalMinor: 0 },
        C: { customers: 0, totalMinor: 0 },
        D: { customers: 0, totalMinor: 0 },
      }
      now.lifetimeValue[currency] = byTier
    }
    byTier[facts.tier].customers += by
    byTier[facts.tier].totalMinor += by * revenue
  }
}

/** Whether an event changed anything the figures of now count. */
const changesNow = (a: CustomerAnalytics, b: CustomerAnalytics): boolean =>
  a.stage !== b.stage ||
  a.tier !== b.tier ||
  a.owner !== b.owner ||
  a.department !== b.department ||
  a.profile !== b.profile ||
  a.revenue !== b.revenue ||
  a.lostDeal !== b.lostDeal ||
  a.frozen !== b.frozen

const purchaseOf = (event: CustomerEvent): Money | undefined =>
  event._tag === "CustomerConverted"
    ? event.firstPurchase.amount
    : event._tag === "PurchaseRecorded"
      ? event.amount
      : undefined

// ---------------------------------------------------------------------------------------------
// The projection
// ---------------------------------------------------------------------------------------------

/** Builds the analytics projection for a policy (decider and cadence) and version. */
export const makeAnalyticsProjection = (
  options: { readonly policy?: AnalyticsPolicy; readonly version?: number } = {},
): Projection<CustomerEvent> => {
  const policy = options.policy ?? defaultAnalyticsPolicy
  const aggregates = makeWorkingCopies(analyticsAggregatesCollection)
  const timelineMonth = (tx: ReadModelTransaction, at: Instant) => {
    const timeline = aggregates.get(tx, aggregateIds.timeline, emptyTimeline)
    const label = monthLabel(at)
    let month = timeline.months[label]
    if (month === undefined) {
      month = { stages: {}, tiers: {}, churned: 0 }
      timeline.months[label] = month
    }
    return month
  }
  const cohortOf = (tx: ReadModelTransaction, registeredAt: Instant) => {
    const cohorts = aggregates.get(tx, aggregateIds.cohorts, emptyCohorts)
    const label = monthLabel(registeredAt)
    let cohort = cohorts.cohorts[label]
    if (cohort === undefined) {
      cohort = { registered: 0, active: {} }
      cohorts.cohorts[label] = cohort
    }
    return cohort
  }
  const countReason = (tx: ReadModelTransaction, kind: ReasonKind, reason: string) => {
    const id = reasonId(kind, reason)
    const stored = tx.get(analyticsReasonsCollection, id) as ReasonCount | undefined
    tx.put(analyticsReasonsCollection, id, { kind, reason, count: (stored?.count ?? 0) + 1 })
  }

  const apply = (tx: ReadModelTransaction, event: CustomerEvent, recorded: RecordedEvent): void => {
    const customerId = event.customerId
    const before = tx.get(analyticsCustomersCollection, customerId) as CustomerAnalytics | undefined
    // The runner delivers each event once, in order: a gap or a repeat would count an event twice or never.
    if (before !== undefined && recorded.version !== before.version + 1) {
      throw new Error(
        `${recorded.streamId}: event version ${recorded.version} follows analytics version ${before.version}`,
      )
    }
    const previous = before === undefined ? undefined : stateOf(customerId, before)
    const state: CustomerState = policy.decider.evolve(previous ?? initialState, event)
    const counters = aggregates.get(tx, aggregateIds.counters, emptyEventCounters)
    counters.events.total++
    add(counters.events.byType, event._tag, 1)
    if (state.status !== "registered") {
      // Not registered yet (a stream that does not start with LeadRegistered): evolve ignores it too.
      aggregates.flush(tx)
      return
    }
    const registeredAt = state.registeredAt
    // An event back-dated before the registration counts from the registration on, as the fold does.
    const at = event.occurredAt < registeredAt ? registeredAt : event.occurredAt
    const onStage: OnDelta<LifecycleStage> = (when, stage, by) => {
      add(timelineMonth(tx, when).stages, stage, by)
      if (isActive(stage)) add(cohortOf(tx, registeredAt).active, monthLabel(when), by)
    }
    const onTier: OnDelta<Tier> = (when, tier, by) => add(timelineMonth(tx, when).tiers, tier, by)
    let stages = before?.stages ?? []
    let tiers = before?.tiers ?? []
    let winBack = before?.winBack ?? null

    if (before === undefined || previous === undefined) {
      counters.customers++
      counters.entries.lead.registered++
      if (event._tag === "LeadRegistered" && event.duplicateOf !== undefined) counters.accounts.duplicates++
      cohortOf(tx, registeredAt).registered++
      stages = withChange(stages, registeredAt, state.stage, onStage)
      tiers = withChange(tiers, registeredAt, state.tier, onTier)
    } else {
      switch (event._tag) {
        case "LeadQualified":
          counters.entries.prospect.qualified++
          break
        case "LeadReopened":
          counters.entries.lead.reopened++
          counters.lostDeals.reopened++
          break
        case "DealLost":
          counters.lostDeals.total++
          if (before.stage === "lead" || before.stage === "prospect")
            counters.lostDeals.byStage[before.stage]++
          countReason(tx, "lostDeal", event.reason)
          if (winBack === "open") {
            counters.winBack.open--
            counters.winBack.failed++
            winBack = "lost"
          }
          break
        case "CustomerConverted":
          counters.entries.customer++
          if (winBack !== null) {
            counters.winBack[winBack === "open" ? "open" : "failed"]--
            counters.winBack.succeeded++
            winBack = null
          }
          break
        case "CustomerBecameLoyal":
          if (event.by === "policy") counters.entries.loyal.byPolicy++
          else counters.entries.loyal.byHand++
          break
        case "CustomerChurned":
          counters.entries.churned++
          countReason(tx, "churn", event.reason)
          timelineMonth(tx, event.occurredAt).churned++
          break
        case "CustomerWinBackStarted":
          counters.entries.prospect.wonBack++
          counters.winBack.started++
          counters.winBack.open++
          winBack = "open"
          break
        case "TierChanged":
          if (event.classification !== undefined) counters.tierChanges.byClassification++
          else {
            counters.tierChanges.byHand++
            // Back-dated: effective before the instant it was recorded at (the command's effectiveAt).
            const recordedAt = recorded.metadata.recordedAt
            if (typeof recordedAt === "string" && event.occurredAt < recordedAt) {
              counters.tierChanges.byHandBackDated++
            }
          }
          tiers = withChange(tiers, at, state.tier, onTier)
          tx.put(analyticsTierChangesCollection, `${customerId}/${recorded.version}`, {
            customerId,
            at: event.occurredAt,
          })
          break
        case "AccountFrozen":
          counters.accounts.freezes++
          break
        case "AccountUnfrozen":
          counters.accounts.unfreezes++
          break
        case "OwnerAssigned":
          counters.accounts.handovers++
          break
        case "FollowUpRecorded": {
          counters.followUps.recorded++
          // The due instant of the state just before it, which the facts keep.
          const due = before.followUpDue
          let row = counters.followUps.byOwner[before.owner]
          if (row === undefined) {
            row = { onTime: 0, late: 0, unscheduled: 0 }
            counters.followUps.byOwner[before.owner] = row
          }
          if (due === null) row.unscheduled++
          else if (event.at <= due) row.onTime++
          else row.late++
          break
        }
        case "LeadRegistered":
        case "PurchaseRecorded":
        case "ContactAdded":
        case "ContactUpdated":
        case "ContactRemoved":
        case "ProfileUpdated":
          break
      }
      // A second LeadRegistered changes nothing (evolve ignores it), so it starts no stay either.
      if (entersStage[event._tag] && event._tag !== "LeadRegistered") {
        tx.put(analyticsStaysCollection, `${customerId}/${recorded.version}`, {
          stage: before.stage,
          durationMs: Date.parse(event.occurredAt) - Date.parse(before.stageSince),
        })
        stages = withChange(stages, at, state.stage, onStage)
      }
    }

    let ever = before?.ever ?? []
    if (state.stage !== "lead" && state.stage !== "churned" && !ever.includes(state.stage)) {
      ever = [...ever, state.stage]
      counters.funnel[state.stage]++
    }
    const dimensions = dimensionsOf(state.profile)
    const lostDeal = state.lostDeal !== null
    const frozen = state.frozen !== null
    // The cadence reads the stage, tier, last follow-up, registration, freeze and lost deal: while
    // none of them changed, neither did the due instant (and formatting instants is not free).
    const sameSchedule =
      before !== undefined &&
      before.stage === state.stage &&
      before.tier === state.tier &&
      before.lastFollowUpAt === state.lastFollowUpAt &&
      before.frozen === frozen &&
      before.lostDeal === lostDeal
    const facts: CustomerAnalytics = {
      version: recorded.version,
      registeredAt,
      stage: state.stage,
      stageSince: state.stageSince,
      lostDeal,
      frozen,
      tier: state.tier,
      owner: state.owner,
      department: state.department,
      profile:
        before !== undefined && sameDimensions(before.profile, dimensions) ? before.profile : dimensions,
      revenue: state.purchases.totals,
      lastFollowUpAt: state.lastFollowUpAt,
      followUpDue: sameSchedule ? before.followUpDue : policy.schedule.nextFollowUpDue(state),
      stages,
      tiers,
      ever,
      winBack,
    }
    if (before === undefined || changesNow(before, facts)) {
      const now = aggregates.get(tx, aggregateIds.now, emptyNowCounters)
      if (before !== undefined) countNow(now, before, -1)
      countNow(now, facts, 1)
    }
    const purchase = purchaseOf(event)
    if (purchase !== undefined) {
      counters.purchases[purchase.currency] = (counters.purchases[purchase.currency] ?? 0) + 1
      const revenueMinor = facts.revenue[purchase.currency] ?? 0
      if (revenueMinor > 0) {
        tx.put(analyticsRevenueCollection, `${purchase.currency}/${customerId}`, {
          customerId,
          currency: purchase.currency,
          revenueMinor,
        })
      }
    }
    tx.put(analyticsCustomersCollection, customerId, facts)
    aggregates.flush(tx)
  }

  return defineProjection<CustomerEvent>({
    name: analyticsProjectionName,
    version: options.version ?? 1,
    collections: [
      analyticsCustomers,
      analyticsAggregates,
      analyticsStays,
      analyticsRevenue,
      analyticsTierChanges,
      analyticsReasons,
    ],
    filter: { streamPrefix: customerStreamPrefix },
    decode: decodeCustomerEvent,
    reads: (event): Array<DocumentKey> => {
      const keys: Array<DocumentKey> = [
        [analyticsCustomersCollection, event.customerId],
        [analyticsAggregatesCollection, aggregateIds.counters],
        [analyticsAggregatesCollection, aggregateIds.now],
        [analyticsAggregatesCollection, aggregateIds.timeline],
        [analyticsAggregatesCollection, aggregateIds.cohorts],
      ]
      if (event._tag === "DealLost")
        keys.push([analyticsReasonsCollection, reasonId("lostDeal", event.reason)])
      if (event._tag === "CustomerChurned") {
        keys.push([analyticsReasonsCollection, reasonId("churn", event.reason)])
      }
      return keys
    },
    apply,
  })
}

/** The analytics projection with the Customer decider and the default cadence. */
export const AnalyticsProjection: Projection<CustomerEvent> = makeAnalyticsProjection()
