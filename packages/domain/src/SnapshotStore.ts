/**
 * The SnapshotStore port: the latest folded state of a stream, so the command handler loads a long
 * stream (a loyal customer with thousands of events) as one snapshot plus the events after it.
 */
import { Context, type Effect } from "effect"
import type { JsonObject, StoreUnavailable, StreamVersion } from "./EventStore.ts"

/** A stream's state as of one version, encoded as JSON by the state's schema. */
export interface Snapshot {
  readonly streamId: string
  /** The stream version the state includes: events after it are folded on top. */
  readonly version: StreamVersion
  /** Version of the state's shape; a snapshot of another shape is ignored, never decoded. */
  readonly stateSchemaVersion: number
  readonly state: JsonObject
}

export interface SnapshotStoreService {
  /** The newest snapshot of the stream taken with this state schema version, if any. */
  readonly load: (
    streamId: string,
    stateSchemaVersion: number,
  ) => Effect.Effect<Snapshot | undefined, StoreUnavailable>
  /** Keeps the snapshot unless the store already holds a newer one for the stream and schema version. */
  readonly save: (snapshot: Snapshot) => Effect.Effect<void, StoreUnavailable>
}

export class SnapshotStore extends Context.Service<SnapshotStore, SnapshotStoreService>()(
  "@relata/domain/SnapshotStore",
) {}
