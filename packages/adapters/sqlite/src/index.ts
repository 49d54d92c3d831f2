/**
 * @relata/adapter-sqlite: the EventStore and SnapshotStore ports on one SQLite file (WAL) through
 * node:sqlite.
 *
 *   SqliteEventStore.layer({ path: "./data/relata.sqlite" })               // Layer<EventStore, SqliteStoreOpenError>
 *   SqliteEventStore.layerWithSnapshots({ path: "./data/relata.sqlite" })  // Layer<EventStore | SnapshotStore, ...>
 */
export * as SqliteEventStore from "./SqliteEventStore.ts"
export {
  makeSqliteEventStore,
  type SqliteEventStoreConfig,
  type SqliteEventStoreHandle,
} from "./SqliteEventStore.ts"
export * as SqliteReadModelStore from "./SqliteReadModelStore.ts"
export {
  makeSqliteReadModelStore,
  type SqliteReadModelStoreConfig,
  type SqliteReadModelStoreHandle,
} from "./SqliteReadModelStore.ts"
export * as SqliteSnapshotStore from "./SqliteSnapshotStore.ts"
export { makeSqliteSnapshotStore, type SqliteSnapshotStoreHandle } from "./SqliteSnapshotStore.ts"
export { SqliteStoreOpenError } from "./SqliteStoreOpenError.ts"
