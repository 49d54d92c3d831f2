import { randomUUID } from "node:crypto"
import { AppendManyPlan } from "@relata/adapter-kurrentdb/testing"
import { type EventToAppend, ExpectedVersion } from "@relata/domain"
import { describe, expect, it } from "vitest"

const { planAppendMany } = AppendManyPlan

const event = (): EventToAppend => ({
  eventId: randomUUID(),
  type: "OwnerChanged",
  schemaVersion: 1,
  data: {},
  metadata: {},
})

const handover = [
  { streamId: "customer-1", events: [event()], expected: ExpectedVersion.exact(4) },
  { streamId: "customer-2", events: [event()], expected: ExpectedVersion.exact(9) },
]

describe("AppendManyPlan", () => {
  it("writes two streams atomically when the server may support multiStreamAppend", () => {
    expect(planAppendMany(handover, "untested", "preferred")).toEqual({ _tag: "Atomic" })
    expect(planAppendMany(handover, "supported", "required")).toEqual({ _tag: "Atomic" })
  })

  it("falls back to one append per stream where the server lacks it, unless atomicity is required", () => {
    expect(planAppendMany(handover, "unsupported", "preferred")).toMatchObject({
      _tag: "Sequential",
      why: expect.stringContaining("25.1"),
    })
    expect(planAppendMany(handover, "unsupported", "required")).toMatchObject({ _tag: "Refused" })
    expect(planAppendMany(handover, "disabled", "preferred")).toMatchObject({
      _tag: "Sequential",
      why: expect.stringContaining("switched off"),
    })
    expect(planAppendMany(handover, "disabled", "required")).toMatchObject({ _tag: "Refused" })
  })

  it("needs no multi-stream append for one stream or none", () => {
    expect(planAppendMany([], "unsupported", "required")).toEqual({ _tag: "Nothing" })
    expect(planAppendMany([handover[0] as never], "unsupported", "required")).toEqual({
      _tag: "Single",
      request: handover[0],
    })
  })

  it("cannot send a stream without events through multiStreamAppend", () => {
    const checkOnly = [
      handover[0] as never,
      { streamId: "customer-2", events: [], expected: ExpectedVersion.exact(9) },
    ]
    expect(planAppendMany(checkOnly, "supported", "preferred")).toMatchObject({ _tag: "Sequential" })
    expect(planAppendMany(checkOnly, "supported", "required")).toMatchObject({ _tag: "Refused" })
  })

  it("refuses two requests for one stream, which the server refuses too", () => {
    expect(
      planAppendMany([handover[0] as never, handover[0] as never], "supported", "preferred"),
    ).toMatchObject({
      _tag: "Refused",
      why: expect.stringContaining("appears twice"),
    })
  })
})
