/**
 * The adapter's mappings between the EventStore port and the KurrentDB client, one namespace per
 * concern, for the adapter's unit tests and for anyone checking how events land on the server:
 * `@relata/adapter-kurrentdb/testing`. Not part of the main entry point.
 */
export * as AllStream from "../internal/allStream.ts"
export * as AppendManyPlan from "../internal/appendManyPlan.ts"
export * as ConnectionString from "../internal/connectionString.ts"
export * as ErrorMapping from "../internal/errors.ts"
export * as EventMapping from "../internal/events.ts"
export * as FilterMapping from "../internal/filters.ts"
export * as OpenClient from "../internal/openClient.ts"
export * as PositionMapping from "../internal/position.ts"
export * as StreamNames from "../internal/streamNames.ts"
export * as StreamStateMapping from "../internal/streamState.ts"
