/**
 * The one place that picks an adapter: a store URL in, the adapter's layer out. Everything else in
 * the API sees only the ports (`EventStore`, `SnapshotStore`, `ReadModelStore`).
 */
import { KurrentDbEventStore, type KurrentDbStoreOpenError } from "@relata/adapter-kurrentdb"
import {
  PostgresEventStore,
  PostgresReadModelStore,
  type PostgresStoreOpenError,
} from "@relata/adapter-postgres"
import { SqliteEventStore, SqliteReadModelStore, type SqliteStoreOpenError } from "@relata/adapter-sqlite"
import { type EventStore, InMemoryEventStore, InMemorySnapshotStoreLayer } from "@relata/domain"
import { InMemoryReadModelStore, type ReadModelStore } from "@relata/projections"
import { Layer, Redacted } from "effect"
import { parseStoreUrl, type StoreUrl } from "./StoreUrl.ts"

/** Why a store could not be opened. */
export type StoreOpenError = SqliteStoreOpenError | PostgresStoreOpenError | KurrentDbStoreOpenError

/**
 * The event store at `url` (and, where the adapter has one, its snapshot store beside it, which the
 * command handler picks up when present), closed when the layer's scope closes. `bulk` trades
 * durability for speed where the adapter can (SQLite syncs the log at checkpoints rather than at
 * every commit): for seeding demo data, never for serving.
 */
export const eventStoreLayer = (
  url: StoreUrl,
  options: { readonly bulk?: boolean } = {},
): Layer.Layer<EventStore, StoreOpenError> => {
  const location = parseStoreUrl(url)
  switch (location.kind) {
    case "sqlite":
      return SqliteEventStore.layerWithSnapshots({
        path: location.path,
        ...(options.bulk ? { synchronous: "NORMAL" as const } : {}),
      })
    case "postgres":
      return PostgresEventStore.layerWithSnapshots({
        connectionString: Redacted.make(location.connectionString),
      })
    case "kurrentdb":
      // KurrentDB keeps no snapshots here; the command handler then folds each stream from its start.
      return KurrentDbEventStore.layer({ connectionString: Redacted.make(location.connectionString) })
    case "memory":
      return Layer.merge(InMemoryEventStore.layer, InMemorySnapshotStoreLayer)
  }
}

/**
 * Where the read models live: the given URL, or by default beside the events (the same SQLite file,
 * the same PostgreSQL schema); in memory when the events are elsewhere (KurrentDB) and none is
 * given, rebuilt from the events at every start.
 */
export const readModelsUrl = (readModels: StoreUrl | undefined, eventStore: StoreUrl): StoreUrl => {
  if (readModels !== undefined) return readModels
  const kind = parseStoreUrl(eventStore).kind
  return kind === "sqlite" || kind === "postgres" ? eventStore : ("memory:" as StoreUrl)
}

/** The read-model store at `url`, closed when the layer's scope closes. */
export const readModelStoreLayer = (url: StoreUrl): Layer.Layer<ReadModelStore, StoreOpenError> => {
  const location = parseStoreUrl(url)
  switch (location.kind) {
    case "sqlite":
      return SqliteReadModelStore.layer({ path: location.path })
    case "postgres":
      return PostgresReadModelStore.layer({ connectionString: Redacted.make(location.connectionString) })
    case "kurrentdb":
      // Checked by the configuration (`readModels` cannot name KurrentDB); memory is the safe reading.
      return InMemoryReadModelStore.layer
    case "memory":
      return InMemoryReadModelStore.layer
  }
}

/** Whether the store is the embedded default kind (a local SQLite file), where `serve` may seed demo data. */
export const isEmbedded = (url: StoreUrl): boolean => parseStoreUrl(url).kind === "sqlite"
