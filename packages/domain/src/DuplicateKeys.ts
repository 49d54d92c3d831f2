/**
 * What makes two customers possible duplicates (the same customer under another rep): the same
 * normalised name, e-mail address or phone number. A read model indexes these keys; the command
 * handler looks a new lead's keys up and passes a match to RegisterLead as `duplicateOf`.
 */
import type { CustomerProfile } from "./CustomerProfile.ts"
import type { Email } from "./Email.ts"
import type { Phone } from "./Phone.ts"

/** A customer's duplicate-detection keys; e-mail and phone are already in normal form in the profile. */
export interface DuplicateKeys {
  readonly name: string
  readonly email?: Email
  readonly phone?: Phone
}

/** Case, width, spacing and punctuation do not tell customers apart: "ACME Trading, Ltd." = "acme trading ltd". */
export const normaliseName = (name: string): string =>
  name
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\s\p{P}\p{S}]+/gu, "")

/** The keys of a profile. */
export const duplicateKeysOf = (profile: CustomerProfile): DuplicateKeys => ({
  name: normaliseName(profile.name),
  ...(profile.email === undefined ? {} : { email: profile.email }),
  ...(profile.phone === undefined ? {} : { phone: profile.phone }),
})
