/**
 * The SnapshotStore port on the event store's SQLite file: the `snapshots` table beside `events`,
 * one row per stream and state schema version, kept at the newest version. On its own connection
 * here; `SqliteEventStore.layerWithSnapshots` gives both stores on one connection, which is what an
 * application wants.
 */
import { SnapshotStore, type SnapshotStoreService } from "@relata/domain"
import { Effect, Layer, type Scope } from "effect"
import { openStore } from "./internal/openStore.ts"
import { snapshotStoreOn } from "./internal/snapshots.ts"
import type { SqliteEventStoreConfig } from "./SqliteEventStore.ts"
import type { SqliteStoreOpenError } from "./SqliteStoreOpenError.ts"

/** The snapshot store plus what its owner needs: where the file is and how to close it. */
export interface SqliteSnapshotStoreHandle extends SnapshotStoreService {
  /** The database file, absolute. */
  readonly path: string
  /** Closes the connection; later calls fail with StoreUnavailable. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Opens (creating and migrating if needed) the file the config names, the event store's, and returns
 * the snapshot store with its `close`; the caller closes it. Fails with `SqliteStoreOpenError`.
 */
export const makeSqliteSnapshotStore = (
  config: SqliteEventStoreConfig = {},
): Effect.Effect<SqliteSnapshotStoreHandle, SqliteStoreOpenError> =>
  openStore(config, (db, resolved) => ({
    ...snapshotStoreOn(db, resolved),
    path: resolved.path,
    close: Effect.sync(() => {
      if (db.isOpen) db.close()
    }),
  }))

/** The store as a `SnapshotStore` service, closed when the scope closes. */
export const make = (
  config: SqliteEventStoreConfig = {},
): Effect.Effect<SnapshotStoreService, SqliteStoreOpenError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(makeSqliteSnapshotStore(config), (handle) => handle.close),
    ({ load, save }) => SnapshotStore.of({ load, save }),
  )

/** Provides `SnapshotStore` from one SQLite file; the file is closed when the layer's scope closes. */
export const layer = (
  config: SqliteEventStoreConfig = {},
): Layer.Layer<SnapshotStore, SqliteStoreOpenError> => Layer.effect(SnapshotStore, make(config))
