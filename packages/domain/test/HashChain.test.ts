import {
  type ChainTip,
  canonicalEvent,
  canonicalJson,
  chainHash,
  chainTipOf,
  type EventToAppend,
  GenesisHash,
  GenesisTip,
  type Json,
  type JsonObject,
  type RecordedEvent,
  verifyStreamChain,
  withChainHashes,
} from "@relata/domain"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const streamId = "customer-42"

const toAppend = (index: number, data: JsonObject = { index }): EventToAppend => ({
  eventId: `7f1c2d3e-0000-4000-8000-${String(index).padStart(12, "0")}`,
  type: index % 2 === 0 ? "NoteAdded" : "TierChanged",
  schemaVersion: 1,
  data,
  metadata: { actor: "user-1", correlationId: `c-${index}` },
})

/** What a store gives back for chained events: versions from 1, positions interleaved with other streams. */
const record = (events: ReadonlyArray<EventToAppend>, tip: ChainTip = GenesisTip): Array<RecordedEvent> =>
  withChainHashes(streamId, tip, events).map((event, index) => ({
    ...event,
    streamId,
    version: tip.version + index + 1,
    position: BigInt((tip.version + index + 1) * 10),
  }))

const chain = (count: number): Array<RecordedEvent> =>
  record(Array.from({ length: count }, (_, index) => toAppend(index)))

const brokenAt = (event: RecordedEvent | undefined) => ({
  ok: false,
  brokenLink: { streamId: event?.streamId, version: event?.version, position: event?.position },
})

