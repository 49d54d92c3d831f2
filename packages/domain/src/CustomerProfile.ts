import { Schema } from "effect"
import { CompanySize } from "./CompanySize.ts"
import { CreditLevel } from "./CreditLevel.ts"
import { Email, EmailFromString } from "./Email.ts"
import { Industry } from "./Industry.ts"
import { boundedText } from "./internal/Text.ts"
import { Phone, PhoneFromString } from "./Phone.ts"
import { Region } from "./Region.ts"

const Name = boundedText(200)
const Address = boundedText(500)
const Website = boundedText(500)

// One list of fields, two spellings of e-mail and phone: normal form in events, as-typed in commands.
const profileFields = <E extends Schema.Top, P extends Schema.Top>(email: E, phone: P) => ({
  name: Name,
  company: Schema.optionalKey(Name),
  email: Schema.optionalKey(email),
  phone: Schema.optionalKey(phone),
  fax: Schema.optionalKey(phone),
  address: Schema.optionalKey(Address),
  website: Schema.optionalKey(Website),
  industry: Schema.optionalKey(Industry),
  size: Schema.optionalKey(CompanySize),
  region: Schema.optionalKey(Region),
  creditLevel: Schema.optionalKey(CreditLevel),
})

// In a change set a field that may be absent from the profile can also be cleared, with null.
const changeFields = <E extends Schema.Top, P extends Schema.Top>(email: E, phone: P) => ({
  name: Schema.optionalKey(Name),
  company: Schema.optionalKey(Schema.NullOr(Name)),
  email: Schema.optionalKey(Schema.NullOr(email)),
  phone: Schema.optionalKey(Schema.NullOr(phone)),
  fax: Schema.optionalKey(Schema.NullOr(phone)),
  address: Schema.optionalKey(Schema.NullOr(Address)),
  website: Schema.optionalKey(Schema.NullOr(Website)),
  industry: Schema.optionalKey(Schema.NullOr(Industry)),
  size: Schema.optionalKey(Schema.NullOr(CompanySize)),
  region: Schema.optionalKey(Schema.NullOr(Region)),
  creditLevel: Schema.optionalKey(Schema.NullOr(CreditLevel)),
})

/** The customer card's basic information; only the name is required. */
export const CustomerProfile = Schema.Struct(profileFields(Email, Phone))
export type CustomerProfile = typeof CustomerProfile.Type

/** A profile as a command carries it: e-mail and phone numbers are normalised while decoding. */
export const CustomerProfileInput = Schema.Struct(profileFields(EmailFromString, PhoneFromString))

/** Changes to a profile: each given field is set, `null` clears an optional field, absent fields stay. */
export const ProfileChanges = Schema.Struct(changeFields(Email, Phone))
export type ProfileChanges = typeof ProfileChanges.Type

/** Profile changes as a command carries them: e-mail and phone numbers are normalised while decoding. */
export const ProfileChangesInput = Schema.Struct(changeFields(EmailFromString, PhoneFromString))

/** The names of the profile's fields, in the order the card shows them. */
export const profileFieldNames = Object.keys(CustomerProfile.fields) as ReadonlyArray<keyof CustomerProfile>
