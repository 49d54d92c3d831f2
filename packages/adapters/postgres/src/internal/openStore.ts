/**
 * Opening a store from its configuration: check the settings, then open, check and migrate a pool
 * (openPool). The event store, the snapshot store and the layer that puts both on one pool all
 * open here, so they read their settings the same way and fail with the same errors.
 */
import { Effect, Redacted } from "effect"
import type pg from "pg"
import type { PostgresEventStoreConfig } from "../PostgresEventStore.ts"
import { PostgresStoreOpenError } from "../PostgresStoreOpenError.ts"
import { type Connection, openPool, resolveConnection } from "./connection.ts"
import { schemaNamePattern } from "./migrations.ts"

/** The defaults of `PostgresEventStoreConfig`. */
export const defaults = {
  schema: "relata",
  poolSize: 10,
  pollIntervalMs: 1_000,
  batchSize: 1_000,
  connectTimeoutMs: 10_000,
  lockTimeoutMs: 10_000,
  applicationName: "relata",
} as const satisfies Required<Omit<PostgresEventStoreConfig, "connectionString">>

/** A checked configuration, every default filled in and the connection string read. */
export interface ResolvedConfig {
  readonly connectionString: string
  readonly schema: string
  readonly poolSize: number
  readonly pollIntervalMs: number
  readonly batchSize: number
  readonly connectTimeoutMs: number
  readonly lockTimeoutMs: number
  readonly applicationName: string
  readonly connection: Connection
}

const resolveConfig = (config: PostgresEventStoreConfig): ResolvedConfig => {
  const connectionString = Redacted.isRedacted(config.connectionString)
    ? Redacted.value(config.connectionString)
    : config.connectionString
  const resolved = {
    connectionString,
    schema: config.schema ?? defaults.schema,
    poolSize: config.poolSize ?? defaults.poolSize,
    pollIntervalMs: config.pollIntervalMs ?? defaults.pollIntervalMs,
    batchSize: config.batchSize ?? defaults.batchSize,
    connectTimeoutMs: config.connectTimeoutMs ?? defaults.connectTimeoutMs,
    lockTimeoutMs: config.lockTimeoutMs ?? defaults.lockTimeoutMs,
    applicationName: config.applicationName ?? defaults.applicationName,
  }
  const connection = resolveConnection(connectionString)
  const invalid = (reason: string) =>
    new PostgresStoreOpenError({
      ...connection.target,
      reason: `invalid configuration: ${reason}`,
      retryable: false,
    })
  if (connection.problem !== undefined) throw invalid(connection.problem)
  if (!schemaNamePattern.test(resolved.schema)) {
    throw invalid(
      `schema must be 1 to 48 lower-case letters, digits or underscores, not starting with a digit; got "${resolved.schema}"`,
    )
  }
  if (!Number.isInteger(resolved.poolSize) || resolved.poolSize < 1) {
    throw invalid(`poolSize must be a whole number >= 1, got ${resolved.poolSize}`)
  }
  if (!Number.isFinite(resolved.pollIntervalMs) || resolved.pollIntervalMs <= 0) {
    throw invalid(`pollIntervalMs must be a number > 0, got ${resolved.pollIntervalMs}`)
  }
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize < 1) {
    throw invalid(`batchSize must be a whole number >= 1, got ${resolved.batchSize}`)
  }
  if (!Number.isInteger(resolved.connectTimeoutMs) || resolved.connectTimeoutMs < 1) {
    throw invalid(`connectTimeoutMs must be a whole number >= 1, got ${resolved.connectTimeoutMs}`)
  }
  if (!Number.isInteger(resolved.lockTimeoutMs) || resolved.lockTimeoutMs < 1) {
    throw invalid(`lockTimeoutMs must be a whole number >= 1, got ${resolved.lockTimeoutMs}`)
  }
  return { ...resolved, connection }
}

/** An open, checked and migrated pool with the configuration it was opened with; the caller ends it. */
export interface OpenStore {
  readonly pool: pg.Pool
  readonly config: ResolvedConfig
}

/**
 * Checks the configuration, connects, checks the server and brings the schema to the latest version.
 * Fails fast with `PostgresStoreOpenError` naming the server (never the password) and what is wrong.
 */
export const openStore = (
  config: PostgresEventStoreConfig,
): Effect.Effect<OpenStore, PostgresStoreOpenError> =>
  Effect.gen(function* () {
    const resolved = yield* Effect.try({
      try: () => resolveConfig(config),
      catch: (cause) =>
        cause instanceof PostgresStoreOpenError
          ? cause
          : new PostgresStoreOpenError({
              host: "unknown",
              port: 0,
              database: "unknown",
              user: "unknown",
              reason: `invalid configuration: ${cause instanceof Error ? cause.message : String(cause)}`,
              retryable: false,
            }),
    })
    const pool = yield* openPool(resolved.connection, {
      schema: resolved.schema,
      poolSize: resolved.poolSize,
      connectTimeoutMs: resolved.connectTimeoutMs,
      lockTimeoutMs: resolved.lockTimeoutMs,
      applicationName: resolved.applicationName,
    })
    return { pool, config: resolved }
  })
