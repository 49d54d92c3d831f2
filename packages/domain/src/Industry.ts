import { Schema } from "effect"
import { boundedText } from "./internal/Text.ts"

/** The customer's industry, in the company's own vocabulary (open set). */
export const Industry = boundedText(100).pipe(Schema.brand("Industry"))
export type Industry = typeof Industry.Type
