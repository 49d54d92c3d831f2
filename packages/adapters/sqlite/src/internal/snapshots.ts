/**
 * The SnapshotStore port on an open store connection, alone (SqliteSnapshotStore) or beside the event
 * store (SqliteEventStore.layerWithSnapshots). Like the event store, every call runs synchronously on
 * the connection, so a save never interleaves with an append's transaction.
 */
import type { DatabaseSync } from "node:sqlite"
import {
  type JsonObject,
  type Snapshot,
  SnapshotStore,
  type SnapshotStoreService,
  type StoreUnavailable,
} from "@relata/domain"
import { Effect, Predicate } from "effect"
import { prepareSnapshotStatements } from "./queries.ts"
import { storeUnavailable } from "./sqliteErrors.ts"

interface SnapshotRow {
  readonly version: number
  readonly state: string
}

const parseState = (text: string): JsonObject | undefined => {
  try {
    const state: unknown = JSON.parse(text)
    return Predicate.isObject(state) && !Array.isArray(state) ? (state as JsonObject) : undefined
  } catch {
    return undefined
  }
}

/** The snapshot store on `db`, its statements prepared now; whoever owns `db` closes it. */
export const snapshotStoreOn = (
  db: DatabaseSync,
  config: { readonly busyTimeoutMs: number },
): SnapshotStoreService => {
  const st = prepareSnapshotStatements(db)
  const unavailable = (action: string, cause: unknown): StoreUnavailable =>
    storeUnavailable(action, cause, { closed: !db.isOpen, busyTimeoutMs: config.busyTimeoutMs })

  const load = (
    streamId: string,
    stateSchemaVersion: number,
  ): Effect.Effect<Snapshot | undefined, StoreUnavailable> =>
    Effect.suspend(() => {
      let row: SnapshotRow | undefined
      try {
        // The columns are fixed by the SELECT and typed by the STRICT table, hence the cast.
        row = st.loadSnapshot.get(streamId, stateSchemaVersion) as SnapshotRow | undefined
      } catch (cause) {
        return Effect.fail(unavailable(`load the snapshot of ${streamId}`, cause))
      }
      if (row === undefined) return Effect.succeed(undefined)
      const state = parseState(row.state)
      if (state === undefined) {
        // Only this store writes the column, so the row was changed behind its back. A snapshot is an
        // optimisation: the stream's events still give the state, so report no snapshot instead of
        // failing every command on the stream until someone repairs the row.
        return Effect.as(
          Effect.logWarning("snapshot ignored: its state is not a JSON object", streamId, stateSchemaVersion),
          undefined,
        )
      }
      return Effect.succeed({ streamId, version: row.version, stateSchemaVersion, state })
    })

  const save = (snapshot: Snapshot): Effect.Effect<void, StoreUnavailable> =>
    Effect.try({
      try: () => {
        st.saveSnapshot.run(
          snapshot.streamId,
          snapshot.stateSchemaVersion,
          snapshot.version,
          JSON.stringify(snapshot.state),
        )
      },
      catch: (cause) => unavailable(`save a snapshot of ${snapshot.streamId}`, cause),
    })

  return SnapshotStore.of({ load, save })
}
