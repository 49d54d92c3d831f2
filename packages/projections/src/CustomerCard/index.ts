/** The customer card read model: the card, its projection, its queries and the card as of any moment. */
export * from "./CustomerCard.ts"
export * from "./CustomerCardAsOf.ts"
export * from "./CustomerCardProjection.ts"
export * from "./CustomerCardQueries.ts"
export * from "./LatestCustomerCards.ts"
