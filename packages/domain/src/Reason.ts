import { boundedText } from "./internal/Text.ts"

/** Why something was done, in the actor's words; the audit trail shows it next to the change. */
export const Reason = boundedText(2000)
export type Reason = typeof Reason.Type
