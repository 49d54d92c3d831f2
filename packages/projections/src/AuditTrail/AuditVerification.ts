/**
 * Tamper evidence, checked against the event store itself, never the read model (ADR 0008): the
 * hash chain of one customer's stream or of every stream, and a digest over all stream heads that
 * an auditor records outside the system and later recomputes and compares.
 *
 * - `verifyCustomer` reads one stream and recomputes its chain with the domain's
 *   `verifyStreamChain`: ok with the tip, or the first broken link (stream, version, position,
 *   expected and stored hash).
 * - `verifyStore` reads every event once, in global order, keeping only each stream's running
 *   tip: memory grows with the number of streams, not of events. It reports the first broken link
 *   of every broken stream, plus counts. A stream that looks broken is read again on its own and
 *   verified in version order, so both functions name the same link.
 * - `headsDigest` is SHA-256 over every stream's head (id, version, recomputed chain hash) as of a
 *   position, in a canonical order. The chain alone cannot show a tail cut off or rewritten with
 *   fresh hashes; a digest recorded elsewhere can. The algorithm is in `AuditTrail/README.md`, so
 *   that an auditor can reimplement it without this code.
 */
import { createHash } from "node:crypto"
import {
  type BrokenLink,
  type ChainTip,
  type CustomerId,
  canonicalEvent,
  canonicalJson,
  chainHash,
  customerStreamId,
  type EventStoreService,
  GenesisHash,
  type GlobalPosition,
  hashOf,
  type RecordedEvent,
  StartOfStore,
  type StoreUnavailable,
  type StreamVersion,
  verifyStreamChain,
} from "@relata/domain"
import { Effect, Stream } from "effect"

// ---------------------------------------------------------------------------------------------
// One customer
// ---------------------------------------------------------------------------------------------

/** The outcome of verifying one customer's stream. */
export type CustomerVerification = {
  readonly customerId: CustomerId
  readonly streamId: string
  /** Events in the stream. */
  readonly events: number
} & ({ readonly ok: true; readonly tip: ChainTip } | { readonly ok: false; readonly brokenLink: BrokenLink })

/**
 * Recomputes the hash chain of the customer's stream from the genesis hash and reports ok (with the
 * tip) or the first broken link. A changed event breaks its own link; a deleted, reordered or
 * inserted one the link of the first event after the change. A customer without events is ok at
 * the genesis tip. Cutting off the newest events leaves a valid chain: compare a recorded digest.
 */
export const verifyCustomer = (
  store: EventStoreService,
  customerId: CustomerId,
): Effect.Effect<CustomerVerification, StoreUnavailable> =>
  Effect.map(store.readStream(customerStreamId(customerId)), (events) => ({
    customerId,
    streamId: customerStreamId(customerId),
    events: events.length,
    ...verifyStreamChain(events),
  }))

// ---------------------------------------------------------------------------------------------
// Every stream, in one pass
// ---------------------------------------------------------------------------------------------

/** What the pass keeps per stream: its running chain and the first link that did not hold. */
interface StreamScan {
  /** The version of the stream's last event seen. */
  version: StreamVersion
  /** The chain hash recomputed over the stream's events seen, in global order. */
  hash: string
  events: number
  /** The first event whose stored hash differs from the recomputed one, or that is out of version order. */
  suspect: BrokenLink | undefined
}

interface ChainScan {
  readonly atPosition: GlobalPosition
  readonly streams: Map<string, StreamScan>
  readonly events: number
}

/** The position a scan stops at: the one asked for, never past the head (a digest of the future would change). */
const boundOf = (store: EventStoreService, atPosition: GlobalPosition | undefined) =>
  Effect.map(store.headPosition, (head) =>
    atPosition === undefined || atPosition > head
      ? head
      : atPosition < StartOfStore
        ? StartOfStore
        : atPosition,
  )

const scanEvent = (streams: Map<string, StreamScan>, event: RecordedEvent): void => {
  let scan = streams.get(event.streamId)
  if (scan === undefined) {
    scan = { version: 0, hash: GenesisHash, events: 0, suspect: undefined }
    streams.set(event.streamId, scan)
  }
  const expected = chainHash(scan.hash, canonicalEvent(event))
  if (scan.suspect === undefined) {
    const actual = hashOf(event) ?? null
    // Global order is version order within a stream unless rows were moved: then verify it by version.
    if (actual !== expected || event.version !== scan.version + 1) {
      scan.suspect = {
        streamId: event.streamId,
        version: event.version,
        position: event.position,
        expected,
        actual,
      }
    }
  }
  scan.hash = expected
  scan.version = event.version
  scan.events++
}

/** Reads every event up to `atPosition` once, folding each stream's chain. */
const scanChains = (
  store: EventStoreService,
  atPosition: GlobalPosition,
): Effect.Effect<ChainScan, StoreUnavailable> =>
  Effect.suspend(() => {
    const streams = new Map<string, StreamScan>()
    let events = 0
    return store.readAll().pipe(
      Stream.takeWhile((event) => event.position <= atPosition),
      Stream.runForEachArray((chunk) =>
        Effect.sync(() => {
          for (const event of chunk) scanEvent(streams, event)
          events += chunk.length
        }),
      ),
      Effect.map((): ChainScan => ({ atPosition, streams, events })),
    )
  })

/** The outcome of verifying every stream of the store. */
export interface StoreVerification {
  /** True when every stream's chain holds. */
  readonly ok: boolean
  /** The position verified up to: the head when the verification started. */
  readonly atPosition: GlobalPosition
  readonly streams: number
  readonly events: number
  /** The first broken link of each broken stream, in global order; empty when ok. */
  readonly broken: ReadonlyArray<BrokenLink>
}

