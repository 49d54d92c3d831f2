import { randomUUID } from "node:crypto"
import { jsonEvent, type ResolvedEvent } from "@kurrent/kurrentdb-client"
import { EventMapping, StreamNames } from "@relata/adapter-kurrentdb/testing"
import type { EventToAppend, Json, JsonObject } from "@relata/domain"
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const {
  decodeMetadata,
  encodeMetadata,
  encodeMetadataProperties,
  eventProblem,
  packedMetadataKey,
  schemaVersionKey,
  toEventData,
  toPropertiesEventData,
  toRecordedEvent,
} = EventMapping

// The layout of the command handler's deterministic ids: a UUID of version 8 ("custom").
const deterministicId = "3b241101-e2bb-8255-8caf-4136c566a962"

const event = (overrides: Partial<EventToAppend> = {}): EventToAppend => ({
  eventId: deterministicId,
  type: "TierChanged",
  schemaVersion: 3,
  data: { tier: "gold" },
  metadata: {
    actor: "user-7",
    correlationId: randomUUID(),
    nested: { tags: ["vip"], flag: false, none: null },
  },
  ...overrides,
})

/** What the client hands back for a stored event: JSON text parsed again, as on the wire. */
const asRead = (
  streamName: string,
  written: { id: string; type: string; data: unknown; metadata: unknown },
  revision: bigint,
  position: bigint,
): ResolvedEvent => ({
  event: {
    streamId: streamName,
    id: written.id,
    revision,
    type: written.type,
    isJson: true,
    data: JSON.parse(JSON.stringify(written.data)),
    metadata: written.metadata === undefined ? undefined : JSON.parse(JSON.stringify(written.metadata)),
    created: new Date(0),
    position: { commit: position, prepare: position },
  } as NonNullable<ResolvedEvent["event"]>,
})

const plain = StreamNames.streamNames(undefined)

/** JSON objects as JSON.parse gives them (no -0, no undefined), without the reserved keys. */
const jsonObject = fc
  .dictionary(
    fc.string(),
    fc.json().map((text) => JSON.parse(text) as Json),
  )
  .filter(
    (value) => !(schemaVersionKey in value) && !(packedMetadataKey in value),
  ) as fc.Arbitrary<JsonObject>

