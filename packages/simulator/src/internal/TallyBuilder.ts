/**
 * Counts what the simulator does while it runs, and at the end turns its counters and its customer
 * models into the `Tally`. Month-end and period figures are computed at the end from each
 * customer's histories, so a back-dated change recorded after a month closed still counts in the
 * month it took effect.
 */
import type { FollowUpCadence, Instant, LifecycleStage, Tier } from "@relata/domain"
import type {
  CommandCounts,
  CurrencyRevenue,
  DistributionRow,
  FollowUpCompliance,
  StageCounts,
  StageDurations,
  Tally,
  TierCounts,
  TierMatrix,
} from "../Tally.ts"
import { nearestRank, unspecified } from "../Tally.ts"
import { dayMs, monthLabel } from "./Calendar.ts"
import { type SimCustomer, valueBefore } from "./SimCustomer.ts"

const stages: ReadonlyArray<LifecycleStage> = ["lead", "prospect", "customer", "loyal", "churned"]

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const stageCounts = (): Mutable<StageCounts> => ({ lead: 0, prospect: 0, customer: 0, loyal: 0, churned: 0 })
const tierCounts = (): Mutable<TierCounts> => ({ A: 0, B: 0, C: 0, D: 0 })
const tierMatrix = (): { [T in Tier]: Mutable<TierCounts> } => ({
  A: tierCounts(),
  B: tierCounts(),
  C: tierCounts(),
  D: tierCounts(),
})
const commandCounts = (): Mutable<CommandCounts> => ({ issued: 0, accepted: 0, unchanged: 0, rejected: 0 })

const increment = (record: Record<string, number>, key: string, by = 1): void => {
  record[key] = (record[key] ?? 0) + by
}

/** Sorts a record's keys so the tally's JSON does not depend on the order things happened in. */
const sortedKeys = <A>(record: Record<string, A>): Record<string, A> => {
  const result: Record<string, A> = {}
  for (const key of Object.keys(record).sort()) result[key] = record[key] as A
  return result
}

interface OwnerFollowUps {
  onTime: number
  late: number
  openOverdue: number
  unscheduled: number
}

export class TallyBuilder {
  readonly commands = commandCounts()
  readonly commandsByType: Record<string, Mutable<CommandCounts>> = {}
  readonly rejections: Record<string, number> = {}
  readonly eventsByType: Record<string, number> = {}
  events = 0
  readonly entries = {
    lead: { registered: 0, reopened: 0 },
    prospect: { qualified: 0, wonBack: 0 },
    customer: 0,
    loyal: { byPolicy: 0, byHand: 0 },
    churned: 0,
  }
  readonly lostDeals = {
    total: 0,
    byStage: { lead: 0, prospect: 0 },
    byReason: {} as Record<string, number>,
    reopened: 0,
  }
  readonly churnByReason: Record<string, number> = {}
  readonly churnedByMonth: Array<number>
  readonly tierChanges = { byHand: 0, byHandBackDated: 0, byClassification: 0 }
  readonly purchasesByCurrency: Record<string, number> = {}
  readonly followUps: Record<string, OwnerFollowUps> = {}
  followUpsRecorded = 0
  readonly accounts = { freezes: 0, unfreezes: 0, handovers: 0, duplicates: 0 }

  private readonly monthStarts: ReadonlyArray<number>
  private readonly seed: number

  constructor(monthStarts: ReadonlyArray<number>, seed: number) {
    this.monthStarts = monthStarts
    this.seed = seed
    this.churnedByMonth = new Array<number>(monthStarts.length - 1).fill(0)
  }

  command(
    type: string,
    outcome: "accepted" | "unchanged" | "rejected",
    eventTypes: ReadonlyArray<string>,
  ): void {
    let byType = this.commandsByType[type]
    if (byType === undefined) {
      byType = commandCounts()
      this.commandsByType[type] = byType
    }
    this.commands.issued++
    byType.issued++
    this.commands[outcome]++
    byType[outcome]++
    for (const eventType of eventTypes) increment(this.eventsByType, eventType)
    this.events += eventTypes.length
  }

  rejection(tag: string): void {
    increment(this.rejections, tag)
  }

  lostDeal(stage: "lead" | "prospect", reason: string): void {
    this.lostDeals.total++
    this.lostDeals.byStage[stage]++
    increment(this.lostDeals.byReason, reason)
  }

  churned(month: number, reason: string): void {
    this.entries.churned++
    increment(this.churnByReason, reason)
    this.churnedByMonth[month] = (this.churnedByMonth[month] ?? 0) + 1
  }

  private ownerFollowUps(owner: string): OwnerFollowUps {
    let row = this.followUps[owner]
    if (row === undefined) {
      row = { onTime: 0, late: 0, openOverdue: 0, unscheduled: 0 }
      this.followUps[owner] = row
    }
    return row
  }

  /** A follow-up recorded at `at` while `due` was the due instant (null: none was due). */
  followUp(owner: string, at: number, due: number | null): void {
    this.followUpsRecorded++
    const row = this.ownerFollowUps(owner)
    if (due === null) row.unscheduled++
    else if (at <= due) row.onTime++
    else row.late++
  }

