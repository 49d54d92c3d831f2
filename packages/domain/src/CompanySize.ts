import { Schema } from "effect"

/** Head-count band: micro 1-9, small 10-49, medium 50-249, large 250-999, enterprise 1000 and more. */
export const CompanySize = Schema.Literals(["micro", "small", "medium", "large", "enterprise"])
export type CompanySize = typeof CompanySize.Type
