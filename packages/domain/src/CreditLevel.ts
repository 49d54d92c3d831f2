import { Schema } from "effect"

/** The customer's assessed credit standing, from best to worst. */
export const CreditLevel = Schema.Literals(["excellent", "good", "fair", "poor"])
export type CreditLevel = typeof CreditLevel.Type
