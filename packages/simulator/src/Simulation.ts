/**
 * Runs a simulation: many customers driven through realistic lifecycles over a simulated period,
 * through the real command path, returning the simulator's own tally of what it did.
 *
 *   const tally = yield* simulate({ seed: 7, customers: 2_000 }, { handler, onProgress })
 *
 * Time: commands are issued in global time order (one agenda across all customers); each carries
 * the simulated instant as `issuedAt`, and the handler runs under a Clock whose wall time is that
 * instant, so every event's `recordedAt` equals its command's `issuedAt`. Ids: customer, command,
 * contact and purchase ids are derived from the seed (`<idPrefix>-cus-0001`, `<idPrefix>-cmd-17`), so
 * the same seed and configuration append the same events, byte for byte, to an empty store.
 */
import {
  type CustomerCommandHandlerService,
  type CustomerDecider,
  customerModel,
  type InMemoryEventStoreHandle,
  makeCommandHandler,
  makeCustomerDecider,
  makeInMemoryEventStore,
  makeInMemorySnapshotStore,
} from "@relata/domain"
import { Effect } from "effect"
import { type EngineError, type SimulationProgress, Simulator } from "./internal/Simulator.ts"
import {
  type InvalidSimulationConfig,
  type ResolvedSimulationConfig,
  resolveSimulationConfig,
  type SimulationConfig,
} from "./SimulationConfig.ts"
import type { Tally } from "./Tally.ts"

export type { SimulationProgress } from "./internal/Simulator.ts"

/** Why a simulation stopped: a bad configuration, a divergence from the model, or the store. */
export type SimulationError = InvalidSimulationConfig | EngineError

export interface SimulateOptions {
  /**
   * The command handler to drive, over any event store. Its decider must apply the configuration's
   * loyalty and classification policies and the default permissions (`simulationDecider` builds it).
   * The customers' streams must not exist yet.
   */
  readonly handler: CustomerCommandHandlerService
  /** Called at most once per simulated day, and once at the end (done = total). */
  readonly onProgress?: (progress: SimulationProgress) => void
}

/** The decider a simulation's handler must use: the configuration's policies, default permissions. */
export const simulationDecider = (config: ResolvedSimulationConfig): CustomerDecider =>
  makeCustomerDecider({ loyalty: config.loyalty, classification: config.classification })

/** Runs the simulation through the given handler and returns its tally. */
export const simulate = (
  config: SimulationConfig,
  options: SimulateOptions,
): Effect.Effect<Tally, SimulationError> =>
  Effect.flatMap(resolveSimulationConfig(config), (resolved) =>
    new Simulator(resolved, options.handler, options.onProgress).run(),
  )

/** Runs the simulation on a fresh in-memory event store (with snapshots); returns the tally and the store. */
export const runSimulation = (
  config: SimulationConfig = {},
  options: { readonly onProgress?: (progress: SimulationProgress) => void } = {},
): Effect.Effect<{ readonly tally: Tally; readonly store: InMemoryEventStoreHandle }, SimulationError> =>
  Effect.gen(function* () {
    const resolved = yield* resolveSimulationConfig(config)
    const store = makeInMemoryEventStore()
    const handler = makeCommandHandler(customerModel(simulationDecider(resolved)), {
      eventStore: store,
      snapshotStore: makeInMemorySnapshotStore(),
    })
    const tally = yield* new Simulator(resolved, handler, options.onProgress).run()
    return { tally, store }
  })
