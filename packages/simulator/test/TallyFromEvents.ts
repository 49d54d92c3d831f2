/**
 * The tally's figures recomputed from stored events alone, the plain way: decode every event,
 * fold each customer's stream with the Customer decider, and count by the README's definitions.
 * Deliberately shares no code with the simulator, so agreement means something.
 */
import {
  CustomerDecider,
  type CustomerEvent,
  type CustomerState,
  decodeCustomerEvent,
  type FollowUpCadence,
  type LifecycleStage,
  makeFollowUpSchedule,
  type RecordedEvent,
  type RegisteredCustomer,
  type Tier,
} from "@relata/domain"
import { Result } from "effect"

type Counts<K extends string> = Record<K, number>
const stageList: ReadonlyArray<LifecycleStage> = ["lead", "prospect", "customer", "loyal", "churned"]
const tierList: ReadonlyArray<Tier> = ["A", "B", "C", "D"]
const zeroStages = (): Counts<LifecycleStage> => ({ lead: 0, prospect: 0, customer: 0, loyal: 0, churned: 0 })
const zeroTiers = (): Counts<Tier> => ({ A: 0, B: 0, C: 0, D: 0 })
const add = (record: Record<string, number>, key: string, by = 1) => {
  record[key] = (record[key] ?? 0) + by
}
const rank = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? null : (sorted[Math.ceil((p / 100) * sorted.length) - 1] as number)

interface Stream {
  readonly recorded: ReadonlyArray<RecordedEvent>
  readonly events: ReadonlyArray<CustomerEvent>
}

/** Decodes every stored event and groups them by stream, in stream order. */
export const customerStreams = (all: ReadonlyArray<RecordedEvent>): ReadonlyArray<Stream> => {
  const streams = new Map<string, { recorded: Array<RecordedEvent>; events: Array<CustomerEvent> }>()
  for (const recorded of all) {
    let stream = streams.get(recorded.streamId)
    if (stream === undefined) {
      stream = { recorded: [], events: [] }
      streams.set(recorded.streamId, stream)
    }
    stream.recorded.push(recorded)
    stream.events.push(Result.getOrThrow(decodeCustomerEvent(recorded)))
  }
  for (const stream of streams.values()) {
    const versions = stream.recorded.map((e) => e.version)
    if (versions.some((v, i) => v !== i + 1)) throw new Error("a stream's versions are not 1, 2, 3...")
  }
  return [...streams.values()]
}

const foldUntil = (events: ReadonlyArray<CustomerEvent>, before: string): CustomerState => {
  let state = CustomerDecider.initialState
  for (const event of events) if (event.occurredAt < before) state = CustomerDecider.evolve(state, event)
  return state
}

const registered = (state: CustomerState): RegisteredCustomer | undefined =>
  state.status === "registered" ? state : undefined

const monthStart = (start: string, i: number): string => {
  const d = new Date(start)
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + i, 1)).toISOString()
}

