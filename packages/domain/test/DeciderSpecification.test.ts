import type { Decider } from "@relata/domain"
import { deciderSpecification } from "@relata/domain/testing"
import { Result } from "effect"
import { describe, expect, it } from "vitest"

// A decider of its own, to show the kit is generic: a counter that refuses to go above 2.
type Event = { readonly _tag: "Incremented" }
class TooHigh extends Error {
  readonly _tag = "TooHigh"
}
const counter: Decider<"increment", Event, number, TooHigh> = {
  initialState: 0,
  evolve: (state) => state + 1,
  decide: (_, state) => (state >= 2 ? Result.fail(new TooHigh()) : Result.succeed([{ _tag: "Incremented" }])),
}
const given = deciderSpecification(counter)
const incremented: Event = { _tag: "Incremented" }

describe("deciderSpecification", () => {
  it("passes when the decider emits exactly the expected events, and returns the state after them", () => {
    expect(given([incremented]).when("increment").then([incremented])).toBe(2)
  })

  it("fails when the events differ or the command is rejected", () => {
    expect(() => given().when("increment").then([])).toThrow()
    expect(() => given([incremented, incremented]).when("increment").then([incremented])).toThrow(/rejected/)
  })

  it("matches a rejection by tag or by error", () => {
    const when = given([incremented, incremented]).when("increment")
    expect(when.thenFails("TooHigh")).toBeInstanceOf(TooHigh)
    expect(when.thenFails(new TooHigh())).toBeInstanceOf(TooHigh)
    expect(() => when.thenFails("SomethingElse")).toThrow()
    expect(() => given().when("increment").thenFails("TooHigh")).toThrow(/emitted/)
  })

  it("thenNothing expects a no-op", () => {
    expect(() => given().when("increment").thenNothing()).toThrow()
  })
})
