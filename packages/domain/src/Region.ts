import { Schema } from "effect"
import { boundedText } from "./internal/Text.ts"

/** A sales region or geography, in the company's own vocabulary (open set). */
export const Region = boundedText(100).pipe(Schema.brand("Region"))
export type Region = typeof Region.Type
