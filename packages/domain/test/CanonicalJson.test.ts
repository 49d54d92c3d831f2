import { canonicalJson, type Json } from "@relata/domain"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

/** The same value with every object's keys in reverse order, as a store like jsonb may return it. */
const reorderKeys = (value: Json): Json =>
  Array.isArray(value)
    ? value.map(reorderKeys)
    : typeof value === "object" && value !== null
      ? Object.fromEntries(
          Object.entries(value)
            .reverse()
            .map(([key, item]) => [key, reorderKeys(item)]),
        )
      : value

const json = fc.jsonValue() as fc.Arbitrary<Json>

describe("canonicalJson", () => {
  it("writes RFC 8785's example exactly", () => {
    // RFC 8785 section 3.2.2: numbers, escapes and literals.
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as Json
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    )
  })

  it("sorts keys by UTF-16 code units, as RFC 8785 asks", () => {
    // RFC 8785 section 3.2.3: the emoji's surrogates sort before U+FB33 though its code point is higher.
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
  })

  it("sorts nested objects, keeps array order and writes no whitespace", () => {
    expect(canonicalJson({ b: [3, 1, { z: true, a: null }], a: { d: "x", c: -0 } })).toBe(
      '{"a":{"c":0,"d":"x"},"b":[3,1,{"a":null,"z":true}]}',
    )
  })

  it("leaves out undefined properties and writes undefined array items as null, as JSON.stringify does", () => {
    const value = { a: undefined, b: [undefined, 1] } as unknown as Json
    expect(canonicalJson(value)).toBe('{"b":[null,1]}')
  })

  it("refuses numbers JSON cannot carry", () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError)
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(TypeError)
  })

  it("gives the same text whatever the key order", () => {
    fc.assert(fc.property(json, (value) => canonicalJson(reorderKeys(value)) === canonicalJson(value)))
  })

  it("is JSON that parses back to the same value and is its own canonical form", () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value)
        const parsed = JSON.parse(text) as Json
        expect(parsed).toEqual(JSON.parse(JSON.stringify(value)))
        expect(canonicalJson(parsed)).toBe(text)
      }),
    )
  })
})
