import { Schema, SchemaTransformation } from "effect"

/** A phone number in normal form: digits with an optional leading `+`, no separators. */
export const Phone = Schema.String.check(
  Schema.isPattern(/^\+?\d{3,20}$/, {
    expected: "a phone number of 3 to 20 digits with an optional leading +",
  }),
).pipe(Schema.brand("Phone"))
export type Phone = typeof Phone.Type

// Separators people write between digit groups: spaces, dashes, dots, slashes and parentheses.
const separators = /[\s\-./()]/g

/** Decodes a phone number as people write it (`"+86 (10) 1234-5678"`) to its normal form (`"+861012345678"`). */
export const PhoneFromString = Schema.String.pipe(
  Schema.decodeTo(
    Phone,
    SchemaTransformation.transform({
      decode: (s: string) => s.replace(separators, ""),
      encode: (phone: string) => phone,
    }),
  ),
)