/** Every figure of the tally that stored events determine, computed from them. */
export const tallyFromEvents = (
  all: ReadonlyArray<RecordedEvent>,
  period: { readonly start: string; readonly months: number; readonly cadence: FollowUpCadence },
) => {
  const { start, months } = period
  const bounds = Array.from({ length: months + 1 }, (_, i) => monthStart(start, i))
  const end = bounds[months] as string
  const monthOf = (instant: string) => bounds.findLastIndex((b) => b <= instant)
  const schedule = makeFollowUpSchedule(period.cadence)
  const streams = customerStreams(all)

  const eventsByType: Record<string, number> = {}
  const commandIds = new Set<string>()
  const acceptedByType: Record<string, Set<string>> = {}
  for (const e of all) {
    add(eventsByType, e.type)
    const commandId = e.metadata.commandId as string
    commandIds.add(commandId)
    const type = e.metadata.commandType as string
    acceptedByType[type] ??= new Set()
    acceptedByType[type].add(commandId)
  }

  const now = zeroStages()
  const lostDealsOpen = { lead: 0, prospect: 0 }
  const entries = {
    lead: { registered: 0, reopened: 0 },
    prospect: { qualified: 0, wonBack: 0 },
    customer: 0,
    loyal: { byPolicy: 0, byHand: 0 },
    churned: 0,
  }
  const funnel = { lead: 0, prospect: 0, customer: 0, loyal: 0 }
  const stays: Record<LifecycleStage, Array<number>> = {
    lead: [],
    prospect: [],
    customer: [],
    loyal: [],
    churned: [],
  }
  const lostDeals = {
    total: 0,
    byStage: { lead: 0, prospect: 0 },
    byReason: {} as Record<string, number>,
    reopened: 0,
  }
  const churnByReason: Record<string, number> = {}
  const churnedByMonth = new Array<number>(months).fill(0)
  const winBack = { churns: 0, started: 0, succeeded: 0, failed: 0, open: 0 }
  const tierChanges = { byHand: 0, byHandBackDated: 0, byClassification: 0 }
  const accounts = { frozenNow: 0, freezes: 0, unfreezes: 0, handovers: 0, duplicates: 0 }
  const followUps: Record<
    string,
    { onTime: number; late: number; openOverdue: number; unscheduled: number }
  > = {}
  const followUpRow = (owner: string) => {
    followUps[owner] ??= { onTime: 0, late: 0, openOverdue: 0, unscheduled: 0 }
    return followUps[owner]
  }
  let followUpsRecorded = 0
  const finals: Array<RegisteredCustomer> = []
  const revenue: Record<string, Map<string, number>> = {}
  const purchases: Record<string, number> = {}

  for (const { events } of streams) {
    let state = CustomerDecider.initialState
    const ever = new Set<LifecycleStage>()
    const entryTimes: Array<[string, LifecycleStage]> = []
    events.forEach((event, index) => {
      const before = state
      state = CustomerDecider.evolve(state, event)
      const after = registered(state) as RegisteredCustomer
      ever.add(after.stage)
      const entering: Record<string, true> = {
        LeadRegistered: true,
        LeadQualified: true,
        LeadReopened: true,
        CustomerConverted: true,
        CustomerBecameLoyal: true,
        CustomerChurned: true,
        CustomerWinBackStarted: true,
      }
      if (entering[event._tag]) entryTimes.push([event.occurredAt, after.stage])
      const buy = (amount: { currency: string; amountMinor: number }) => {
        revenue[amount.currency] ??= new Map()
        const byCustomer = revenue[amount.currency] as Map<string, number>
        byCustomer.set(event.customerId, (byCustomer.get(event.customerId) ?? 0) + amount.amountMinor)
        add(purchases, amount.currency)
      }
      switch (event._tag) {
        case "LeadRegistered":
          entries.lead.registered++
          if (event.duplicateOf !== undefined) accounts.duplicates++
          break
        case "LeadQualified":
          entries.prospect.qualified++
          break
        case "LeadReopened":
          entries.lead.reopened++
          lostDeals.reopened++
          break
        case "DealLost": {
          const stage = (registered(before) as RegisteredCustomer).stage as "lead" | "prospect"
          lostDeals.total++
          lostDeals.byStage[stage]++
          add(lostDeals.byReason, event.reason)
          break
        }
        case "CustomerConverted":
          entries.customer++
          buy(event.firstPurchase.amount)
          break
        case "PurchaseRecorded":
          buy(event.amount)
          break
        case "CustomerBecameLoyal":
          if (event.by === "policy") entries.loyal.byPolicy++
          else entries.loyal.byHand++
          break
        case "CustomerChurned":
          entries.churned++
          winBack.churns++
          add(churnByReason, event.reason)
          churnedByMonth[monthOf(event.occurredAt)] = (churnedByMonth[monthOf(event.occurredAt)] ?? 0) + 1
          break
        case "CustomerWinBackStarted": {
          entries.prospect.wonBack++
          winBack.started++
          const later = events.slice(index + 1)
          if (later.some((e) => e._tag === "CustomerConverted")) winBack.succeeded++
          else if (later.some((e) => e._tag === "DealLost")) winBack.failed++
          else winBack.open++
          break
        }
        case "TierChanged":
          if (event.classification !== undefined) tierChanges.byClassification++
          else tierChanges.byHand++
          break
        case "AccountFrozen":
          accounts.freezes++
          break
        case "AccountUnfrozen":
          accounts.unfreezes++
          break
        case "OwnerAssigned":
          accounts.handovers++
          break
        case "FollowUpRecorded": {
          followUpsRecorded++
          const due = schedule.nextFollowUpDue(before)
          const row = followUpRow((registered(before) as RegisteredCustomer).owner)
          if (due === null) row.unscheduled++
          else if (event.at <= due) row.onTime++
          else row.late++
          break
        }
        default:
          break
      }
    })
    const final = registered(state) as RegisteredCustomer
    finals.push(final)
    now[final.stage]++
    if (final.lostDeal !== null) lostDealsOpen[final.stage as "lead" | "prospect"]++
    if (final.frozen !== null) accounts.frozenNow++
    funnel.lead++
    if (ever.has("prospect")) funnel.prospect++
    if (ever.has("customer")) funnel.customer++
    if (ever.has("loyal")) funnel.loyal++
    for (let i = 0; i + 1 < entryTimes.length; i++) {
      const [from, stage] = entryTimes[i] as [string, LifecycleStage]
      stays[stage].push(Date.parse((entryTimes[i + 1] as [string, LifecycleStage])[0]) - Date.parse(from))
    }
    if (schedule.isFollowUpOverdue(final, end as never)) followUpRow(final.owner).openOverdue++
  }
  // Back-dated: the business instant is earlier than the instant it was recorded at.
  for (const e of all) {
    if (e.type === "TierChanged" && e.data.classification === undefined) {
      if ((e.data.occurredAt as string) < (e.metadata.recordedAt as string)) tierChanges.byHandBackDated++
    }
  }

  const durations = Object.fromEntries(
    stageList.map((stage) => {
      const sorted = [...stays[stage]].sort((a, b) => a - b)
      return [
        stage,
        { count: sorted.length, medianMs: rank(sorted, 50), p90Ms: rank(sorted, 90), durationsMs: sorted },
      ]
    }),
  )

  const atMonthEnd: Array<Counts<LifecycleStage>> = []
  const tiersAtMonthEnd: Array<Counts<Tier>> = []
  for (let m = 0; m < months; m++) {
    const stages = zeroStages()
    const tiers = zeroTiers()
    for (const { events } of streams) {
      const state = registered(foldUntil(events, bounds[m + 1] as string))
      if (state === undefined) continue
      stages[state.stage]++
      tiers[state.tier]++
    }
    atMonthEnd.push(stages)
    tiersAtMonthEnd.push(tiers)
  }

  const churnByMonth = churnedByMonth.map((churned, m) => {
    let activeAtStart = 0
    for (const { events } of streams) {
      const state = registered(foldUntil(events, bounds[m] as string))
      if (state !== undefined && (state.stage === "customer" || state.stage === "loyal")) activeAtStart++
    }
    return { month: (bounds[m] as string).slice(0, 7), activeAtStart, churned }
  })

  const cohorts = Array.from({ length: months }, (_, c) => {
    const members = streams.filter(({ events }) => monthOf((events[0] as CustomerEvent).occurredAt) === c)
    return {
      month: (bounds[c] as string).slice(0, 7),
      registered: members.length,
      retained: Array.from({ length: months - c }, (_, k) => {
        return members.filter(({ events }) => {
          const stage = registered(foldUntil(events, bounds[c + k + 1] as string))?.stage
          return stage === "customer" || stage === "loyal"
        }).length
      }),
    }
  })

  const migration = []
  for (let m = 0; m < months; m += 3) {
    const from = bounds[m] as string
    const to = bounds[Math.min(m + 3, months)] as string
    const matrix = { A: zeroTiers(), B: zeroTiers(), C: zeroTiers(), D: zeroTiers() }
    for (const { events } of streams) {
      if ((events[0] as CustomerEvent).occurredAt >= from) continue
      const a = registered(foldUntil(events, from)) as RegisteredCustomer
      const b = registered(foldUntil(events, to)) as RegisteredCustomer
      matrix[a.tier][b.tier]++
    }
    migration.push({ from, to, matrix })
  }
  const tiersNow = zeroTiers()
  for (const final of finals) tiersNow[final.tier]++

  const distribution = (keyOf: (c: RegisteredCustomer) => string | undefined | null) => {
    const table: Record<string, Record<string, number>> = {}
    for (const final of finals) {
      const key = keyOf(final) ?? "unspecified"
      table[key] ??= { total: 0, ...zeroStages() }
      add(table[key], "total")
      add(table[key], final.stage)
    }
    return table
  }

  const tierOf = new Map(finals.map((f) => [f.customerId as string, f.tier]))
  const revenueTable = Object.fromEntries(
    Object.entries(revenue).map(([currency, byCustomer]) => {
      const perCustomer = [...byCustomer.entries()]
        .map(([customerId, revenueMinor]) => ({ customerId, revenueMinor }))
        .sort((a, b) => b.revenueMinor - a.revenueMinor || (a.customerId < b.customerId ? -1 : 1))
      const top = (p: number) => {
        const customers = Math.ceil((p / 100) * perCustomer.length)
        return {
          customers,
          revenueMinor: perCustomer.slice(0, customers).reduce((s, r) => s + r.revenueMinor, 0),
        }
      }
      const lifetimeValueByTier = Object.fromEntries(
        tierList.map((tier) => {
          const rows = perCustomer.filter((r) => tierOf.get(r.customerId) === tier)
          return [tier, { customers: rows.length, totalMinor: rows.reduce((s, r) => s + r.revenueMinor, 0) }]
        }),
      )
      return [
        currency,
        {
          purchases: purchases[currency],
          totalMinor: perCustomer.reduce((s, r) => s + r.revenueMinor, 0),
          buyers: perCustomer.length,
          perCustomer,
          top20: top(20),
          pareto: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((p) => ({
            percentOfCustomers: p,
            ...top(p),
          })),
          lifetimeValueByTier,
        },
      ]
    }),
  )

  return {
    period: {
      customers: streams.length,
      start,
      end,
      months: bounds.slice(0, months).map((b) => b.slice(0, 7)),
    },
    acceptedCommands: commandIds.size,
    acceptedByType: Object.fromEntries(Object.entries(acceptedByType).map(([type, ids]) => [type, ids.size])),
    events: { total: all.length, byType: eventsByType },
    stages: { now, lostDealsOpen, atMonthEnd, entries, funnel, durations },
    lostDeals,
    churn: { total: entries.churned, byReason: churnByReason, byMonth: churnByMonth },
    winBack,
    cohorts,
    tiers: { now: tiersNow, atMonthEnd: tiersAtMonthEnd, changes: tierChanges, migration },
    distribution: {
      byOwner: distribution((c) => c.owner),
      byDepartment: distribution((c) => c.department),
      byRegion: distribution((c) => c.profile.region),
      byIndustry: distribution((c) => c.profile.industry),
      byCreditLevel: distribution((c) => c.profile.creditLevel),
      bySize: distribution((c) => c.profile.size),
    },
    revenue: revenueTable,
    followUps: {
      recorded: followUpsRecorded,
      byOwner: Object.fromEntries(
        Object.entries(followUps).map(([owner, r]) => [
          owner,
          {
            due: r.onTime + r.late + r.openOverdue,
            onTime: r.onTime,
            overdue: r.late + r.openOverdue,
            late: r.late,
            openOverdue: r.openOverdue,
            unscheduled: r.unscheduled,
          },
        ]),
      ),
    },
    accounts,
  }
}
