import { Schema } from "effect"
import { boundedText } from "./internal/Text.ts"

/** Where a lead came from (trade fair, web form, referral...), in the company's own vocabulary. */
export const LeadSource = boundedText(100).pipe(Schema.brand("LeadSource"))
export type LeadSource = typeof LeadSource.Type
