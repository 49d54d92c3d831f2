/**
 * What readers ask of the audit trail: one customer's history in stream order, and the global trail
 * filtered by actor, role, kind of action (event type or command type), correlation, customer and
 * a range of recorded time, in recorded-time order. Both come in cursor pages and as a stream that
 * pages lazily (for exports of any size). Every query is one indexed read of the ReadModelStore.
 */
import type {
  ActorId,
  ActorRole,
  CustomerCommandType,
  CustomerEventType,
  CustomerId,
  Instant,
} from "@relata/domain"
import { Effect, Option, Stream } from "effect"
import {
  type Condition,
  type InvalidReadModelQuery,
  type ReadModelQuery,
  type ReadModelReadError,
  ReadModelStore,
} from "../ReadModelStore.ts"
import type { AuditEntry } from "./AuditEntry.ts"
import { auditEntriesCollection } from "./AuditTrailProjection.ts"

/** Which entries to return; every filter given must hold. A list matches any of its values. */
export interface AuditTrailFilter {
  readonly customerId?: CustomerId
  readonly actor?: ActorId | ReadonlyArray<ActorId>
  readonly actorRole?: ActorRole | ReadonlyArray<ActorRole>
  /** The kind of action: the event's type ("TierChanged"). */
  readonly eventType?: CustomerEventType | ReadonlyArray<CustomerEventType>
  /** The command that caused it ("ClassifyCustomer" and "ChangeTier" both change tiers). */
  readonly commandType?: CustomerCommandType | ReadonlyArray<CustomerCommandType>
  readonly correlationId?: string
  /** Recorded at or after this instant. */
  readonly recordedFrom?: Instant
  /** Recorded strictly before this instant. */
  readonly recordedBefore?: Instant
}

/**
 * The order of a trail: `recordedAt` (then global position), the auditor's timeline; or `version`
 * (then global position), one customer's stream order, which needs a `customerId` filter to mean much.
 */
export type AuditTrailOrder = "recordedAt" | "version"

export interface AuditTrailPageOptions {
  /** The `next` cursor of the previous page of the same query. */
  readonly after?: string
  /** Entries per page: 1 to 1000, default 50. */
  readonly limit?: number
  /** Default ascending: oldest first. */
  readonly direction?: "asc" | "desc"
}

export interface AuditTrailPage {
  readonly entries: ReadonlyArray<AuditEntry>
  /** The cursor of the next page; absent on the last page. */
  readonly next?: string
}

export type AuditTrailQueryError = ReadModelReadError | InvalidReadModelQuery

const oneOrMany = <A extends string>(value: A | ReadonlyArray<A> | undefined): Condition | undefined =>
  value === undefined ? undefined : typeof value === "string" ? value : { in: value }

const where = (filter: AuditTrailFilter): NonNullable<ReadModelQuery["where"]> => ({
  customerId: filter.customerId,
  actor: oneOrMany(filter.actor),
  actorRole: oneOrMany(filter.actorRole),
  eventType: oneOrMany(filter.eventType),
  commandType: oneOrMany(filter.commandType),
  correlationId: filter.correlationId,
  recordedAt:
    filter.recordedFrom === undefined && filter.recordedBefore === undefined
      ? undefined
      : {
          ...(filter.recordedFrom === undefined ? {} : { gte: filter.recordedFrom }),
          ...(filter.recordedBefore === undefined ? {} : { lt: filter.recordedBefore }),
        },
})

// Documents in `audit_entries` are written only by the audit-trail projection from an AuditEntry.
const asEntry = (document: unknown): AuditEntry => document as AuditEntry

/** One page of the entries that match, in the order asked (then by global position, the same way). */
export const queryAuditTrail = (
  filter: AuditTrailFilter,
  options: AuditTrailPageOptions & { readonly order?: AuditTrailOrder } = {},
): Effect.Effect<AuditTrailPage, AuditTrailQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const page = yield* store.query(auditEntriesCollection, {
      where: where(filter),
      orderBy: { field: options.order ?? "recordedAt", direction: options.direction ?? "asc" },
      ...(options.after === undefined ? {} : { after: options.after }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    })
    return {
      entries: page.items.map((item) => asEntry(item.document)),
      ...(page.next === undefined ? {} : { next: page.next }),
    }
  })

/** One customer's history in stream order (optionally narrowed by the other filters). */
export const customerAuditTrail = (
  customerId: CustomerId,
  options: AuditTrailPageOptions & { readonly filter?: Omit<AuditTrailFilter, "customerId"> } = {},
): Effect.Effect<AuditTrailPage, AuditTrailQueryError, ReadModelStore> => {
  const { filter, ...page } = options
  return queryAuditTrail({ ...filter, customerId }, { ...page, order: "version" })
}

/** The global trail in recorded-time order, filtered. */
export const searchAuditTrail = (
  filter: AuditTrailFilter = {},
  options: AuditTrailPageOptions = {},
): Effect.Effect<AuditTrailPage, AuditTrailQueryError, ReadModelStore> =>
  queryAuditTrail(filter, { ...options, order: "recordedAt" })

/**
 * Every matching entry as a stream that reads one page at a time, when the consumer pulls: memory
 * stays at about one page whatever the size of the trail. Pages are separate reads, so a trail
 * that grows meanwhile may show entries recorded after the stream started.
 */
export const streamAuditTrail = (
  filter: AuditTrailFilter = {},
  options: {
    readonly order?: AuditTrailOrder
    readonly direction?: "asc" | "desc"
    /** Entries per read: 1 to 1000, default 1000. */
    readonly pageSize?: number
  } = {},
): Stream.Stream<AuditEntry, AuditTrailQueryError, ReadModelStore> =>
  Stream.paginate(undefined as string | undefined, (after) =>
    Effect.map(
      queryAuditTrail(filter, {
        order: options.order ?? "recordedAt",
        direction: options.direction ?? "asc",
        limit: options.pageSize ?? 1_000,
        ...(after === undefined ? {} : { after }),
      }),
      (page) => [page.entries, Option.fromUndefinedOr(page.next)] as const,
    ),
  )
