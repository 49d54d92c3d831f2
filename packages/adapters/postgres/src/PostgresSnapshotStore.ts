/**
 * The SnapshotStore port on the event store's PostgreSQL schema: the `snapshots` table beside
 * `events`, one row per stream and state schema version, kept at the newest version. On its own pool
 * here; `PostgresEventStore.layerWithSnapshots` gives both stores on one pool, which is what an
 * application wants.
 *
 *   PostgresSnapshotStore.layer({ connectionString: "postgresql://relata@db:5432/relata" })
 */
import { SnapshotStore, type SnapshotStoreService } from "@relata/domain"
import { Effect, Layer, type Scope } from "effect"
import { openStore } from "./internal/openStore.ts"
import { snapshotStoreOn } from "./internal/snapshots.ts"
import type { PostgresEventStoreConfig } from "./PostgresEventStore.ts"
import type { PostgresStoreOpenError } from "./PostgresStoreOpenError.ts"

/**
 * How to reach the server: the event store's settings that apply to snapshots. Only
 * `connectionString` is required; `schema` must be the event store's to keep both together.
 */
export type PostgresSnapshotStoreConfig = Pick<
  PostgresEventStoreConfig,
  "connectionString" | "schema" | "poolSize" | "connectTimeoutMs" | "lockTimeoutMs" | "applicationName"
>

/** The snapshot store plus what its owner needs: its schema, and how to close it. */
export interface PostgresSnapshotStoreHandle extends SnapshotStoreService {
  /** The schema the store's tables live in. */
  readonly schema: string
  /** Ends the pool; later calls fail with StoreUnavailable. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Connects, checks the server and brings the schema to the latest version (the event store's tables
 * included), then returns the snapshot store with its `close`; the caller closes it. Fails fast with
 * `PostgresStoreOpenError` naming the server (never the password) and what is wrong.
 */
export const makePostgresSnapshotStore = (
  config: PostgresSnapshotStoreConfig,
): Effect.Effect<PostgresSnapshotStoreHandle, PostgresStoreOpenError> =>
  Effect.map(openStore(config), ({ pool, config: resolved }) => ({
    ...snapshotStoreOn(pool, resolved.schema),
    schema: resolved.schema,
    close: Effect.promise(async () => {
      if (!pool.ending) await pool.end().catch(() => undefined)
    }),
  }))

/** The store, closed when the scope closes. */
export const make = (
  config: PostgresSnapshotStoreConfig,
): Effect.Effect<PostgresSnapshotStoreHandle, PostgresStoreOpenError, Scope.Scope> =>
  Effect.acquireRelease(makePostgresSnapshotStore(config), (handle) => handle.close)

/** Provides `SnapshotStore` from PostgreSQL; the pool is ended when the layer's scope closes. */
export const layer = (
  config: PostgresSnapshotStoreConfig,
): Layer.Layer<SnapshotStore, PostgresStoreOpenError> =>
  Layer.effect(
    SnapshotStore,
    Effect.map(make(config), ({ load, save }) => SnapshotStore.of({ load, save })),
  )
