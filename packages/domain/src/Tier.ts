import { Schema } from "effect"

/** The account class: `A` are the key accounts a rep must focus on, then `B`, `C` and `D`. */
export const Tier = Schema.Literals(["A", "B", "C", "D"])
export type Tier = typeof Tier.Type

/** The tier a new lead gets when none is given. */
export const defaultTier: Tier = "D"