describe("HashChain", () => {
  describe("encoding and hash", () => {
    // Golden values computed outside this code base (Python's json and hashlib): stored hashes must
    // stay verifiable forever, so any change to the encoding or the hash has to fail here first.
    const golden: RecordedEvent = {
      streamId,
      version: 1,
      position: 99n,
      eventId: "7f1c2d3e-0000-4000-8000-000000000001",
      type: "LeadCaptured",
      schemaVersion: 1,
      data: { tags: ["a", "b"], score: 0.5, name: "Zoë 客户" },
      metadata: { hash: "ignored", actor: "user-1" },
    }
    const goldenText =
      '{"data":{"name":"Zoë 客户","score":0.5,"tags":["a","b"]},"eventId":"7f1c2d3e-0000-4000-8000-000000000001",' +
      '"metadata":{"actor":"user-1"},"schemaVersion":1,"streamId":"customer-42","type":"LeadCaptured","version":1}'

    it("starts every chain from 64 zeros", () => {
      expect(GenesisHash).toBe("0".repeat(64))
      expect(GenesisTip).toEqual({ version: 0, hash: GenesisHash })
    })

    it("encodes an event canonically, without its position or its own hash", () => {
      expect(canonicalEvent(golden)).toBe(goldenText)
    })

    it("encodes exactly as canonical JSON of the event's fields would", () => {
      const { position: _, metadata, ...fields } = golden
      const { hash: __, ...rest } = metadata
      expect(canonicalEvent(golden)).toBe(canonicalJson({ ...fields, metadata: rest } as Json))
    })

    it("hashes the previous hash followed by the event's UTF-8 bytes with SHA-256", () => {
      expect(chainHash(GenesisHash, "abc")).toBe(
        "b64374d04ef9c4f39fddb1e0d6be38a0130f6c057fc0f4ee467ea0e18bc758f1",
      )
      expect(chainHash(GenesisHash, new TextEncoder().encode("abc"))).toBe(chainHash(GenesisHash, "abc"))
      const first = chainHash(GenesisHash, canonicalEvent(golden))
      expect(first).toBe("ab8bf5b7e11c918b7ddade9fcfce5327f8b2b85c7d6161320c2aa00a38696e37")
      const second: RecordedEvent = {
        streamId,
        version: 2,
        position: 120n,
        eventId: "7f1c2d3e-0000-4000-8000-000000000002",
        type: "TierChanged",
        schemaVersion: 2,
        data: { tier: "gold" },
        metadata: { actor: "user-1" },
      }
      expect(chainHash(first, canonicalEvent(second))).toBe(
        "6dcf891a38939a19321f41703ba0e035c2af90517d8dded4004860ed793d015f",
      )
    })
  })

  describe("withChainHashes", () => {
    it("sets each event's hash, linked to the tip, and leaves the writer's events untouched", () => {
      const events = [toAppend(0), toAppend(1)]
      const chained = withChainHashes(streamId, GenesisTip, events)
      const first = chainHash(
        GenesisHash,
        canonicalEvent({ ...events[0], streamId, version: 1 } as RecordedEvent),
      )
      expect(chained[0]?.metadata).toEqual({ ...events[0]?.metadata, hash: first })
      expect(chained[1]?.metadata.hash).toBe(
        chainHash(first, canonicalEvent({ ...events[1], streamId, version: 2 } as RecordedEvent)),
      )
      expect(events[0]?.metadata).not.toHaveProperty("hash")
    })

    it("continues a chain from its tip as if the events had been chained in one go", () => {
      const inOneGo = chain(5)
      const firstPart = record([toAppend(0), toAppend(1)])
      const tip = chainTipOf(firstPart.at(-1))
      expect(tip).toEqual({ version: 2, hash: inOneGo[1]?.metadata.hash })
      const secondPart = record([toAppend(2), toAppend(3), toAppend(4)], tip)
      expect([...firstPart, ...secondPart]).toEqual(inOneGo)
    })

    it("gives the genesis tip for a new stream and no tip for an unchained one", () => {
      expect(chainTipOf(undefined)).toEqual(GenesisTip)
      const [unchained] = chain(1).map((event) => ({ ...event, metadata: {} }))
      expect(chainTipOf(unchained)).toBeUndefined()
    })
  })

  describe("verifyStreamChain", () => {
    it("accepts an intact chain and reports its tip", () => {
      const events = chain(5)
      expect(verifyStreamChain(events)).toEqual({
        ok: true,
        tip: { version: 5, hash: events[4]?.metadata.hash },
      })
      expect(verifyStreamChain([])).toEqual({ ok: true, tip: GenesisTip })
    })

    it("accepts a chain whose JSON came back with other key orders, as jsonb returns it", () => {
      const events = record([toAppend(0, { z: 1, a: [2], m: { y: null, b: "客户" } }), toAppend(1)])
      const reverseKeys = (object: JsonObject): JsonObject =>
        Object.fromEntries(Object.entries(object).reverse())
      const reordered = events.map((event) => ({
        ...event,
        data: reverseKeys(
          event.data.m === undefined
            ? event.data
            : { ...event.data, m: reverseKeys(event.data.m as JsonObject) },
        ),
        metadata: reverseKeys(event.metadata),
      }))
      expect(JSON.stringify(reordered[0]?.data)).not.toBe(JSON.stringify(events[0]?.data))
      expect(verifyStreamChain(reordered).ok).toBe(true)
    })

    const tampered: ReadonlyArray<[string, (event: RecordedEvent) => RecordedEvent]> = [
      ["one byte of data", (event) => ({ ...event, data: { ...event.data, index: 7 } })],
      ["a data key", (event) => ({ ...event, data: { indeX: event.data.index ?? null } })],
      ["one byte of metadata", (event) => ({ ...event, metadata: { ...event.metadata, actor: "user-2" } })],
      ["added metadata", (event) => ({ ...event, metadata: { ...event.metadata, role: "admin" } })],
      ["the type", (event) => ({ ...event, type: `${event.type}s` })],
      ["the schema version", (event) => ({ ...event, schemaVersion: 2 })],
      ["the event id", (event) => ({ ...event, eventId: event.eventId.replace(/.$/, "9") })],
      ["the stream id", (event) => ({ ...event, streamId: "customer-43" })],
      ["the version", (event) => ({ ...event, version: event.version + 10 })],
      ["the hash itself", (event) => ({ ...event, metadata: { ...event.metadata, hash: GenesisHash } })],
    ]
    for (const [what, change] of tampered) {
      it(`detects a change to ${what} at that event`, () => {
        const events = chain(5)
        const changed = events.map((event, index) => (index === 2 ? change(event) : event))
        const result = verifyStreamChain(changed)
        expect(result).toMatchObject(brokenAt(changed[2]))
        if (!result.ok) {
          expect(result.brokenLink.expected).not.toBe(result.brokenLink.actual)
          expect(result.brokenLink.actual).toBe(changed[2]?.metadata.hash)
        }
      })
    }

    it("does not mistake a change to the global position for tampering: the store assigns it", () => {
      const events = chain(3).map((event) => ({ ...event, position: event.position + 1_000n }))
      expect(verifyStreamChain(events).ok).toBe(true)
    })

    it("detects a deleted event at the event after it", () => {
      const events = chain(5)
      expect(verifyStreamChain([...events.slice(0, 2), ...events.slice(3)])).toMatchObject(
        brokenAt(events[3]),
      )
      expect(verifyStreamChain(events.slice(1))).toMatchObject(brokenAt(events[1]))
    })

    it("detects reordered events at the first one out of place", () => {
      const [e1, e2, e3, e4] = chain(4)
      expect(verifyStreamChain([e1, e3, e2, e4] as Array<RecordedEvent>)).toMatchObject(brokenAt(e3))
    })

    it("detects an inserted event, even one carrying a correctly computed hash, at the event after it", () => {
      const events = chain(4)
      const forged = record([toAppend(99, { refund: 1_000_000 })], chainTipOf(events[1]))[0] as RecordedEvent
      expect(verifyStreamChain([...events.slice(0, 2), forged, ...events.slice(2)])).toMatchObject(
        brokenAt(events[2]),
      )
      const unhashed = { ...forged, metadata: { actor: "user-1" } }
      expect(verifyStreamChain([...events.slice(0, 2), unhashed, ...events.slice(2)])).toMatchObject({
        ok: false,
        brokenLink: { version: 3, actual: null },
      })
    })

    it("cannot see the newest events cut off by itself: compare its tip with one anchored elsewhere", () => {
      const events = chain(5)
      const anchored = verifyStreamChain(events)
      const truncated = verifyStreamChain(events.slice(0, 3))
      expect(truncated.ok).toBe(true)
      expect(truncated).not.toEqual(anchored)
    })

    it("breaks at exactly the changed event, whatever the payloads", () => {
      const payloads = fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { minLength: 1, maxLength: 8 })
      fc.assert(
        fc.property(payloads, fc.nat(), (datas, pick) => {
          const events = record(datas.map((data, index) => toAppend(index, data as JsonObject)))
          expect(verifyStreamChain(events).ok).toBe(true)
          const at = pick % events.length
          const changed = events.map((event, index) =>
            index === at ? { ...event, data: { ...event.data, "\u0000tampered": true } } : event,
          )
          expect(verifyStreamChain(changed)).toMatchObject(brokenAt(changed[at]))
        }),
      )
    })
  })
})
