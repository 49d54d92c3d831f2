import { Schema, SchemaTransformation } from "effect"

// Deliberately loose (one @, a dot in the domain, no spaces): stricter checks reject real addresses.
const normalisedEmail = /^[^\s@A-Z]+@[^\s@A-Z]+\.[^\s@A-Z]+$/

/** An e-mail address in normal form: trimmed and lower-cased, as stored in events and compared for duplicates. */
export const Email = Schema.String.check(
  Schema.isMaxLength(254),
  Schema.isPattern(normalisedEmail, { expected: "a lower-case e-mail address such as ana@example.com" }),
).pipe(Schema.brand("Email"))
export type Email = typeof Email.Type

/** Decodes an e-mail address as people type it (`" Ana@Example.COM "`) to its normal form. */
export const EmailFromString = Schema.String.pipe(
  Schema.decodeTo(
    Email,
    SchemaTransformation.transform({
      decode: (s: string) => s.trim().toLowerCase(),
      encode: (email: string) => email,
    }),
  ),
)
