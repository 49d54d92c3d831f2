/**
 * Schemas of what the HTTP API sends and reads besides the command bodies: path parameters,
 * headers, the command result, stored events. Built from the
 * domain's schemas wherever the domain has one, so the two cannot drift apart.
 */
import { ContactId, CustomerId, type RecordedEvent } from "@relata/domain"
import { CustomerCardView } from "@relata/projections"
import { Schema } from "effect"

/** `{customerId}` in a path. */
export const CustomerPath = Schema.Struct({ customerId: CustomerId })
export type CustomerPath = typeof CustomerPath.Type

/** `{customerId}/contacts/{contactId}` in a path. */
export const ContactPath = Schema.Struct({ customerId: CustomerId, contactId: ContactId })
export type ContactPath = typeof ContactPath.Type

/** An entity tag as the API writes it: the stream version in double quotes. */
export const etagOf = (version: number): string => `"${version}"`

const ifMatchPattern = /^(\*|"\d{1,15}")$/

/** The headers a command reads. */
export const CommandHeaders = Schema.Struct({
  "if-match": Schema.optionalKey(
    Schema.String.check(
      Schema.makeFilter((s: string) => ifMatchPattern.test(s.trim()), {
        expected: 'an entity tag the API sent, such as "7" (with the quotes), or *',
      }),
    ).annotate({
      description:
        'The version (ETag) the client last saw, such as "7". A customer that has moved on answers 412; without it the server retries conflicts itself.',
    }),
  ),
  "idempotency-key": Schema.optionalKey(
    Schema.String.check(
      Schema.makeFilter((s: string) => /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/.test(s), {
        expected: "1 to 128 letters, digits and _ . : @ - (a UUID is a good key)",
      }),
    ).annotate({
      description:
        "Makes the command safe to retry: it becomes the command id, and a repeat gets the first result and appends nothing.",
    }),
  ),
})
export type CommandHeaders = typeof CommandHeaders.Type

/** The version an If-Match header names, or undefined for `*` (any existing version). */
export const versionFromIfMatch = (ifMatch: string): number | undefined => {
  const trimmed = ifMatch.trim()
  return trimmed === "*" ? undefined : Number(trimmed.slice(1, -1))
}

/** An event as a response shows it: its type, its data's schema version, and its data. */
export const EventView = Schema.Struct({
  type: Schema.String,
  schemaVersion: Schema.Int,
  data: Schema.Record(Schema.String, Schema.Unknown),
})
export type EventView = typeof EventView.Type

/** What a command answers: the customer's new version (also the ETag), the global position, the events, the card. */
export const CommandResult = Schema.Struct({
  customerId: CustomerId,
  /** The stream version after the command; the ETag carries it too. */
  version: Schema.Int,
  /** The global position of the command's last event, for `minPosition` on a later query. */
  position: Schema.String.annotate({ description: "A global position (a decimal integer, as a string)." }),
  /** True when the Idempotency-Key had been used: nothing was appended this time. */
  replayed: Schema.Boolean,
  events: Schema.Array(EventView),
  /** The customer's card right after the command (for a repeat: right after its first run). */
  card: CustomerCardView,
}).annotate({ title: "CommandResult" })
export type CommandResult = typeof CommandResult.Type

/** A stored event, raw: what auditors read. */
export const RecordedEventView = Schema.Struct({
  eventId: Schema.String,
  streamId: Schema.String,
  version: Schema.Int,
  position: Schema.String,
  type: Schema.String,
  schemaVersion: Schema.Int,
  data: Schema.Record(Schema.String, Schema.Unknown),
  metadata: Schema.Record(Schema.String, Schema.Unknown),
}).annotate({ title: "RecordedEvent" })
export type RecordedEventView = typeof RecordedEventView.Type

/** A stored event as the API shows it (positions as decimal strings: they may exceed 2^53). */
export const recordedEventView = (event: RecordedEvent): RecordedEventView => ({
  eventId: event.eventId,
  streamId: event.streamId,
  version: event.version,
  position: String(event.position),
  type: event.type,
  schemaVersion: event.schemaVersion,
  data: event.data,
  metadata: event.metadata,
})
