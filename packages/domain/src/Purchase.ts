import { Schema } from "effect"
import { boundedText, identifier } from "./internal/Text.ts"
import { Money } from "./Money.ts"

/** The reference of a purchase in the system that records it (order, contract or invoice number). */
export const PurchaseId = identifier.pipe(Schema.brand("PurchaseId"))
export type PurchaseId = typeof PurchaseId.Type

/** One purchase: what it cost and, optionally, its reference and a short description. */
export const Purchase = Schema.Struct({
  purchaseId: Schema.optionalKey(PurchaseId),
  amount: Money,
  description: Schema.optionalKey(boundedText(500)),
})
export type Purchase = typeof Purchase.Type
