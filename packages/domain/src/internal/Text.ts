/** Building blocks for the domain's text schemas; not part of the package API. */
import { Schema } from "effect"

// One filter per schema rather than isTrimmed + isNonEmpty + isMaxLength: stored events are full
// of such strings, and each separate check costs a pass through the schema machinery.

/** A trimmed, non-empty string of at most `maxLength` characters: names, reasons, notes. */
export const boundedText = (maxLength: number) =>
  Schema.String.check(
    Schema.makeFilter((s: string) => s.length > 0 && s.length <= maxLength && s.trim().length === s.length, {
      expected: `a trimmed, non-empty text of at most ${maxLength} characters`,
    }),
  )

const isIdentifierChar = (c: number, first: boolean): boolean =>
  (c >= 48 && c <= 57) || // 0-9
  (c >= 65 && c <= 90) || // A-Z
  (c >= 97 && c <= 122) || // a-z
  (!first && (c === 95 || c === 46 || c === 58 || c === 64 || c === 45)) // _ . : @ -

const isIdentifier = (s: string): boolean => {
  if (s.length === 0 || s.length > 128) return false
  for (let i = 0; i < s.length; i++) if (!isIdentifierChar(s.charCodeAt(i), i === 0)) return false
  return true
}

/**
 * Identifiers: 1 to 128 characters of letters, digits and `_ . : @ -`, starting with a letter or digit.
 * Wide enough for UUIDs, ULIDs and external keys; narrow enough to sit in a stream name (`customer-<id>`).
 */
export const identifier = Schema.String.check(
  Schema.makeFilter(isIdentifier, {
    expected: "an identifier (letters, digits and _ . : @ -, at most 128 characters)",
  }),
)
