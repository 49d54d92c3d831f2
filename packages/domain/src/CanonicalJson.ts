/**
 * Canonical JSON (RFC 8785, JCS) for the values we store: the same value always gives the same text,
 * whatever the key order it was built or stored with (PostgreSQL's jsonb reorders keys, for one).
 */
import type { Json } from "./EventStore.ts"

/**
 * The canonical text of a JSON value: object keys sorted by UTF-16 code units, recursively, no
 * whitespace, strings and numbers written as ECMAScript's JSON.stringify writes them (which is what
 * RFC 8785 prescribes). Properties whose value is `undefined` are left out, as JSON.stringify does,
 * so a value hashes the same before and after a store's JSON round trip. Throws a TypeError on a
 * value JSON cannot carry faithfully (NaN, Infinity, bigint, function, symbol): a programming error.
 */
export const canonicalJson = (value: Json): string => write(value)

const write = (value: unknown): string => {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value)
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot encode the number ${value}`)
      // Number-to-string of ECMAScript is RFC 8785's number format; it also writes -0 as 0.
      return JSON.stringify(value)
    case "boolean":
      return value ? "true" : "false"
    case "object":
      if (value === null) return "null"
      return Array.isArray(value)
        ? writeArray(value)
        : writeObject(value as { readonly [key: string]: unknown })
    default:
      throw new TypeError(`canonical JSON cannot encode a ${typeof value}`)
  }
}

const writeArray = (array: ReadonlyArray<unknown>): string => {
  let out = "["
  for (let i = 0; i < array.length; i++) {
    if (i > 0) out += ","
    const item = array[i]
    // JSON.stringify writes holes and undefined items as null; so must we, to match the stored text.
    out += item === undefined ? "null" : write(item)
  }
  return `${out}]`
}

const writeObject = (object: { readonly [key: string]: unknown }): string => {
  // Array.prototype.sort compares strings by UTF-16 code units, the order RFC 8785 asks for.
  const keys = Object.keys(object).sort()
  let out = "{"
  let first = true
  for (const key of keys) {
    const item = object[key]
    if (item === undefined) continue
    out += `${first ? "" : ","}${JSON.stringify(key)}:${write(item)}`
    first = false
  }
  return `${out}}`
}
