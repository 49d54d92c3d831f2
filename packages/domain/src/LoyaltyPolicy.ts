/**
 * When a repeat buyer becomes loyal by policy: enough purchases within a window of months. The
 * first purchase (the one that made the customer) counts.
 */
import { Schema } from "effect"
import { addMonths, type Instant } from "./Instant.ts"

/**
 * How many purchase instants a customer's state keeps (the most recent ones): the most any policy
 * may count. Keeping all of them would make each fold step copy an ever longer list.
 */
export const recentPurchaseLimit = 24

/** Configuration: `purchases` purchases within `withinMonths` months make a customer loyal. */
export const LoyaltyPolicy = Schema.Struct({
  purchases: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: recentPurchaseLimit })),
  withinMonths: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 120 })),
})
export type LoyaltyPolicy = typeof LoyaltyPolicy.Type

/** The default: 3 purchases within 12 months. */
export const defaultLoyaltyPolicy: LoyaltyPolicy = { purchases: 3, withinMonths: 12 }

/** The rule in words, as recorded on `CustomerBecameLoyal`: "3 purchases within 12 months". */
export const describeLoyaltyRule = (policy: LoyaltyPolicy): string =>
  `${policy.purchases} purchases within ${policy.withinMonths} months`

/**
 * Counts the purchases in the window that ends at `at`: from `withinMonths` calendar months
 * before `at` (inclusive) up to `at` (inclusive). Later purchases do not count.
 */
export const purchasesWithinWindow = (
  policy: LoyaltyPolicy,
  purchaseInstants: ReadonlyArray<Instant>,
  at: Instant,
): number => {
  const windowStart = addMonths(at, -policy.withinMonths)
  let count = 0
  for (const instant of purchaseInstants) if (instant >= windowStart && instant <= at) count++
  return count
}

/**
 * Whether the rule is met at `at`, the instant of the purchase being recorded. Pass every known
 * purchase instant including that one; a back-dated purchase is judged as of its own date.
 */
export const isLoyaltyRuleMet = (
  policy: LoyaltyPolicy,
  purchaseInstants: ReadonlyArray<Instant>,
  at: Instant,
): boolean => purchasesWithinWindow(policy, purchaseInstants, at) >= policy.purchases
