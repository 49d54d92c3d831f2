import {
  CustomerDecider,
  type CustomerEvent,
  defaultFollowUpCadence,
  foldEvents,
  isFollowUpOverdue,
  makeFollowUpSchedule,
  nextFollowUpDue,
} from "@relata/domain"
import { describe, expect, it } from "vitest"
import {
  accountFrozen,
  asChurned,
  asCustomer,
  asLead,
  customerId,
  day,
  dealLost,
  t0,
} from "./CustomerTestData.ts"

const stateOf = (events: ReadonlyArray<CustomerEvent>) => foldEvents(CustomerDecider, events)
const tierChanged = (to: "A" | "B" | "C" | "D"): CustomerEvent => ({
  _tag: "TierChanged",
  customerId,
  occurredAt: t0,
  from: "D",
  to,
  reason: "test",
})
const followedUp = (at: ReturnType<typeof day>): CustomerEvent => ({
  _tag: "FollowUpRecorded",
  customerId,
  occurredAt: at,
  at,
  channel: "phone",
  summary: "call",
  outcome: "ok",
})

describe("FollowUpCadence", () => {
  it("defaults to A weekly, B every two weeks, C monthly, D quarterly", () => {
    expect(defaultFollowUpCadence).toEqual({ A: 7, B: 14, C: 30, D: 90 })
  })

  it.each([
    ["A", 7],
    ["B", 14],
    ["C", 30],
    ["D", 90],
  ] as const)("a tier %s customer is due %i days after the last follow-up", (tier, days) => {
    const state = stateOf([...asCustomer, tierChanged(tier), followedUp(day(3))])
    expect(nextFollowUpDue(state)).toBe(day(3 + days))
  })

  it("counts from registration when there was no follow-up yet", () => {
    expect(nextFollowUpDue(stateOf(asLead))).toBe(day(90))
  })

  it("is overdue only after the due instant", () => {
    const state = stateOf([...asCustomer, tierChanged("A")])
    expect(isFollowUpOverdue(state, day(7))).toBe(false)
    expect(isFollowUpOverdue(state, day(8))).toBe(true)
    expect(isFollowUpOverdue(stateOf([...asCustomer, tierChanged("A"), followedUp(day(5))]), day(8))).toBe(
      false,
    )
  })

  it("is never due for unknown, frozen, lost or churned customers", () => {
    for (const events of [[], [...asCustomer, accountFrozen()], [...asLead, dealLost()], asChurned]) {
      expect(nextFollowUpDue(stateOf(events))).toBeNull()
      expect(isFollowUpOverdue(stateOf(events), day(1000))).toBe(false)
    }
  })

  it("follows a configured cadence", () => {
    const schedule = makeFollowUpSchedule({ A: 1, B: 2, C: 3, D: 5 })
    expect(schedule.nextFollowUpDue(stateOf(asLead))).toBe(day(5))
  })
})
