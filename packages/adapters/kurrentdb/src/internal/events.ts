/**
 * Our events <-> KurrentDB events.
 *
 * Writing: the event id becomes the server's event id (so the server deduplicates a retried append),
 * the type its event type, the data its JSON data, and the metadata its JSON metadata with the schema
 * version added under the reserved key `relata.schemaVersion`.
 *
 * `multiStreamAppend` (KurrentDB 25.1+) accepts metadata only as string-to-string properties, and
 * the server adds `$schema.format` and `$schema.name` to them. Events written that way carry the
 * metadata packed as JSON text under `relata.metadata` and the schema version as text; reading
 * recognises both forms.
 */
import { type EventData, jsonEvent } from "@kurrent/kurrentdb-client"
import type { EventToAppend, Json, JsonObject, RecordedEvent } from "@relata/domain"
import { Predicate, Result } from "effect"
import { positionOf } from "./position.ts"
import type { StreamNames } from "./streamNames.ts"
import { revisionToVersion } from "./streamState.ts"

/** Metadata key holding the event's schema version. */
export const schemaVersionKey = "relata.schemaVersion"
/** Metadata key holding the whole metadata as JSON text, in events written by `multiStreamAppend`. */
export const packedMetadataKey = "relata.metadata"

const reservedKeys: ReadonlyArray<string> = [schemaVersionKey, packedMetadataKey]

// Lower case because the server returns ids in lower case: an id must read back as written.
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const nilUuid = "00000000-0000-0000-0000-000000000000"

/** Why an event cannot be written to KurrentDB, if it cannot. */
export const eventProblem = (event: EventToAppend): string | undefined => {
  if (!uuidPattern.test(event.eventId) || event.eventId === nilUuid) {
    return `event id "${event.eventId}" is not a lower-case, non-nil UUID; KurrentDB stores event ids as UUIDs`
  }
  if (event.type.length === 0) return `event ${event.eventId} has an empty type`
  if (event.type.startsWith("$")) {
    return `event type "${event.type}" starts with "$", which KurrentDB reserves for system events`
  }
  if (!Number.isSafeInteger(event.schemaVersion) || event.schemaVersion < 1) {
    return `event ${event.eventId} has schema version ${event.schemaVersion}; it must be a whole number >= 1`
  }
  if (!isJsonObject(event.data)) return `the data of event ${event.eventId} is not a JSON object`
  for (const key of reservedKeys) {
    if (Object.hasOwn(event.metadata, key)) {
      return `the metadata of event ${event.eventId} uses the key "${key}", which the store reserves`
    }
  }
  return undefined
}

/** The metadata as the server stores it: ours plus the schema version. */
export const encodeMetadata = (event: EventToAppend): JsonObject => ({
  ...event.metadata,
  [schemaVersionKey]: event.schemaVersion,
})

/** The event for `appendToStream`. */
export const toEventData = (event: EventToAppend): EventData =>
  jsonEvent({ id: event.eventId, type: event.type, data: event.data, metadata: encodeMetadata(event) })

/** The metadata as string properties, the only form `multiStreamAppend` accepts. */
export const encodeMetadataProperties = (event: EventToAppend): Record<string, string> => ({
  [schemaVersionKey]: String(event.schemaVersion),
  [packedMetadataKey]: JSON.stringify(event.metadata),
})

/** The event for `multiStreamAppend`. */
export const toPropertiesEventData = (event: EventToAppend): EventData =>
  jsonEvent({
    id: event.eventId,
    type: event.type,
    data: event.data,
    metadata: encodeMetadataProperties(event),
  })

export interface DecodedMetadata {
  readonly metadata: JsonObject
  readonly schemaVersion: number
}

const isJsonObject = (value: unknown): value is JsonObject =>
  Predicate.isObject(value) && !Array.isArray(value) && !(value instanceof Uint8Array)

const parseSchemaVersion = (value: unknown): number | undefined => {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 1 ? value : undefined
  if (typeof value === "string" && /^[1-9][0-9]{0,14}$/.test(value)) return Number(value)
  return undefined
}

/**
 * Our metadata and schema version from the event's metadata as the client parsed it. An event
 * without metadata, or without the schema version key (written by another tool), is version 1.
 */
export const decodeMetadata = (raw: unknown): Result.Result<DecodedMetadata, string> => {
  if (raw === undefined) return Result.succeed({ metadata: {}, schemaVersion: 1 })
  if (!isJsonObject(raw)) return Result.fail("its metadata is not a JSON object")
  const version = raw[schemaVersionKey]
  const schemaVersion = version === undefined ? 1 : parseSchemaVersion(version)
  if (schemaVersion === undefined) return Result.fail(`its metadata holds an invalid ${schemaVersionKey}`)
  const packed = raw[packedMetadataKey]
  if (typeof packed === "string") {
    let metadata: Json
    try {
      metadata = JSON.parse(packed) as Json
    } catch {
      return Result.fail(`its ${packedMetadataKey} is not JSON`)
    }
    return isJsonObject(metadata)
      ? Result.succeed({ metadata, schemaVersion })
      : Result.fail(`its ${packedMetadataKey} is not a JSON object`)
  }
  const { [schemaVersionKey]: _, ...metadata } = raw
  return Result.succeed({ metadata, schemaVersion })
}

/** What `toRecordedEvent` needs of the client's ResolvedEvent (from a stream read, `$all` or a subscription). */
export interface ResolvedEventLike {
  readonly event?:
    | {
        readonly streamId: string
        readonly id: string
        readonly revision: bigint
        readonly type: string
        readonly isJson: boolean
        readonly data: unknown
        readonly metadata?: unknown
        readonly position?: { readonly commit: bigint; readonly prepare: bigint } | undefined
      }
    | undefined
  readonly commitPosition?: bigint | undefined
}

/** Our recorded event from the server's, or why it cannot be one. */
export const toRecordedEvent = (
  resolved: ResolvedEventLike,
  names: StreamNames,
): Result.Result<RecordedEvent, string> => {
  const event = resolved.event
  if (event === undefined) return Result.fail("the server sent a link whose event is gone")
  const fail = (why: string) => Result.fail(`event ${event.id} in stream ${event.streamId}: ${why}`)
  const streamId = names.fromServer(event.streamId)
  if (streamId === undefined) return fail(`the stream is outside namespace "${names.namespace}"`)
  if (!event.isJson) return fail("it is not a JSON event")
  if (!isJsonObject(event.data)) return fail("its data is not a JSON object")
  const position = positionOf(resolved)
  if (position === undefined) {
    return fail("the server sent no position for it (KurrentDB/EventStoreDB 22.6 or newer is required)")
  }
  if (event.revision < 0n || event.revision >= BigInt(Number.MAX_SAFE_INTEGER)) {
    return fail(`its revision ${event.revision} is out of range`)
  }
  const decoded = decodeMetadata(event.metadata)
  if (Result.isFailure(decoded)) return fail(decoded.failure)
  return Result.succeed({
    eventId: event.id,
    type: event.type,
    schemaVersion: decoded.success.schemaVersion,
    data: event.data,
    metadata: decoded.success.metadata,
    streamId,
    version: revisionToVersion(event.revision),
    position,
  })
}
