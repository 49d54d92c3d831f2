import { Schema } from "effect"
import { identifier } from "./internal/Text.ts"

/** Identifies one command; the command handler uses it to make a retried command idempotent. */
export const CommandId = identifier.pipe(Schema.brand("CommandId"))
export type CommandId = typeof CommandId.Type
