/**
 * The projection that keeps customer cards: one document per customer in `customer_cards`, folded
 * with `nextCard` (the decider's evolve), and the duplicate index in `customer_duplicate_keys`: one
 * entry per normalised name, e-mail address and phone number of each customer (the domain's
 * DuplicateKeys), so registration can look for candidates with one indexed query.
 *
 * Changing the cadence or the decider changes the cards: give such a projection a new version, and
 * the runner rebuilds it.
 */
import {
  type CustomerEvent,
  type CustomerProfile,
  customerStreamPrefix,
  decodeCustomerEvent,
  duplicateKeysOf,
} from "@relata/domain"
import { defineProjection, type Projection } from "../Projection.ts"
import { defineCollection, Field } from "../ReadModelStore.ts"
import {
  type CustomerCard,
  type CustomerCardPolicy,
  defaultCustomerCardPolicy,
  nextCard,
} from "./CustomerCard.ts"

/** The projection's name; its checkpoint and generations go by it. */
export const customerCardProjectionName = "customer-cards"

/** The cards' collection. */
export const customerCardsCollection = "customer_cards"

/** The duplicate index's collection. */
export const customerDuplicateKeysCollection = "customer_duplicate_keys"

/**
 * The indexed `followUpDue` of a card that has no follow-up due: after every real instant, so
 * "not overdue at now" is the one range `followUpDue >= now`, and sorting by due puts these last.
 */
export const noFollowUpDue = "9999-12-31T23:59:59.999Z"

/** Names sort without regard to case or width. */
export const nameSortKey = (name: string): string => name.normalize("NFKC").toLowerCase()

/** The cards, with an index for every list filter and sort order the queries offer. */
export const customerCards = defineCollection<CustomerCard>({
  name: customerCardsCollection,
  fields: {
    stage: Field.text((card) => card.stage),
    tier: Field.text((card) => card.tier),
    owner: Field.text((card) => card.owner),
    department: Field.text((card) => card.department),
    region: Field.text((card) => card.profile.region),
    industry: Field.text((card) => card.profile.industry),
    creditLevel: Field.text((card) => card.profile.creditLevel),
    frozen: Field.boolean((card) => card.frozen !== null),
    followUpDue: Field.text((card) => card.nextFollowUpDue ?? noFollowUpDue),
    name: Field.text((card) => nameSortKey(card.profile.name)),
    registeredAt: Field.text((card) => card.registeredAt),
    updatedAt: Field.text((card) => card.updatedAt),
    purchaseCount: Field.number((card) => card.purchases.count),
  },
  // "My customers" by name (of one stage, or all) or by last change and "my overdue follow-ups" are
  // the lists reps open most; a stage's customers by name, the one managers open. With one of these
  // a page of 50 reads about 50 index entries; without, the store filters or sorts every card of
  // the owner or the stage.
  indexes: [
    ["owner", "name"],
    ["owner", "followUpDue"],
    ["owner", "stage", "name"],
    ["owner", "updatedAt"],
    ["stage", "name"],
  ],
  search: (card) => [card.profile.name, card.profile.email ?? "", card.profile.company ?? ""].join(" "),
})

/** One key of the duplicate index: which customer has it. */
export interface DuplicateKeyEntry {
  /** `name:<normalised name>`, `email:<address>` or `phone:<number>`. */
  readonly key: string
  readonly customerId: string
}

/** The duplicate index: one entry per key and customer, id `<customerId>/<key>`. */
export const customerDuplicateKeys = defineCollection<DuplicateKeyEntry>({
  name: customerDuplicateKeysCollection,
  fields: { key: Field.text((entry) => entry.key) },
})

/** The duplicate index's keys of a profile. */
export const duplicateIndexKeys = (profile: CustomerProfile): ReadonlyArray<string> => {
  const keys = duplicateKeysOf(profile)
  const result = [`name:${keys.name}`]
  if (keys.email !== undefined) result.push(`email:${keys.email}`)
  if (keys.phone !== undefined) result.push(`phone:${keys.phone}`)
  return result
}

/** Builds the customer-card projection for a policy (decider and cadence) and version. */
export const makeCustomerCardProjection = (
  options: { readonly policy?: CustomerCardPolicy; readonly version?: number } = {},
): Projection<CustomerEvent> => {
  const policy = options.policy ?? defaultCustomerCardPolicy
  return defineProjection<CustomerEvent>({
    name: customerCardProjectionName,
    // 2: the cards' collection gained the (owner, stage, name), (owner, updatedAt) and (stage, name) indexes.
    // 3: rebuilt once so that a SQLite store's cards get the search index (decision 0017), which a
    //    table made before it cannot have.
    version: options.version ?? 3,
    collections: [customerCards, customerDuplicateKeys],
    filter: { streamPrefix: customerStreamPrefix },
    decode: decodeCustomerEvent,
    reads: (event) => [[customerCardsCollection, event.customerId]],
    apply: (tx, event, recorded) => {
      const before = tx.get(customerCardsCollection, event.customerId) as CustomerCard | undefined
      // The runner delivers each event once, in order: a gap or a repeat means a lost or doubled event.
      if (before !== undefined && recorded.version !== before.version + 1) {
        throw new Error(
          `${recorded.streamId}: event version ${recorded.version} follows card version ${before.version}`,
        )
      }
      const card = nextCard(before, event, recorded, policy)
      if (card === undefined) return
      tx.put(customerCardsCollection, event.customerId, card)
      if (before !== undefined && before.profile === card.profile) return
      const oldKeys = before === undefined ? [] : duplicateIndexKeys(before.profile)
      const newKeys = duplicateIndexKeys(card.profile)
      for (const key of oldKeys) {
        if (!newKeys.includes(key)) tx.delete(customerDuplicateKeysCollection, `${event.customerId}/${key}`)
      }
      for (const key of newKeys) {
        if (!oldKeys.includes(key)) {
          tx.put(customerDuplicateKeysCollection, `${event.customerId}/${key}`, {
            key,
            customerId: event.customerId,
          })
        }
      }
    },
  })
}

/** The customer-card projection with the Customer decider and the default cadence. */
export const CustomerCardProjection: Projection<CustomerEvent> = makeCustomerCardProjection()
