import { Schema } from "effect"
import { ContactId } from "./ContactId.ts"
import { Email, EmailFromString } from "./Email.ts"
import { boundedText } from "./internal/Text.ts"
import { Phone, PhoneFromString } from "./Phone.ts"

const Name = boundedText(200)
const Title = boundedText(200)

const contactFields = <E extends Schema.Top, P extends Schema.Top>(email: E, phone: P) => ({
  contactId: ContactId,
  name: Name,
  title: Schema.optionalKey(Title),
  phone: Schema.optionalKey(phone),
  email: Schema.optionalKey(email),
})

const changeFields = <E extends Schema.Top, P extends Schema.Top>(email: E, phone: P) => ({
  name: Schema.optionalKey(Name),
  title: Schema.optionalKey(Schema.NullOr(Title)),
  phone: Schema.optionalKey(Schema.NullOr(phone)),
  email: Schema.optionalKey(Schema.NullOr(email)),
})

/** A contact person at the customer (an account has several): name, title, phone, e-mail. */
export const Contact = Schema.Struct(contactFields(Email, Phone))
export type Contact = typeof Contact.Type

/** A contact as a command carries it: e-mail and phone are normalised while decoding. */
export const ContactInput = Schema.Struct(contactFields(EmailFromString, PhoneFromString))

/** Changes to a contact: each given field is set, `null` clears an optional field, absent fields stay. */
export const ContactChanges = Schema.Struct(changeFields(Email, Phone))
export type ContactChanges = typeof ContactChanges.Type

/** Contact changes as a command carries them: e-mail and phone are normalised while decoding. */
export const ContactChangesInput = Schema.Struct(changeFields(EmailFromString, PhoneFromString))
