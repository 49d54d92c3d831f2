/**
 * Opening a store from its configuration: check the settings, open and migrate the file
 * (openDatabase), then set up what runs on the connection. The event store, the snapshot store and
 * the layer that puts both on one connection all open their file here.
 */
import path from "node:path"
import type { DatabaseSync } from "node:sqlite"
import { Effect } from "effect"
import type { SqliteEventStoreConfig } from "../SqliteEventStore.ts"
import { SqliteStoreOpenError } from "../SqliteStoreOpenError.ts"
import { openDatabase, type Synchronous } from "./openDatabase.ts"
import { messageOf } from "./sqliteErrors.ts"

/** The defaults of `SqliteEventStoreConfig`. */
export const defaults = {
  path: "./data/relata.sqlite",
  synchronous: "FULL",
  busyTimeoutMs: 5_000,
  pollIntervalMs: 200,
  batchSize: 1_000,
} as const satisfies Required<SqliteEventStoreConfig>

const synchronousModes: ReadonlyArray<Synchronous> = ["OFF", "NORMAL", "FULL", "EXTRA"]

/** A checked configuration, every default filled in and the path absolute. */
export interface ResolvedConfig {
  readonly path: string
  readonly synchronous: Synchronous
  readonly busyTimeoutMs: number
  readonly pollIntervalMs: number
  readonly batchSize: number
}

const resolveConfig = (config: SqliteEventStoreConfig): ResolvedConfig => {
  const resolved = {
    path: path.resolve(config.path ?? defaults.path),
    synchronous: config.synchronous ?? defaults.synchronous,
    busyTimeoutMs: config.busyTimeoutMs ?? defaults.busyTimeoutMs,
    pollIntervalMs: config.pollIntervalMs ?? defaults.pollIntervalMs,
    batchSize: config.batchSize ?? defaults.batchSize,
  }
  const invalid = (reason: string) =>
    new SqliteStoreOpenError({
      path: resolved.path,
      reason: `invalid configuration: ${reason}`,
      retryable: false,
    })
  const rawPath = config.path ?? defaults.path
  if (rawPath.trim() === "" || rawPath === ":memory:" || rawPath.startsWith("file:")) {
    throw invalid(`path must name a file (WAL needs one), got "${rawPath}"`)
  }
  if (!synchronousModes.includes(resolved.synchronous)) {
    throw invalid(`synchronous must be one of ${synchronousModes.join(", ")}, got "${resolved.synchronous}"`)
  }
  if (!Number.isInteger(resolved.busyTimeoutMs) || resolved.busyTimeoutMs < 0) {
    throw invalid(`busyTimeoutMs must be a whole number >= 0, got ${resolved.busyTimeoutMs}`)
  }
  if (!Number.isFinite(resolved.pollIntervalMs) || resolved.pollIntervalMs <= 0) {
    throw invalid(`pollIntervalMs must be a number > 0, got ${resolved.pollIntervalMs}`)
  }
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize < 1) {
    throw invalid(`batchSize must be a whole number >= 1, got ${resolved.batchSize}`)
  }
  return resolved
}

/**
 * Opens (creating if needed) the configured file and runs `setUp` on the connection, typically
 * preparing statements. The caller owns what `setUp` returns and closes the connection; if `setUp`
 * throws, the connection is closed here. Fails with `SqliteStoreOpenError` naming what is wrong.
 */
export const openStore = <A>(
  config: SqliteEventStoreConfig,
  setUp: (db: DatabaseSync, config: ResolvedConfig) => A,
): Effect.Effect<A, SqliteStoreOpenError> =>
  Effect.try({
    try: () => {
      const resolved = resolveConfig(config)
      const db = openDatabase(resolved)
      try {
        return setUp(db, resolved)
      } catch (cause) {
        db.close()
        throw new SqliteStoreOpenError({
          path: resolved.path,
          reason: `prepare statements: ${messageOf(cause)}`,
          retryable: false,
          cause,
        })
      }
    },
    catch: (cause) =>
      cause instanceof SqliteStoreOpenError
        ? cause
        : new SqliteStoreOpenError({
            path: path.resolve(config.path ?? defaults.path),
            reason: messageOf(cause),
            retryable: false,
            cause,
          }),
  })
