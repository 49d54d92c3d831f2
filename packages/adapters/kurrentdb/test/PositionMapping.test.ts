import { type Position, START } from "@kurrent/kurrentdb-client"
import { PositionMapping } from "@relata/adapter-kurrentdb/testing"
import { StartOfStore } from "@relata/domain"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const { fromLogPosition, positionOf, readPositionAfter, toLogPosition } = PositionMapping

describe("PositionMapping", () => {
  it("takes the commit position as the global position, as a bigint past 2^53", () => {
    const beyondNumbers = 2n ** 63n + 12_345n
    const position: Position = { commit: beyondNumbers, prepare: beyondNumbers }
    expect(fromLogPosition(position)).toBe(beyondNumbers)
    expect(typeof fromLogPosition(position)).toBe("bigint")
    // A JavaScript number would have lost the last digits.
    expect(BigInt(Number(beyondNumbers))).not.toBe(beyondNumbers)
  })

  it("round-trips a global position through a log position", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), (position) => {
        expect(toLogPosition(position)).toEqual({ commit: position, prepare: position })
        expect(fromLogPosition(toLogPosition(position))).toBe(position)
      }),
    )
  })

  it("starts reads after StartOfStore from the client's START", () => {
    expect(readPositionAfter(StartOfStore)).toBe(START)
    expect(readPositionAfter(-1n)).toBe(START)
    expect(readPositionAfter(4_096n)).toEqual({ commit: 4_096n, prepare: 4_096n })
  })

  it("reads an event's position from the event, else from the resolved event's commit position", () => {
    expect(positionOf({ event: { position: { commit: 10n, prepare: 10n } }, commitPosition: 99n })).toBe(10n)
    expect(positionOf({ event: {}, commitPosition: 99n })).toBe(99n)
    expect(positionOf({ event: {} })).toBeUndefined()
  })
})
