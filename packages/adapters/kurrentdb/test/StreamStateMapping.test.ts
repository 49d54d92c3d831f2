import { ANY, NO_STREAM, STREAM_EXISTS } from "@kurrent/kurrentdb-client"
import { StreamStateMapping } from "@relata/adapter-kurrentdb/testing"
import { ExpectedVersion } from "@relata/domain"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const {
  currentVersion,
  fromStreamState,
  isMet,
  isValidExpectedVersion,
  revisionToVersion,
  toStreamState,
  versionToRevision,
} = StreamStateMapping

describe("StreamStateMapping", () => {
  it("maps each expectation to the client's streamState", () => {
    expect(toStreamState(ExpectedVersion.noStream)).toBe(NO_STREAM)
    expect(toStreamState(ExpectedVersion.streamExists)).toBe(STREAM_EXISTS)
    expect(toStreamState(ExpectedVersion.any)).toBe(ANY)
    // Version n is revision n-1; version 0 (no events) has no revision: the server says NO_STREAM.
    expect(toStreamState(ExpectedVersion.exact(0))).toBe(NO_STREAM)
    expect(toStreamState(ExpectedVersion.exact(1))).toBe(0n)
    expect(toStreamState(ExpectedVersion.exact(7))).toBe(6n)
    expect(typeof toStreamState(ExpectedVersion.exact(Number.MAX_SAFE_INTEGER))).toBe("bigint")
  })

  it("maps the client's stream states back to expectations", () => {
    expect(fromStreamState(NO_STREAM)).toEqual(ExpectedVersion.noStream)
    expect(fromStreamState(STREAM_EXISTS)).toEqual(ExpectedVersion.streamExists)
    expect(fromStreamState(ANY)).toEqual(ExpectedVersion.any)
    expect(fromStreamState(0n)).toEqual(ExpectedVersion.exact(1))
    expect(fromStreamState(6n)).toEqual(ExpectedVersion.exact(7))
  })

  it("maps version n to revision n-1 and back", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (version) => {
        expect(versionToRevision(version)).toBe(BigInt(version) - 1n)
        expect(revisionToVersion(versionToRevision(version))).toBe(version)
        expect(fromStreamState(toStreamState(ExpectedVersion.exact(version)))).toEqual(
          ExpectedVersion.exact(version),
        )
      }),
    )
  })

  it("refuses versions without a revision and revisions a number cannot hold", () => {
    expect(() => versionToRevision(0)).toThrow(RangeError)
    expect(() => versionToRevision(-1)).toThrow(RangeError)
    expect(() => versionToRevision(1.5)).toThrow(RangeError)
    expect(() => revisionToVersion(-1n)).toThrow(RangeError)
    expect(() => revisionToVersion(BigInt(Number.MAX_SAFE_INTEGER))).toThrow(RangeError)
    expect(revisionToVersion(BigInt(Number.MAX_SAFE_INTEGER) - 1n)).toBe(Number.MAX_SAFE_INTEGER)
  })

  it("reads the current version a conflict reports", () => {
    expect(currentVersion(NO_STREAM)).toBe(0)
    expect(currentVersion(0n)).toBe(1)
    expect(currentVersion(4n)).toBe(5)
    // The markers the server reports for deleted (-5) and tombstoned (-6) streams: nothing to read.
    expect(currentVersion(-5n)).toBe(0)
    expect(currentVersion(-6n)).toBe(0)
  })

  it("decides an expectation against a version, as the server does", () => {
    const cases: ReadonlyArray<[ExpectedVersion, number, boolean]> = [
      [ExpectedVersion.noStream, 0, true],
      [ExpectedVersion.noStream, 2, false],
      [ExpectedVersion.streamExists, 0, false],
      [ExpectedVersion.streamExists, 2, true],
      [ExpectedVersion.any, 0, true],
      [ExpectedVersion.any, 2, true],
      [ExpectedVersion.exact(0), 0, true],
      [ExpectedVersion.exact(2), 2, true],
      [ExpectedVersion.exact(1), 2, false],
      [ExpectedVersion.exact(3), 2, false],
    ]
    for (const [expected, actual, met] of cases)
      expect([expected, actual, isMet(expected, actual)]).toEqual([expected, actual, met])
  })

  it("accepts only whole, non-negative exact versions", () => {
    expect(isValidExpectedVersion(ExpectedVersion.exact(0))).toBe(true)
    expect(isValidExpectedVersion(ExpectedVersion.any)).toBe(true)
    expect(isValidExpectedVersion(ExpectedVersion.exact(-1))).toBe(false)
    expect(isValidExpectedVersion(ExpectedVersion.exact(2.5))).toBe(false)
    expect(isValidExpectedVersion(ExpectedVersion.exact(Number.NaN))).toBe(false)
  })
})
