/**
 * @relata/simulator: a seeded, deterministic simulator that drives realistic customer lifecycles
 * through Relata's real command path and keeps its own tally, against which the analytics are
 * checked figure by figure. Also the CLI's demo-data generator.
 */
export {
  runSimulation,
  type SimulateOptions,
  type SimulationError,
  type SimulationProgress,
  simulate,
  simulationDecider,
} from "./Simulation.ts"
export * from "./SimulationConfig.ts"
export * from "./SimulationDiverged.ts"
export * from "./Tally.ts"