  finish(
    customers: ReadonlyArray<SimCustomer>,
    ownerIdOf: (owner: number) => string,
    cadence: FollowUpCadence,
  ): Tally {
    const months = this.monthStarts.length - 1
    const startMs = this.monthStarts[0] as number
    const endMs = this.monthStarts[months] as number
    const registered = customers.filter((c) => c.registered)

    const now = stageCounts()
    const lostDealsOpen = { lead: 0, prospect: 0 }
    let frozenNow = 0
    const funnel = { lead: 0, prospect: 0, customer: 0, loyal: 0 }
    const stayLists: Record<LifecycleStage, Array<number>> = {
      lead: [],
      prospect: [],
      customer: [],
      loyal: [],
      churned: [],
    }
    const winBack = { churns: this.entries.churned, started: 0, succeeded: 0, failed: 0, open: 0 }
    for (const c of registered) {
      now[c.stage]++
      if (c.lost && (c.stage === "lead" || c.stage === "prospect")) lostDealsOpen[c.stage]++
      if (c.frozen) frozenNow++
      funnel.lead++
      if (c.everProspect) funnel.prospect++
      if (c.everCustomer) funnel.customer++
      if (c.everLoyal) funnel.loyal++
      for (let i = 0; i + 1 < c.stageAt.length; i++) {
        stayLists[c.stageOf[i] as LifecycleStage].push(
          (c.stageAt[i + 1] as number) - (c.stageAt[i] as number),
        )
      }
      for (const attempt of c.winBackAttempts) {
        winBack.started++
        winBack[attempt === "open" ? "open" : attempt]++
      }
      const due =
        c.frozen || c.lost || c.stage === "churned"
          ? null
          : (c.lastFollowUpAt ?? c.registeredAt) + cadence[c.tier] * dayMs
      if (due !== null && due < endMs) this.ownerFollowUps(ownerIdOf(c.owner)).openOverdue++
    }
    const durations = {} as Record<LifecycleStage, StageDurations>
    for (const stage of stages) {
      const sorted = stayLists[stage].sort((a, b) => a - b)
      durations[stage] = {
        count: sorted.length,
        medianMs: nearestRank(sorted, 50),
        p90Ms: nearestRank(sorted, 90),
        durationsMs: sorted,
      }
    }

    const stageAtMonthEnd: Array<StageCounts> = []
    const tierAtMonthEnd: Array<TierCounts> = []
    const activeAtMonthEnd: Array<number> = []
    for (let m = 0; m < months; m++) {
      const boundary = this.monthStarts[m + 1] as number
      const stagesThen = stageCounts()
      const tiersThen = tierCounts()
      for (const c of registered) {
        const stage = valueBefore(c.stageAt, c.stageOf, boundary)
        if (stage !== undefined) stagesThen[stage]++
        const tier = valueBefore(c.tierAt, c.tierOf, boundary)
        if (tier !== undefined) tiersThen[tier]++
      }
      stageAtMonthEnd.push(stagesThen)
      tierAtMonthEnd.push(tiersThen)
      activeAtMonthEnd.push(stagesThen.customer + stagesThen.loyal)
    }

    const cohortRows = Array.from({ length: months }, (_, m) => ({
      month: monthLabel(this.monthStarts[m] as number),
      registered: 0,
      retained: new Array<number>(months - m).fill(0),
    }))
    for (const c of registered) {
      const cohort = monthOf(this.monthStarts, c.registeredAt)
      const row = cohortRows[cohort] as (typeof cohortRows)[number]
      row.registered++
      for (let m = cohort; m < months; m++) {
        const stage = valueBefore(c.stageAt, c.stageOf, this.monthStarts[m + 1] as number)
        if (stage === "customer" || stage === "loyal") {
          row.retained[m - cohort] = (row.retained[m - cohort] as number) + 1
        }
      }
    }

    const migration: Array<{ from: Instant; to: Instant; matrix: TierMatrix }> = []
    for (let m = 0; m < months; m += 3) {
      const from = this.monthStarts[m] as number
      const to = this.monthStarts[Math.min(m + 3, months)] as number
      const matrix = tierMatrix()
      for (const c of registered) {
        if (c.registeredAt >= from) continue
        const before = valueBefore(c.tierAt, c.tierOf, from) as Tier
        const after = valueBefore(c.tierAt, c.tierOf, to) as Tier
        matrix[before][after]++
      }
      migration.push({ from: iso(from), to: iso(to), matrix })
    }
    const tiersNow = tierCounts()
    for (const c of registered) tiersNow[c.tier]++

    const byOwner: Record<string, Mutable<DistributionRow>> = {}
    const byDepartment: Record<string, Mutable<DistributionRow>> = {}
    const byRegion: Record<string, Mutable<DistributionRow>> = {}
    const byIndustry: Record<string, Mutable<DistributionRow>> = {}
    const byCreditLevel: Record<string, Mutable<DistributionRow>> = {}
    const bySize: Record<string, Mutable<DistributionRow>> = {}
    const count = (
      table: Record<string, Mutable<DistributionRow>>,
      key: string | undefined,
      stage: LifecycleStage,
    ) => {
      const k = key ?? unspecified
      let row = table[k]
      if (row === undefined) {
        row = { total: 0, ...stageCounts() }
        table[k] = row
      }
      row.total++
      row[stage]++
    }
    for (const c of registered) {
      count(byOwner, ownerIdOf(c.owner), c.stage)
      count(byDepartment, c.department, c.stage)
      count(byRegion, c.profile.region, c.stage)
      count(byIndustry, c.profile.industry, c.stage)
      count(byCreditLevel, c.profile.creditLevel, c.stage)
      count(bySize, c.profile.size, c.stage)
    }

    const revenue: Record<string, CurrencyRevenue> = {}
    for (const currency of Object.keys(this.purchasesByCurrency).sort()) {
      const buyers = registered
        .filter((c) => c.currency === currency && c.revenueMinor > 0)
        .map((c) => ({ customerId: c.id as string, revenueMinor: c.revenueMinor, tier: c.tier }))
        .sort((a, b) => b.revenueMinor - a.revenueMinor || (a.customerId < b.customerId ? -1 : 1))
      const cumulative: Array<number> = []
      let running = 0
      for (const buyer of buyers) {
        running += buyer.revenueMinor
        cumulative.push(running)
      }
      const topShare = (percent: number) => {
        const k = Math.ceil((percent / 100) * buyers.length)
        return { customers: k, revenueMinor: k === 0 ? 0 : (cumulative[k - 1] as number) }
      }
      const lifetimeValueByTier = {
        A: { customers: 0, totalMinor: 0 },
        B: { customers: 0, totalMinor: 0 },
        C: { customers: 0, totalMinor: 0 },
        D: { customers: 0, totalMinor: 0 },
      }
      for (const buyer of buyers) {
        lifetimeValueByTier[buyer.tier].customers++
        lifetimeValueByTier[buyer.tier].totalMinor += buyer.revenueMinor
      }
      revenue[currency] = {
        purchases: this.purchasesByCurrency[currency] as number,
        totalMinor: running,
        buyers: buyers.length,
        perCustomer: buyers.map(({ customerId, revenueMinor }) => ({ customerId, revenueMinor })),
        top20: topShare(20),
        pareto: Array.from({ length: 10 }, (_, i) => ({
          percentOfCustomers: (i + 1) * 10,
          ...topShare((i + 1) * 10),
        })),
        lifetimeValueByTier,
      }
    }

    const followUpsByOwner: Record<string, FollowUpCompliance> = {}
    for (const [owner, row] of Object.entries(this.followUps)) {
      const overdue = row.late + row.openOverdue
      followUpsByOwner[owner] = {
        due: row.onTime + overdue,
        onTime: row.onTime,
        overdue,
        late: row.late,
        openOverdue: row.openOverdue,
        unscheduled: row.unscheduled,
      }
    }

    return {
      period: {
        seed: this.seed,
        customers: registered.length,
        start: iso(startMs),
        end: iso(endMs),
        months: this.monthStarts.slice(0, months).map(monthLabel),
      },
      commands: { ...this.commands, byType: sortedKeys(this.commandsByType) },
      rejections: sortedKeys(this.rejections),
      events: { total: this.events, byType: sortedKeys(this.eventsByType) },
      stages: {
        now,
        lostDealsOpen,
        atMonthEnd: stageAtMonthEnd,
        entries: this.entries,
        funnel,
        durations,
      },
      lostDeals: { ...this.lostDeals, byReason: sortedKeys(this.lostDeals.byReason) },
      churn: {
        total: this.entries.churned,
        byReason: sortedKeys(this.churnByReason),
        byMonth: this.churnedByMonth.map((churned, m) => ({
          month: monthLabel(this.monthStarts[m] as number),
          activeAtStart: m === 0 ? 0 : (activeAtMonthEnd[m - 1] as number),
          churned,
        })),
      },
      winBack,
      cohorts: cohortRows,
      tiers: { now: tiersNow, atMonthEnd: tierAtMonthEnd, changes: this.tierChanges, migration },
      distribution: {
        byOwner: sortedKeys(byOwner),
        byDepartment: sortedKeys(byDepartment),
        byRegion: sortedKeys(byRegion),
        byIndustry: sortedKeys(byIndustry),
        byCreditLevel: sortedKeys(byCreditLevel),
        bySize: sortedKeys(bySize),
      },
      revenue,
      followUps: { recorded: this.followUpsRecorded, byOwner: sortedKeys(followUpsByOwner) },
      accounts: { frozenNow, ...this.accounts },
    }
  }
}

const iso = (ms: number): Instant => new Date(ms).toISOString() as Instant

const monthOf = (starts: ReadonlyArray<number>, ms: number): number => {
  let m = 0
  while (m + 2 < starts.length && (starts[m + 1] as number) <= ms) m++
  return m
}