describe("EventMapping", () => {
  describe("writing", () => {
    it("makes the client's JSON event: our id, type and data, our metadata plus the schema version", () => {
      const written = event()
      expect(toEventData(written)).toEqual(
        jsonEvent({
          id: deterministicId,
          type: "TierChanged",
          data: { tier: "gold" },
          metadata: { ...written.metadata, [schemaVersionKey]: 3 },
        }),
      )
      expect(toEventData(written)).toMatchObject({ id: deterministicId, contentType: "application/json" })
      expect(encodeMetadata(written)).toEqual({ ...written.metadata, "relata.schemaVersion": 3 })
    })

    it("writes metadata for multiStreamAppend as string properties, the only form it takes", () => {
      const written = event()
      const properties = encodeMetadataProperties(written)
      expect(properties).toEqual({
        "relata.schemaVersion": "3",
        "relata.metadata": JSON.stringify(written.metadata),
      })
      for (const value of Object.values(properties)) expect(typeof value).toBe("string")
      expect(toPropertiesEventData(written)).toMatchObject({
        id: deterministicId,
        type: "TierChanged",
        metadata: properties,
      })
    })

    it("accepts the command handler's deterministic ids and random UUIDs", () => {
      expect(eventProblem(event())).toBeUndefined()
      expect(eventProblem(event({ eventId: randomUUID() }))).toBeUndefined()
    })

    it("refuses what the server would reject or could not give back as written", () => {
      const problems: ReadonlyArray<[Partial<EventToAppend>, string]> = [
        [{ eventId: "e1" }, "not a lower-case, non-nil UUID"],
        [{ eventId: deterministicId.toUpperCase() }, "not a lower-case, non-nil UUID"],
        [{ eventId: "00000000-0000-0000-0000-000000000000" }, "not a lower-case, non-nil UUID"],
        [{ type: "" }, "empty type"],
        [{ type: "$metadata" }, "reserves for system events"],
        [{ schemaVersion: 0 }, "whole number >= 1"],
        [{ schemaVersion: 1.5 }, "whole number >= 1"],
        [{ metadata: { "relata.schemaVersion": 2 } }, 'uses the key "relata.schemaVersion"'],
        [{ metadata: { "relata.metadata": "{}" } }, 'uses the key "relata.metadata"'],
      ]
      for (const [overrides, problem] of problems) expect(eventProblem(event(overrides))).toContain(problem)
    })
  })

  describe("reading", () => {
    it("reads an event as written: id, type, data, metadata, schema version; version = revision + 1", () => {
      const written = event()
      const read = toRecordedEvent(asRead("customer-1", toEventData(written) as never, 4n, 2n ** 62n), plain)
      expect(read).toEqual(
        Result.succeed({ ...written, streamId: "customer-1", version: 5, position: 2n ** 62n }),
      )
    })

    it("reads an event written by multiStreamAppend, whose metadata the server returns as properties", () => {
      const written = event()
      const stored = {
        ...(toPropertiesEventData(written) as { id: string; type: string; data: unknown; metadata: object }),
      }
      // The server adds the record's schema to its properties.
      stored.metadata = { ...stored.metadata, "$schema.format": "Json", "$schema.name": written.type }
      const read = toRecordedEvent(asRead("customer-1", stored, 0n, 77n), plain)
      expect(read).toEqual(Result.succeed({ ...written, streamId: "customer-1", version: 1, position: 77n }))
    })

    it("round-trips any JSON metadata through both forms", () => {
      fc.assert(
        fc.property(jsonObject, fc.integer({ min: 1, max: 1_000 }), (metadata, schemaVersion) => {
          const written = event({ metadata, schemaVersion })
          const flat = JSON.parse(JSON.stringify(encodeMetadata(written)))
          expect(decodeMetadata(flat)).toEqual(Result.succeed({ metadata, schemaVersion }))
          const properties = JSON.parse(JSON.stringify(encodeMetadataProperties(written)))
          expect(decodeMetadata(properties)).toEqual(Result.succeed({ metadata, schemaVersion }))
        }),
      )
    })

    it("reads events of other writers: no metadata or no schema version is version 1", () => {
      expect(decodeMetadata(undefined)).toEqual(Result.succeed({ metadata: {}, schemaVersion: 1 }))
      expect(decodeMetadata({ source: "legacy" })).toEqual(
        Result.succeed({ metadata: { source: "legacy" }, schemaVersion: 1 }),
      )
    })

    it("refuses metadata it cannot read", () => {
      expect(Result.isFailure(decodeMetadata(new Uint8Array([1, 2])))).toBe(true)
      expect(Result.isFailure(decodeMetadata(["a"]))).toBe(true)
      expect(Result.isFailure(decodeMetadata({ "relata.schemaVersion": "two" }))).toBe(true)
      expect(Result.isFailure(decodeMetadata({ "relata.schemaVersion": 0 }))).toBe(true)
      expect(Result.isFailure(decodeMetadata({ "relata.metadata": "{not json" }))).toBe(true)
      expect(Result.isFailure(decodeMetadata({ "relata.metadata": "[1]" }))).toBe(true)
    })

    it("strips the namespace from stream names and refuses streams outside it", () => {
      const names = StreamNames.streamNames("tenant-7")
      const written = toEventData(event()) as never
      expect(toRecordedEvent(asRead("tenant-7:customer-1", written, 0n, 5n), names)).toMatchObject(
        Result.succeed({ streamId: "customer-1" }),
      )
      const outside = toRecordedEvent(asRead("tenant-8:customer-1", written, 0n, 5n), names)
      expect(Result.isFailure(outside) && outside.failure).toContain('outside namespace "tenant-7"')
    })

    it("refuses events that are not Relata's: binary, non-object data, no position", () => {
      const resolved = asRead("customer-1", toEventData(event()) as never, 0n, 5n)
      const base = resolved.event as NonNullable<ResolvedEvent["event"]>
      const variants: ReadonlyArray<[ResolvedEvent, string]> = [
        [{ event: { ...base, isJson: false } as never }, "not a JSON event"],
        [{ event: { ...base, data: [1, 2] } as never }, "data is not a JSON object"],
        [{ event: { ...base, position: undefined } as never }, "22.6 or newer"],
        [{ link: base as never }, "link whose event is gone"],
      ]
      for (const [variant, why] of variants) {
        const read = toRecordedEvent(variant, plain)
        expect(Result.isFailure(read) && read.failure).toContain(why)
      }
    })
  })
})
