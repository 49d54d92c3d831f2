import { Schema } from "effect"

/** Where a customer stands in the lifecycle: lead, prospect, customer (first purchase), loyal, churned. */
export const LifecycleStage = Schema.Literals(["lead", "prospect", "customer", "loyal", "churned"])
export type LifecycleStage = typeof LifecycleStage.Type
