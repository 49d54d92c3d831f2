/**
 * Demo data: the simulator drives a realistic population (reps, regions, industries, tiers,
 * follow-ups, churn and win-back over two years) through the real command path into the configured
 * event store. The same seed gives the same events.
 */
import { customerModel, EventStore, makeCommandHandler, SnapshotStore } from "@relata/domain"
import {
  resolveSimulationConfig,
  type SimulationConfig,
  type SimulationError,
  type SimulationProgress,
  simulate,
  simulationDecider,
  type Tally,
} from "@relata/simulator"
import { Effect, Option } from "effect"

export interface DemoOptions {
  /** Customers to simulate; the simulator's default (a few thousand) when absent. */
  readonly customers?: number
  readonly seed?: number
  readonly months?: number
  readonly onProgress?: (progress: SimulationProgress) => void
}

/** Seeds demo data into the event store; the customers' streams must not exist yet. */
export const seedDemo = (options: DemoOptions = {}): Effect.Effect<Tally, SimulationError, EventStore> =>
  Effect.gen(function* () {
    const config: SimulationConfig = {
      ...(options.customers === undefined ? {} : { customers: options.customers }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.months === undefined ? {} : { months: options.months }),
    }
    const resolved = yield* resolveSimulationConfig(config)
    const eventStore = yield* EventStore
    const snapshotStore = Option.getOrUndefined(yield* Effect.serviceOption(SnapshotStore))
    const handler = makeCommandHandler(
      customerModel(simulationDecider(resolved)),
      snapshotStore === undefined ? { eventStore } : { eventStore, snapshotStore },
    )
    return yield* simulate(config, {
      handler,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    })
  })
