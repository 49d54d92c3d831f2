import {
  addMonths,
  CustomerDecider,
  defaultLoyaltyPolicy,
  describeLoyaltyRule,
  foldEvents,
  instantFromMillis,
  instantToMillis,
  isLoyaltyRuleMet,
  makeCustomerDecider,
  purchasesWithinWindow,
  recentPurchaseLimit,
} from "@relata/domain"
import { customerCommand as command } from "@relata/domain/testing"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  asCustomer,
  customerConverted,
  day,
  instant,
  leadQualified,
  leadRegistered,
  purchase,
  purchaseRecorded,
} from "./CustomerTestData.ts"

const policy = defaultLoyaltyPolicy
const justBefore = (s: ReturnType<typeof instant>) => instantFromMillis(instantToMillis(s) - 1)

describe("LoyaltyPolicy", () => {
  it("defaults to 3 purchases within 12 months", () => {
    expect(describeLoyaltyRule(policy)).toBe("3 purchases within 12 months")
  })

  it("counts a purchase exactly 12 months earlier, but not one a millisecond before that", () => {
    const at = instant("2025-03-10T12:00:00.000Z")
    const edge = instant("2024-03-10T12:00:00.000Z")
    expect(addMonths(at, -12)).toBe(edge)
    expect(isLoyaltyRuleMet(policy, [edge, instant("2024-12-01T00:00:00.000Z"), at], at)).toBe(true)
    expect(isLoyaltyRuleMet(policy, [justBefore(edge), instant("2024-12-01T00:00:00.000Z"), at], at)).toBe(
      false,
    )
  })

  it("measures months on the calendar, clamped at the month's end", () => {
    expect(addMonths(instant("2024-02-29T08:00:00.000Z"), -12)).toBe("2023-02-28T08:00:00.000Z")
    expect(addMonths(instant("2025-03-31T00:00:00.000Z"), -1)).toBe("2025-02-28T00:00:00.000Z")
  })

  it("ignores purchases after the instant judged (a back-dated purchase is judged as of its date)", () => {
    const at = instant("2024-06-01T00:00:00.000Z")
    const later = [instant("2024-07-01T00:00:00.000Z"), instant("2024-08-01T00:00:00.000Z")]
    expect(purchasesWithinWindow(policy, [at, ...later], at)).toBe(1)
  })

  it("counts the first purchase: conversion plus two purchases within the year make a customer loyal", () => {
    const state = foldEvents(CustomerDecider, [...asCustomer, purchaseRecorded(day(100))])
    const result = CustomerDecider.decide(
      command("RecordPurchase", purchase(), { issuedAt: day(365) }),
      state,
    )
    expect(Result.getOrThrow(result).map((event) => event._tag)).toEqual([
      "PurchaseRecorded",
      "CustomerBecameLoyal",
    ])
  })

  it("does not promote when the first purchase has left the window", () => {
    const history = [leadRegistered(), leadQualified(), customerConverted(), purchaseRecorded(day(200))]
    const state = foldEvents(CustomerDecider, history)
    const result = CustomerDecider.decide(
      command("RecordPurchase", purchase(), { issuedAt: day(367) }),
      state,
    )
    expect(Result.getOrThrow(result).map((event) => event._tag)).toEqual(["PurchaseRecorded"])
  })

  it("rejects a configuration it cannot honour", () => {
    expect(() =>
      makeCustomerDecider({ loyalty: { purchases: recentPurchaseLimit + 1, withinMonths: 12 } }),
    ).toThrow()
    expect(() => makeCustomerDecider({ loyalty: { purchases: 0, withinMonths: 12 } })).toThrow()
  })

  it("keeps only the most recent purchase instants in the state, in order", () => {
    const purchases = Array.from({ length: recentPurchaseLimit + 5 }, (_, i) => purchaseRecorded(day(40 - i)))
    const state = foldEvents(CustomerDecider, [...asCustomer, ...purchases])
    if (state.status !== "registered") throw new Error("registered expected")
    expect(state.purchases.count).toBe(recentPurchaseLimit + 6)
    expect(state.purchases.recent).toHaveLength(recentPurchaseLimit)
    expect(state.purchases.recent).toEqual([...state.purchases.recent].sort())
    expect(state.purchases.recent.at(-1)).toBe(day(40))
  })
})
