import { Schema } from "effect"
import { identifier } from "./internal/Text.ts"

/** Identifies a customer; its events live in the stream `customer-<id>`. */
export const CustomerId = identifier.pipe(Schema.brand("CustomerId"))
export type CustomerId = typeof CustomerId.Type

/** The event stream that holds one customer's history. */
export const customerStreamId = (customerId: CustomerId): string => `customer-${customerId}`
