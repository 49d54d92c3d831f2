/**
 * The projection that keeps the audit trail: one entry per Customer event in `audit_entries`,
 * indexed for one customer's history (by version), and for the global trail filtered by actor,
 * role, event type, command type, correlation or customer, over a range of recorded time.
 *
 * The previous state. An entry's changes need the customer's state before the event. The projection
 * keeps it itself, one document per customer in `audit_customer_states` (the state and the stream
 * version it reflects), rather than reading the customer card: a transaction sees only its own
 * projection's collections, the card moves on its own checkpoint (it may be behind, ahead, or being
 * rebuilt), and the trail must be rebuildable alone. That costs one state-sized document per customer,
 * about what a card costs, and one read per event, batched by the runner like the card's.
 *
 * An entry's id is its global position, zero-padded to 20 digits (enough for 2^64), so ordering by id
 * is ordering by position, in every adapter.
 */
import {
  CustomerDecider,
  type CustomerDecider as CustomerDeciderShape,
  type CustomerEvent,
  type CustomerState,
  customerStreamPrefix,
  decodeCustomerEvent,
  type GlobalPosition,
  initialState,
  type JsonObject,
} from "@relata/domain"
import { defineProjection, type Projection } from "../Projection.ts"
import { defineCollection, Field } from "../ReadModelStore.ts"
import { type AuditEntry, auditEntryOf } from "./AuditEntry.ts"

/** The projection's name; its checkpoint and generations go by it. */
export const auditTrailProjectionName = "audit-trail"

/** The entries' collection. */
export const auditEntriesCollection = "audit_entries"

/** The per-customer states the projection diffs against; not for readers. */
export const auditCustomerStatesCollection = "audit_customer_states"

/** The id of the entry of the event at `position`: the position, zero-padded to 20 digits. */
export const auditEntryId = (position: GlobalPosition | string): string =>
  position.toString().padStart(20, "0")

/**
 * The entries, indexed for every filter and order the queries offer: one customer's history in
 * stream order, and the global trail in recorded-time order, alone or filtered by any one field (a
 * compound index per filter, so a page of a million-entry trail is a range scan, never a sort).
 * Filter fields have no index of their own: the compound ones serve them.
 */
const compoundOnly = { ownIndex: false } as const
export const auditEntries = defineCollection<AuditEntry>({
  name: auditEntriesCollection,
  fields: {
    customerId: Field.text((entry) => entry.customerId, compoundOnly),
    version: Field.number((entry) => entry.version, compoundOnly),
    actor: Field.text((entry) => entry.actor?.id, compoundOnly),
    actorRole: Field.text((entry) => entry.actor?.role, compoundOnly),
    eventType: Field.text((entry) => entry.eventType, compoundOnly),
    commandType: Field.text((entry) => entry.commandType, compoundOnly),
    correlationId: Field.text((entry) => entry.correlationId, compoundOnly),
    recordedAt: Field.text((entry) => entry.recordedAt),
  },
  indexes: [
    ["customerId", "version"],
    ["actor", "recordedAt"],
    ["actorRole", "recordedAt"],
    ["eventType", "recordedAt"],
    ["commandType", "recordedAt"],
    ["correlationId", "recordedAt"],
  ],
})

/** What the projection remembers of a customer: its state after the last event applied, and that event's version. */
export interface AuditCustomerState {
  readonly version: number
  readonly state: CustomerState
}

/** The per-customer states: no indexed field, read by id only. */
export const auditCustomerStates = defineCollection<AuditCustomerState>({
  name: auditCustomerStatesCollection,
  fields: {},
})

/**
 * Builds the audit-trail projection for a decider and version. A decider with other policies folds
 * the same events the same way (`evolve` does not depend on them), but give it a new version anyway if
 * its evolve differs: the runner then rebuilds the trail.
 */
export const makeAuditTrailProjection = (
  options: { readonly decider?: CustomerDeciderShape; readonly version?: number } = {},
): Projection<CustomerEvent> => {
  const decider = options.decider ?? CustomerDecider
  return defineProjection<CustomerEvent>({
    name: auditTrailProjectionName,
    // 2: a compound index per filter, in recorded-time order, instead of an index per field.
    version: options.version ?? 2,
    collections: [auditEntries, auditCustomerStates],
    filter: { streamPrefix: customerStreamPrefix },
    decode: decodeCustomerEvent,
    reads: (event) => [[auditCustomerStatesCollection, event.customerId]],
    apply: (tx, event, recorded) => {
      const previous = tx.get(auditCustomerStatesCollection, event.customerId) as
        | AuditCustomerState
        | undefined
      const version = previous?.version ?? 0
      // The runner delivers each event once, in order: a gap or a repeat means a lost or doubled event.
      if (recorded.version !== version + 1) {
        throw new Error(
          `${recorded.streamId}: event version ${recorded.version} follows audited version ${version}`,
        )
      }
      const { entry, state } = auditEntryOf(previous?.state ?? initialState, event, recorded, decider)
      tx.put(auditEntriesCollection, auditEntryId(recorded.position), entry as unknown as JsonObject)
      tx.put(auditCustomerStatesCollection, event.customerId, {
        version: recorded.version,
        state: state as unknown as JsonObject,
      })
    },
  })
}

/** The audit-trail projection with the Customer decider. */
export const AuditTrailProjection: Projection<CustomerEvent> = makeAuditTrailProjection()