/**
 * Verifies the hash chain of every stream, reading all events once (up to the head at the start)
 * and keeping one running tip per stream. A stream found broken is read again on its own and its
 * first broken link is taken in version order, as `verifyCustomer` does; if that order holds and
 * only the global order was disturbed (rows moved), the first event out of order is reported.
 */
export const verifyStore = (store: EventStoreService): Effect.Effect<StoreVerification, StoreUnavailable> =>
  Effect.gen(function* () {
    const atPosition = yield* boundOf(store, undefined)
    const scan = yield* scanChains(store, atPosition)
    const broken: Array<BrokenLink> = []
    for (const [streamId, stream] of scan.streams) {
      if (stream.suspect === undefined) continue
      const events = (yield* store.readStream(streamId)).filter((event) => event.position <= atPosition)
      const byVersion = verifyStreamChain(events)
      broken.push(byVersion.ok ? stream.suspect : byVersion.brokenLink)
    }
    broken.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0))
    return {
      ok: broken.length === 0,
      atPosition,
      streams: scan.streams.size,
      events: scan.events,
      broken,
    }
  })

// ---------------------------------------------------------------------------------------------
// The digest over stream heads
// ---------------------------------------------------------------------------------------------

/** The name and version of the digest algorithm; the first line of the digested text. */
export const headsDigestAlgorithm = "relata-heads-v1"

/** One stream's head as of a position. */
export interface StreamHead {
  readonly streamId: string
  /** The version of the stream's last event at or before the position. */
  readonly version: StreamVersion
  /**
   * The chain hash recomputed from the genesis hash over the stream's events at or before the
   * position, in global order: the stored `metadata.hash` of the head when the chain holds.
   */
  readonly hash: string
}

/** Every stream's head as of a position. */
export interface StreamHeads {
  /** The position the heads are taken at (never past the store's head). */
  readonly atPosition: GlobalPosition
  readonly events: number
  /** In the digest's order: by stream id, compared as UTF-8 bytes. */
  readonly heads: ReadonlyArray<StreamHead>
  /** Streams whose stored chain does not hold up to the position: the digest then records the damage. */
  readonly brokenStreams: number
}

/** A digest over all stream heads as of a position, to be recorded outside the system. */
export interface HeadsDigest {
  readonly algorithm: typeof headsDigestAlgorithm
  /** The position the digest covers; record it with the digest, and recompute at the same position. */
  readonly atPosition: GlobalPosition
  readonly streams: number
  readonly events: number
  /** SHA-256 of the canonical heads text, lowercase hex. */
  readonly digest: string
  /** Streams whose stored chain does not hold up to the position. */
  readonly brokenStreams: number
}

const utf8 = (text: string): Buffer => Buffer.from(text, "utf8")

/** The line of one head in the digested text: canonical JSON of [streamId, version, hash], then "\n". */
const headLine = (head: StreamHead): string => `${canonicalJson([head.streamId, head.version, head.hash])}\n`

/**
 * The digest of a list of heads (any order: they are sorted here): SHA-256 over the UTF-8 text
 * `relata-heads-v1\n` followed by one `headLine` per stream, by stream id compared as UTF-8 bytes.
 * What `headsDigest` computes, for an auditor holding a list of heads.
 */
export const digestHeads = (heads: Iterable<StreamHead>): string => {
  const sorted = [...heads]
    .map((head) => ({ key: utf8(head.streamId), head }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
  const hash = createHash("sha256").update(`${headsDigestAlgorithm}\n`, "utf8")
  for (const { head } of sorted) hash.update(headLine(head), "utf8")
  return hash.digest("hex")
}

/**
 * Every stream's head as of `atPosition` (default, and at most, the store's head), reading all
 * events up to it once, with the chain recomputed from genesis: a changed, deleted, moved or added
 * event anywhere before the position changes its stream's head hash.
 */
export const streamHeads = (
  store: EventStoreService,
  options: { readonly atPosition?: GlobalPosition } = {},
): Effect.Effect<StreamHeads, StoreUnavailable> =>
  Effect.gen(function* () {
    const atPosition = yield* boundOf(store, options.atPosition)
    const scan = yield* scanChains(store, atPosition)
    const heads: Array<StreamHead & { readonly key: Buffer }> = []
    let brokenStreams = 0
    for (const [streamId, stream] of scan.streams) {
      heads.push({ key: utf8(streamId), streamId, version: stream.version, hash: stream.hash })
      if (stream.suspect !== undefined) brokenStreams++
    }
    heads.sort((a, b) => Buffer.compare(a.key, b.key))
    return {
      atPosition,
      events: scan.events,
      heads: heads.map(({ streamId, version, hash }) => ({ streamId, version, hash })),
      brokenStreams,
    }
  })

/**
 * The digest over all stream heads as of `atPosition` (default, and at most, the store's head).
 * Record the digest and its `atPosition` outside the system; recomputing at the same position later
 * gives the same digest unless an event at or before it was changed, removed, moved or added.
 */
export const headsDigest = (
  store: EventStoreService,
  options: { readonly atPosition?: GlobalPosition } = {},
): Effect.Effect<HeadsDigest, StoreUnavailable> =>
  Effect.map(streamHeads(store, options), (result) => ({
    algorithm: headsDigestAlgorithm,
    atPosition: result.atPosition,
    streams: result.heads.length,
    events: result.events,
    digest: digestHeads(result.heads),
    brokenStreams: result.brokenStreams,
  }))
