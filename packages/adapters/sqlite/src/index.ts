/**
 * @relata/adapter-sqlite: the EventStore port on one SQLite file (WAL) through node:sqlite.
 *
 *   SqliteEventStore.layer({ path: "./data/relata.sqlite" })  // Layer<EventStore, SqliteStoreOpenError>
 */
export * as SqliteEventStore from "./SqliteEventStore.ts"
export {
  makeSqliteEventStore,
  type SqliteEventStoreConfig,
  type SqliteEventStoreHandle,
} from "./SqliteEventStore.ts"
export { SqliteStoreOpenError } from "./SqliteStoreOpenError.ts"
