/**
 * @relata/adapter-postgres: the EventStore and SnapshotStore ports on one PostgreSQL schema through
 * `pg`.
 *
 *   PostgresEventStore.layer({ connectionString })               // Layer<EventStore, PostgresStoreOpenError>
 *   PostgresEventStore.layerWithSnapshots({ connectionString })  // Layer<EventStore | SnapshotStore, ...>
 *
 * The throwaway test server lives in `@relata/adapter-postgres/testing`.
 */
export * as PostgresEventStore from "./PostgresEventStore.ts"
export {
  makePostgresEventStore,
  type PostgresEventStoreConfig,
  type PostgresEventStoreHandle,
} from "./PostgresEventStore.ts"
export * as PostgresReadModelStore from "./PostgresReadModelStore.ts"
export {
  makePostgresReadModelStore,
  type PostgresReadModelStoreConfig,
  type PostgresReadModelStoreHandle,
} from "./PostgresReadModelStore.ts"
export * as PostgresSnapshotStore from "./PostgresSnapshotStore.ts"
export {
  makePostgresSnapshotStore,
  type PostgresSnapshotStoreConfig,
  type PostgresSnapshotStoreHandle,
} from "./PostgresSnapshotStore.ts"
export { PostgresStoreOpenError } from "./PostgresStoreOpenError.ts"
