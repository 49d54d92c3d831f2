/**
 * What viewers see of personal data: enough to recognise a record, not enough to contact anyone.
 * E-mail addresses keep their first character and domain, phone and fax numbers their last four
 * digits, postal addresses nothing; the same for every contact person.
 */
import type { CustomerCard } from "@relata/projections"

/** `ana@example.com` -> `a***@example.com`. */
export const maskEmail = (email: string): string => {
  const at = email.lastIndexOf("@")
  return at <= 0 ? "***" : `${email.slice(0, 1)}***${email.slice(at)}`
}

/** `+861012345678` -> `***5678`. */
export const maskPhone = (phone: string): string => `***${phone.slice(-4)}`

const masked = "***"

const maskOptional = <T extends object, K extends keyof T>(
  record: T,
  key: K,
  mask: (value: string) => string,
): Partial<Pick<T, K>> => {
  const value = record[key]
  return typeof value === "string" ? ({ [key]: mask(value) } as Partial<Pick<T, K>>) : {}
}

/** A card (or a view of one) with its personal data masked, for viewers. */
export const maskCard = <Card extends CustomerCard>(card: Card): Card => ({
  ...card,
  profile: {
    ...card.profile,
    ...maskOptional(card.profile, "email", maskEmail),
    ...maskOptional(card.profile, "phone", maskPhone),
    ...maskOptional(card.profile, "fax", maskPhone),
    ...maskOptional(card.profile, "address", () => masked),
  },
  contacts: card.contacts.map((contact) => ({
    ...contact,
    ...maskOptional(contact, "email", maskEmail),
    ...maskOptional(contact, "phone", maskPhone),
  })),
})
