/**
 * @relata/adapter-kurrentdb: the EventStore port on KurrentDB (EventStoreDB) through
 * `@kurrent/kurrentdb-client`.
 *
 *   KurrentDbEventStore.layer({ connectionString: "kurrentdb://admin:changeit@db:2113" })
 *   // Layer<EventStore, KurrentDbStoreOpenError>
 *   KurrentDbEventStore.make(config)          // the handle (appendMany, close), scoped
 *   KurrentDbEventStore.fromClient(client)    // on a client you made (credentials provider, …)
 *
 * The mapping functions between the port and the client are in `@relata/adapter-kurrentdb/testing`.
 */
export * as KurrentDbEventStore from "./KurrentDbEventStore.ts"
export {
  type AppendManyOptions,
  type AppendManyResult,
  type Atomicity,
  type KurrentDbClient,
  type KurrentDbEventStoreConfig,
  type KurrentDbEventStoreHandle,
  type KurrentDbEventStoreOptions,
  type MultiStreamAppendCapability,
  makeKurrentDbEventStore,
  type StreamAppend,
} from "./KurrentDbEventStore.ts"
export { KurrentDbStoreOpenError } from "./KurrentDbStoreOpenError.ts"
