import { Schema } from "effect"
import { identifier } from "./internal/Text.ts"

/** Identifies a person or system that issues commands; a rep's id is also what a customer's owner holds. */
export const ActorId = identifier.pipe(Schema.brand("ActorId"))
export type ActorId = typeof ActorId.Type
