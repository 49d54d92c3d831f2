import { Schema } from "effect"

/** An ISO 4217 alphabetic currency code such as `EUR` or `CNY`. */
export const CurrencyCode = Schema.String.check(
  Schema.isPattern(/^[A-Z]{3}$/, { expected: "an ISO 4217 currency code such as EUR" }),
).pipe(Schema.brand("CurrencyCode"))
export type CurrencyCode = typeof CurrencyCode.Type

/**
 * An amount of money as a non-negative whole number of the currency's minor units (cents, fen),
 * so sums are exact.
 */
export const Money = Schema.Struct({
  amountMinor: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  currency: CurrencyCode,
})
export type Money = typeof Money.Type
