/** The SnapshotStore port in memory: for tests and for embedding the domain without a database. */
import { Effect, Layer } from "effect"
import { type Snapshot, SnapshotStore, type SnapshotStoreService } from "./SnapshotStore.ts"

/** A new, empty in-memory snapshot store. */
export const makeInMemorySnapshotStore = (): SnapshotStoreService => {
  const snapshots = new Map<string, Snapshot>()
  const key = (streamId: string, stateSchemaVersion: number) => `${stateSchemaVersion}\u0000${streamId}`
  return {
    load: (streamId, stateSchemaVersion) =>
      Effect.sync(() => snapshots.get(key(streamId, stateSchemaVersion))),
    save: (snapshot) =>
      Effect.sync(() => {
        const k = key(snapshot.streamId, snapshot.stateSchemaVersion)
        const current = snapshots.get(k)
        if (current === undefined || current.version < snapshot.version) {
          snapshots.set(k, structuredClone(snapshot))
        }
      }),
  }
}

/** A layer with a fresh in-memory snapshot store. */
export const InMemorySnapshotStoreLayer: Layer.Layer<SnapshotStore> = Layer.sync(
  SnapshotStore,
  makeInMemorySnapshotStore,
)
