import { Schema } from "effect"

/** What an actor may do: `viewer` and `auditor` only read, `rep` works its accounts, `manager` and `admin` run them. */
export const ActorRole = Schema.Literals(["viewer", "rep", "manager", "auditor", "admin"])
export type ActorRole = typeof ActorRole.Type
