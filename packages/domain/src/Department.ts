import { Schema } from "effect"
import { boundedText } from "./internal/Text.ts"

/** The department (sales team, branch) that holds a customer, in the company's own vocabulary. */
export const Department = boundedText(100).pipe(Schema.brand("Department"))
export type Department = typeof Department.Type
