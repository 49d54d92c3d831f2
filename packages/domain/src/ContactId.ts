import { Schema } from "effect"
import { identifier } from "./internal/Text.ts"

/** Identifies one contact person within a customer account. */
export const ContactId = identifier.pipe(Schema.brand("ContactId"))
export type ContactId = typeof ContactId.Type
