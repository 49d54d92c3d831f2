import {
  type CustomerEvent,
  CustomerEventSchemas,
  customerEventTypes,
  decodeCustomerEvent,
  encodeCustomerEvent,
  followUpRecordedV1ToV2,
  InvalidEventData,
  makeCustomerEventDecoder,
  makeUpcasterRegistry,
  UnknownEventType,
  UnsupportedSchemaVersion,
} from "@relata/domain"
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { customerEventArbitrary } from "./CustomerArbitraries.ts"
import { customerId, leadRegistered, t0 } from "./CustomerTestData.ts"

describe("CustomerEventCodec", () => {
  it("round-trips every event through its stored JSON shape", () => {
    fc.assert(
      fc.property(customerEventArbitrary, (event) => {
        const stored = encodeCustomerEvent(event)
        expect(stored.type).toBe(event._tag)
        expect(stored.schemaVersion).toBe(CustomerEventSchemas[event._tag].schemaVersion)
        expect(stored.data).not.toHaveProperty("_tag")
        const fromJson = JSON.parse(JSON.stringify(stored))
        expect(decodeCustomerEvent(fromJson)).toEqual(Result.succeed(event))
      }),
      { numRuns: 1_000 },
    )
  })

  it("generates every event type", () => {
    const seen = new Set(fc.sample(customerEventArbitrary, { numRuns: 1_000, seed: 7 }).map((e) => e._tag))
    expect([...seen].sort()).toEqual([...customerEventTypes].sort())
  })

  it("leaves the stored data it decodes untouched", () => {
    const stored = encodeCustomerEvent(leadRegistered())
    const copy = structuredClone(stored)
    Result.getOrThrow(decodeCustomerEvent(stored))
    expect(stored).toEqual(copy)
  })

  describe("upcasting", () => {
    const v1 = {
      type: "FollowUpRecorded",
      schemaVersion: 1,
      data: { customerId, occurredAt: t0, at: t0, channel: "phone", note: "Talked about the renewal" },
    }

    it("reads a FollowUpRecorded v1 (a note, no outcome) as v2 (summary and outcome)", () => {
      expect(decodeCustomerEvent(v1)).toEqual(
        Result.succeed({
          _tag: "FollowUpRecorded",
          customerId,
          occurredAt: t0,
          at: t0,
          channel: "phone",
          summary: "Talked about the renewal",
          outcome: "not recorded",
        } satisfies CustomerEvent),
      )
    })

    it("upcasts with the registry it is given, and fails where a step is missing", () => {
      const withoutUpcasters = makeCustomerEventDecoder(makeUpcasterRegistry([]))
      expect(withoutUpcasters(v1)).toEqual(
        Result.fail(
          new UnsupportedSchemaVersion({ type: "FollowUpRecorded", schemaVersion: 1, currentVersion: 2 }),
        ),
      )
    })

    it("rejects two upcasters for the same step", () => {
      expect(() => makeUpcasterRegistry([followUpRecordedV1ToV2, followUpRecordedV1ToV2])).toThrow(
        "Two upcasters for FollowUpRecorded version 1",
      )
    })

    it("fails when the upcast data is still invalid", () => {
      const { note: _, ...withoutNote } = v1.data
      const result = decodeCustomerEvent({ ...v1, data: withoutNote })
      expect(Result.isFailure(result) && result.failure).toBeInstanceOf(InvalidEventData)
    })
  })

  describe("failures are values", () => {
    it("an unknown type", () => {
      expect(decodeCustomerEvent({ type: "InvoiceSent", schemaVersion: 1, data: {} })).toEqual(
        Result.fail(new UnknownEventType({ type: "InvoiceSent" })),
      )
    })

    it("a version newer than this code knows", () => {
      const stored = { ...encodeCustomerEvent(leadRegistered()), schemaVersion: 2 }
      expect(decodeCustomerEvent(stored)).toEqual(
        Result.fail(
          new UnsupportedSchemaVersion({ type: "LeadRegistered", schemaVersion: 2, currentVersion: 1 }),
        ),
      )
    })

    it("data that breaks the schema, with the issue", () => {
      const stored = encodeCustomerEvent(leadRegistered())
      const result = decodeCustomerEvent({ ...stored, data: { ...stored.data, tier: "E" } })
      expect(Result.isFailure(result) && result.failure).toMatchObject({
        _tag: "InvalidEventData",
        type: "LeadRegistered",
        schemaVersion: 1,
        issue: expect.stringContaining("tier"),
      })
    })
  })

  it("refuses to encode an event that breaks its schema (a bug in whoever built it)", () => {
    const broken = { ...leadRegistered(), tier: "E" } as unknown as CustomerEvent
    expect(() => encodeCustomerEvent(broken)).toThrow()
  })
})
