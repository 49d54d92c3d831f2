/**
 * One customer's audit trail rebuilt from its stream in the event store, with `auditEntryOf`, the
 * step the projection runs (one code path): the history an auditor replays without trusting the
 * read model, and the reference the projection's entries are checked against.
 */
import {
  CustomerDecider,
  type CustomerDecider as CustomerDeciderShape,
  type CustomerId,
  customerStreamId,
  decodeCustomerEvent,
  type EventStoreService,
  initialState,
  StoredEventUnreadable,
  type StoreUnavailable,
} from "@relata/domain"
import { Effect, Result } from "effect"
import { type AuditEntry, auditEntryOf } from "./AuditEntry.ts"

/** Every entry of the customer's trail, in stream order, replayed from the event store. */
export const customerAuditTrailFromStore = (
  eventStore: EventStoreService,
  customerId: CustomerId,
  decider: CustomerDeciderShape = CustomerDecider,
): Effect.Effect<ReadonlyArray<AuditEntry>, StoreUnavailable | StoredEventUnreadable> =>
  Effect.gen(function* () {
    const streamId = customerStreamId(customerId)
    const recorded = yield* eventStore.readStream(streamId)
    const entries: Array<AuditEntry> = []
    let state = initialState
    for (const stored of recorded) {
      const decoded = decodeCustomerEvent(stored)
      if (Result.isFailure(decoded)) {
        return yield* new StoredEventUnreadable({
          streamId,
          version: stored.version,
          type: stored.type,
          cause: decoded.failure,
        })
      }
      const step = auditEntryOf(state, decoded.success, stored, decider)
      entries.push(step.entry)
      state = step.state
    }
    return entries
  })
