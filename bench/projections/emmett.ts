/**
 * The peer's projection rebuild: Emmett 0.42 building a comparable customer-card read model from the
 * same events, on PostgreSQL (its projections' home: pongo documents in PostgreSQL).
 *
 * - The first `events` events of our source store, in global order, are appended to Emmett's
 *   PostgreSQL event store (a database of its own on the same throwaway server), one append per
 *   event so that they keep their interleaving: the same type and data, and our metadata as the
 *   event's metadata.
 * - A `pongoSingleStreamProjection` keeps one pongo document per customer stream; its `evolve`
 *   decodes each event with our codec and folds it with our `nextCard`, the fold our card
 *   projection runs, so both sides do the same domain work per event and differ in their machinery.
 * - `rebuildPostgreSQLProjections` with Emmett's defaults rebuilds it from the first event until no
 *   event is left; the time from `start()` to its end is the rebuild.
 *
 * Emmett's projections rebuild at a few thousand events per second (the team measured ~3,500), so
 * the suite times it over a prefix, not the whole store. Emmett's packages are loaded from
 * bench/peers at run time; their types are declared here only as far as the suite uses them.
 */
import { type CustomerEvent, decodeCustomerEvent, type JsonObject, type RecordedEvent } from "@relata/domain"
import { type CustomerCard, nextCard } from "@relata/projections"
import { Result } from "effect"
import type { PeerRequire } from "../stores/peers.ts"

interface EmmettReadEvent {
  readonly type: string
  readonly data: JsonObject
  readonly metadata: JsonObject & {
    readonly streamName: string
    readonly streamPosition: bigint
    readonly globalPosition: bigint
  }
}

interface EmmettPostgres {
  getPostgreSQLEventStore(connectionString: string): {
    appendToStream(
      streamName: string,
      events: Array<{ type: string; data: JsonObject; metadata: JsonObject }>,
    ): Promise<unknown>
    schema: { migrate(): Promise<unknown> }
    close(): Promise<void>
  }
  pongoSingleStreamProjection(options: {
    collectionName: string
    canHandle: ReadonlyArray<string>
    evolve: (document: CustomerCard | null, event: EmmettReadEvent) => CustomerCard | null
  }): unknown
  rebuildPostgreSQLProjections(options: { connectionString: string; projections: ReadonlyArray<unknown> }): {
    start(): Promise<void>
    close(): Promise<void>
  }
}

const customerEventTypes = [
  "LeadRegistered",
  "LeadQualified",
  "DealLost",
  "LeadReopened",
  "CustomerConverted",
  "PurchaseRecorded",
  "CustomerBecameLoyal",
  "CustomerChurned",
  "CustomerWinBackStarted",
  "TierChanged",
  "AccountFrozen",
  "AccountUnfrozen",
  "OwnerAssigned",
  "ContactAdded",
  "ContactUpdated",
  "ContactRemoved",
  "FollowUpRecorded",
  "ProfileUpdated",
] satisfies ReadonlyArray<CustomerEvent["_tag"]>

/** Our stored event as Emmett delivers it, for `nextCard`. */
const recordedOf = (event: EmmettReadEvent, schemaVersion: number): RecordedEvent => ({
  eventId: "",
  type: event.type,
  schemaVersion,
  data: event.data,
  metadata: event.metadata,
  streamId: event.metadata.streamName,
  version: Number(event.metadata.streamPosition),
  position: event.metadata.globalPosition,
})

/**
 * Loads `events` into a fresh Emmett store at `connectionString`, then rebuilds the card projection
 * from them; resolves with the rebuild's events per second and how many cards it wrote.
 */
export const emmettCardRebuild = async (
  require: PeerRequire,
  connectionString: string,
  events: ReadonlyArray<RecordedEvent>,
): Promise<{ readonly eventsPerSecond: number; readonly loadEventsPerSecond: number }> => {
  const emmett = require("@event-driven-io/emmett-postgresql") as EmmettPostgres
  const store = emmett.getPostgreSQLEventStore(connectionString)
  const schemaVersions = new Map<string, number>()
  try {
    await store.schema.migrate()
    const loadStarted = performance.now()
    for (const event of events) {
      schemaVersions.set(event.type, event.schemaVersion)
      await store.appendToStream(event.streamId, [
        { type: event.type, data: event.data, metadata: event.metadata },
      ])
    }
    const loadEventsPerSecond = Math.round(events.length / ((performance.now() - loadStarted) / 1000))
    const projection = emmett.pongoSingleStreamProjection({
      collectionName: "customer_cards",
      canHandle: customerEventTypes,
      evolve: (document, event) => {
        const recorded = recordedOf(event, schemaVersions.get(event.type) ?? 1)
        const decoded = decodeCustomerEvent(recorded)
        if (Result.isFailure(decoded)) throw decoded.failure
        return nextCard(document ?? undefined, decoded.success, recorded) ?? null
      },
    })
    const consumer = emmett.rebuildPostgreSQLProjections({ connectionString, projections: [projection] })
    const started = performance.now()
    await consumer.start()
    const seconds = (performance.now() - started) / 1000
    await consumer.close()
    return { eventsPerSecond: Math.round(events.length / seconds), loadEventsPerSecond }
  } finally {
    await store.close()
  }
}
