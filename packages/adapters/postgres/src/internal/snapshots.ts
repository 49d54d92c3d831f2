/**
 * The SnapshotStore port on an open pool, alone (PostgresSnapshotStore) or beside the event store
 * (PostgresEventStore.layerWithSnapshots). Each call is one statement on a pooled connection: a save
 * is one upsert, a load one lookup on the primary key.
 */
import { type Snapshot, SnapshotStore, type SnapshotStoreService, StoreUnavailable } from "@relata/domain"
import { Effect } from "effect"
import type pg from "pg"
import { schemaNames } from "./migrations.ts"
import { storeUnavailable } from "./pgErrors.ts"
import { makeSnapshotQueries, type SnapshotRow } from "./queries.ts"

/** The snapshot store on `pool`, in `schema`'s tables; whoever owns the pool ends it. */
export const snapshotStoreOn = (pool: pg.Pool, schema: string): SnapshotStoreService => {
  const queries = makeSnapshotQueries(schemaNames(schema))

  // The pool is shared with the event store, whose owner may end it: say so rather than pg's words.
  const unavailable = (operation: string, cause: unknown): StoreUnavailable =>
    pool.ending
      ? new StoreUnavailable({ reason: `${operation}: the store is closed`, retryable: false, cause })
      : storeUnavailable(operation, cause)

  const load = (
    streamId: string,
    stateSchemaVersion: number,
  ): Effect.Effect<Snapshot | undefined, StoreUnavailable> =>
    Effect.map(
      Effect.tryPromise({
        try: () => pool.query<SnapshotRow>(queries.load(streamId, stateSchemaVersion)),
        catch: (cause) => unavailable(`load the snapshot of ${streamId}`, cause),
      }),
      (result) => {
        const row = result.rows[0]
        // The table's CHECK keeps `state` a JSON object, so the row needs no further checking.
        return row === undefined
          ? undefined
          : { streamId, version: row.version, stateSchemaVersion, state: row.state }
      },
    )

  const save = (snapshot: Snapshot): Effect.Effect<void, StoreUnavailable> =>
    Effect.asVoid(
      Effect.tryPromise({
        try: () => pool.query(queries.save(snapshot)),
        catch: (cause) => unavailable(`save a snapshot of ${snapshot.streamId}`, cause),
      }),
    )

  return SnapshotStore.of({ load, save })
}
