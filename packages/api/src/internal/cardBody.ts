/**
 * The body of a card response as JSON text, made once per stored card and kept as long as the card
 * object lives. The SQLite and in-memory read-model stores hand every reader the same frozen card
 * while it is unchanged, so a card read again is sent without being copied, masked or serialised
 * again; with a store that parses each read afresh (PostgreSQL), each body is made once and dropped
 * with its card.
 *
 * The text is exactly `JSON.stringify` of the view a reader gets (`viewOf`, masked for viewers):
 * the card's fields in their order, then `overdue`, the one field that depends on the instant.
 */
import type { CustomerCard } from "@relata/projections"
import { maskCard } from "../Masking.ts"

/** By card: [plain, plain overdue, masked, masked overdue], each made at its first use. */
const bodies = new WeakMap<CustomerCard, Array<string | undefined>>()

const bodyOf = (card: CustomerCard, overdue: boolean, masked: boolean): string => {
  const fields = JSON.stringify(masked ? maskCard(card) : card)
  // A card has fields, so its text ends in `}` after at least one of them.
  return `${fields.slice(0, -1)},"overdue":${overdue}}`
}

/** The JSON text of the card's view at an instant it is (or is not) overdue, masked for viewers. */
export const cardBody = (card: CustomerCard, overdue: boolean, masked: boolean): string => {
  let kept = bodies.get(card)
  if (kept === undefined) {
    kept = [undefined, undefined, undefined, undefined]
    bodies.set(card, kept)
  }
  const slot = (masked ? 2 : 0) + (overdue ? 1 : 0)
  let body = kept[slot]
  if (body === undefined) {
    body = bodyOf(card, overdue, masked)
    kept[slot] = body
  }
  return body
}
