/**
 * Tamper evidence: every event carries `metadata.hash`, the SHA-256 of the previous event's hash and
 * the event's canonical bytes, so changing, removing, reordering or inserting a stored event breaks
 * the chain from that event on. An unkeyed chain cannot stop someone who rewrites a whole tail with
 * fresh hashes, nor show that the newest events were cut off: anchor the tip (version and hash)
 * outside the store when that matters.
 */
import { createHash } from "node:crypto"
import { canonicalJson } from "./CanonicalJson.ts"
import type { EventToAppend, GlobalPosition, JsonObject, RecordedEvent, StreamVersion } from "./EventStore.ts"

/** The metadata key that holds an event's chain hash. */
export const ChainHashKey = "hash"

/** The "previous hash" of a stream's first event: 64 zeros, the width of a SHA-256 hex digest. */
export const GenesisHash = "0".repeat(64)

/** The end of a stream's chain: what the next append links to. */
export interface ChainTip {
  readonly version: StreamVersion
  readonly hash: string
}

/** The tip of a stream that has no events yet. */
export const GenesisTip: ChainTip = { version: 0, hash: GenesisHash }

/** The fields the hash covers: the event where it sits in its stream. The global position is left out. */
export interface ChainedEvent extends EventToAppend {
  readonly streamId: string
  readonly version: StreamVersion
}

/**
 * The canonical text of an event: canonical JSON of {streamId, version, eventId, type, schemaVersion,
 * data, metadata without `hash`}. Its UTF-8 bytes are what the chain hashes. The global position is
 * not covered: the store assigns it at commit, after the writer has hashed.
 */
export const canonicalEvent = (event: ChainedEvent): string => {
  const { [ChainHashKey]: _hash, ...metadata } = event.metadata
  // The envelope's keys written by hand in sorted order: one pass over data and metadata, no copy of
  // the event. HashChain.test.ts checks it equals canonicalJson of the same object.
  return (
    `{"data":${canonicalJson(event.data)}` +
    `,"eventId":${JSON.stringify(event.eventId)}` +
    `,"metadata":${canonicalJson(metadata)}` +
    `,"schemaVersion":${canonicalJson(event.schemaVersion)}` +
    `,"streamId":${JSON.stringify(event.streamId)}` +
    `,"type":${JSON.stringify(event.type)}` +
    `,"version":${canonicalJson(event.version)}}`
  )
}

/**
 * SHA-256, as lowercase hex, of the previous hash (its 64 ASCII hex characters) followed by the event's
 * canonical bytes. A string `eventBytes` is hashed as its UTF-8 encoding.
 */
export const chainHash = (previousHash: string, eventBytes: string | Uint8Array): string => {
  const hash = createHash("sha256").update(previousHash, "utf8")
  if (typeof eventBytes === "string") hash.update(eventBytes, "utf8")
  else hash.update(eventBytes)
  return hash.digest("hex")
}

/** The hash an event carries in `metadata.hash`, if any. */
export const hashOf = (event: { readonly metadata: JsonObject }): string | undefined => {
  const hash = event.metadata[ChainHashKey]
  return typeof hash === "string" ? hash : undefined
}

/**
 * The tip to chain the next append to, from the stream's last event: GenesisTip for an empty stream,
 * undefined when the last event carries no hash (the stream is not chained).
 */
export const chainTipOf = (lastEvent: RecordedEvent | undefined): ChainTip | undefined => {
  if (lastEvent === undefined) return GenesisTip
  const hash = hashOf(lastEvent)
  return hash === undefined ? undefined : { version: lastEvent.version, hash }
}

/**
 * The events a writer is about to append to `streamId`, each with `metadata.hash` set, linked to
 * `tip` (the stream's last version and hash; GenesisTip for a new stream). Append them expecting
 * version `tip.version`, so that a concurrent writer cannot fork the chain.
 */
export const withChainHashes = (
  streamId: string,
  tip: ChainTip,
  events: ReadonlyArray<EventToAppend>,
): ReadonlyArray<EventToAppend> => {
  let previous = tip.hash
  return events.map((event, index) => {
    const version = tip.version + index + 1
    previous = chainHash(previous, canonicalEvent({ ...event, streamId, version }))
    return { ...event, metadata: { ...event.metadata, [ChainHashKey]: previous } }
  })
}

/** The first event whose stored hash is not the one its predecessors and content give. */
export interface BrokenLink {
  readonly streamId: string
  readonly version: StreamVersion
  readonly position: GlobalPosition
  /** The hash recomputed from the chain up to this event. */
  readonly expected: string
  /** The hash the event carries; null when it carries none. */
  readonly actual: string | null
}

/** The result of verifying a stream's chain. */
export type ChainVerification =
  | { readonly ok: true; readonly tip: ChainTip }
  | { readonly ok: false; readonly brokenLink: BrokenLink }

/**
 * Recomputes the chain over one stream's events, read forwards from version 1, and reports the first
 * broken link. A removed, reordered or inserted event breaks the link of the first event after the change.
 */
export const verifyStreamChain = (events: ReadonlyArray<RecordedEvent>): ChainVerification => {
  let tip = GenesisTip
  for (const event of events) {
    const expected = chainHash(tip.hash, canonicalEvent(event))
    const actual = hashOf(event) ?? null
    if (actual !== expected) {
      return {
        ok: false,
        brokenLink: {
          streamId: event.streamId,
          version: event.version,
          position: event.position,
          expected,
          actual,
        },
      }
    }
    tip = { version: event.version, hash: expected }
  }
  return { ok: true, tip }
}
