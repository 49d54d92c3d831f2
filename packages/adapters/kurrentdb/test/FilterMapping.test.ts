import { eventTypeFilter, excludeSystemEvents, streamNameFilter } from "@kurrent/kurrentdb-client"
import { FilterMapping, StreamNames } from "@relata/adapter-kurrentdb/testing"
import { describe, expect, it } from "vitest"

const { escapeRegex, exactTypesRegex, isSystemEvent, planFilter } = FilterMapping
const plain = StreamNames.streamNames(undefined)
const tenant = StreamNames.streamNames("tenant-7")

describe("FilterMapping", () => {
  it("without a filter or namespace, lets the server drop system events", () => {
    const plan = planFilter(undefined, plain, 32)
    expect(plan.server).toEqual(excludeSystemEvents({ checkpointInterval: 32 }))
    expect(plan.matchesNothing).toBe(false)
    expect(plan.matches("customer-1", "LeadCaptured")).toBe(true)
    expect(plan.matches("$settings", "$settings")).toBe(false)
    expect(plan.matches("$ce-customer", "$>")).toBe(false)
  })

  it("sends a stream prefix as the server's stream-name prefix filter", () => {
    const plan = planFilter({ streamPrefix: "customer-" }, plain, 10)
    expect(plan.server).toEqual(streamNameFilter({ prefixes: ["customer-"], checkpointInterval: 10 }))
    expect(plan.matches("customer-1", "NoteAdded")).toBe(true)
    expect(plan.matches("order-1", "NoteAdded")).toBe(false)
    // Prefixes are exact and case-sensitive.
    expect(plan.matches("Customer-1", "NoteAdded")).toBe(false)
  })

  it("puts the namespace in front of every stream prefix", () => {
    expect(planFilter(undefined, tenant, 1).server).toEqual(streamNameFilter({ prefixes: ["tenant-7:"] }))
    const plan = planFilter({ streamPrefix: "customer-" }, tenant, 1)
    expect(plan.server).toEqual(streamNameFilter({ prefixes: ["tenant-7:customer-"] }))
    expect(plan.matches("tenant-7:customer-1", "NoteAdded")).toBe(true)
    expect(plan.matches("tenant-70:customer-1", "NoteAdded")).toBe(false)
    expect(plan.matches("customer-1", "NoteAdded")).toBe(false)
  })

  it("sends event types as an exact event-type regex and checks a stream prefix here", () => {
    const plan = planFilter(
      { eventTypes: ["TierChanged", "LeadCaptured"], streamPrefix: "customer-" },
      tenant,
      5,
    )
    expect(plan.server).toEqual(
      eventTypeFilter({ regex: "^(?:TierChanged|LeadCaptured)$", checkpointInterval: 5 }),
    )
    expect(plan.matches("tenant-7:customer-1", "TierChanged")).toBe(true)
    expect(plan.matches("tenant-7:order-1", "TierChanged")).toBe(false)
    expect(plan.matches("tenant-8:customer-1", "TierChanged")).toBe(false)
    // Exact names: a longer type with the same beginning is another type.
    expect(plan.matches("tenant-7:customer-1", "TierChangedV2")).toBe(false)
  })

  it("matches nothing for an empty list of event types", () => {
    expect(planFilter({ eventTypes: [] }, plain, 1).matchesNothing).toBe(true)
  })

  it("escapes regex characters in event types so the server's regex matches them exactly", () => {
    const types = ["a.b", "x+y(1)", "[z]", "^$|?*{}\\"]
    const regex = new RegExp(exactTypesRegex(types))
    for (const type of types) expect(regex.test(type)).toBe(true)
    for (const other of ["aXb", "x+y(1)!", "z", "a.bc", ""]) expect(regex.test(other)).toBe(false)
    expect(escapeRegex("a.b")).toBe("a\\.b")
  })

  it("knows system events by a `$` stream or type", () => {
    expect(isSystemEvent("$$customer-1", "$metadata")).toBe(true)
    expect(isSystemEvent("$stats-127.0.0.1:2113", "$statsCollected")).toBe(true)
    expect(isSystemEvent("customer-1", "$>")).toBe(true)
    expect(isSystemEvent("customer-1", "NoteAdded")).toBe(false)
  })
})
