import { Schema } from "effect"

/**
 * The command handler did something other than what the simulator's own model of the customer
 * predicted: the tally would no longer describe the store, so the run stops. Either the model or
 * the domain has a bug, or the handler does not use the configuration's policies.
 */
export class SimulationDiverged extends Schema.TaggedError<SimulationDiverged>()("SimulationDiverged", {
  commandId: Schema.String,
  commandType: Schema.String,
  customerId: Schema.String,
  expected: Schema.String,
  actual: Schema.String,
}) {
  override get message(): string {
    return `Simulation diverged at ${this.commandType} ${this.commandId} for ${this.customerId}: expected ${this.expected}, got ${this.actual}`
  }
}
