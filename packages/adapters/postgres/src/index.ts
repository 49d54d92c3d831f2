/**
 * @relata/adapter-postgres: the EventStore port on PostgreSQL through `pg`.
 *
 *   PostgresEventStore.layer({ connectionString })  // Layer<EventStore, PostgresStoreOpenError>
 *
 * The throwaway test server lives in `@relata/adapter-postgres/testing`.
 */
export * as PostgresEventStore from "./PostgresEventStore.ts"
export {
  makePostgresEventStore,
  type PostgresEventStoreConfig,
  type PostgresEventStoreHandle,
} from "./PostgresEventStore.ts"
export { PostgresStoreOpenError } from "./PostgresStoreOpenError.ts"
