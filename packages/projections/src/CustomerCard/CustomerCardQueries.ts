/**
 * What readers ask of the customer cards: one card, lists (filters, text search, sorting, cursor
 * pages), "my customers", overdue follow-ups for a rep or a manager's reps, and duplicate
 * candidates for a new lead. Every query is one indexed read of the ReadModelStore.
 *
 * Overdue is decided at `now` (the Clock's unless given): a card is overdue when its next follow-up
 * was due strictly before `now`, as the domain's `isFollowUpOverdue` says.
 */
import {
  type ActorId,
  type CreditLevel,
  type CustomerId,
  type CustomerProfile,
  type Department,
  type Industry,
  type Instant,
  instantFromMillis,
  type LifecycleStage,
  normaliseName,
  type Region,
  type Tier,
} from "@relata/domain"
import { Effect } from "effect"
import {
  type Condition,
  type InvalidReadModelQuery,
  type ReadModelQuery,
  type ReadModelReadError,
  ReadModelStore,
} from "../ReadModelStore.ts"
import { type CustomerCard, type CustomerCardView, overdueAt, viewOf } from "./CustomerCard.ts"
import {
  customerCardsCollection,
  customerDuplicateKeysCollection,
  type DuplicateKeyEntry,
  duplicateIndexKeys,
} from "./CustomerCardProjection.ts"

/** Filters of a card list; all given ones must hold. A list of owners matches any of them. */
export interface CustomerCardFilter {
  readonly stage?: LifecycleStage
  readonly tier?: Tier
  readonly owner?: ActorId | ReadonlyArray<ActorId>
  readonly department?: Department
  readonly region?: Region
  readonly industry?: Industry
  readonly creditLevel?: CreditLevel
  readonly frozen?: boolean
  /** Overdue at `now`, or not. */
  readonly overdue?: boolean
}

/** What a card list can be sorted by (then by customer id). */
export type CustomerCardSort = "name" | "registeredAt" | "updatedAt" | "nextFollowUpDue" | "purchaseCount"

export interface ListCustomerCardsOptions {
  readonly filter?: CustomerCardFilter
  /** Words that must all occur in the name, e-mail address or company (case-insensitive). */
  readonly search?: string
  /** Default: by name, ascending. Cards without a follow-up due sort after all others by nextFollowUpDue. */
  readonly sort?: { readonly by: CustomerCardSort; readonly direction?: "asc" | "desc" }
  /** The `next` cursor of the previous page of the same list. */
  readonly after?: string
  /** Cards per page: 1 to 1000, default 50. */
  readonly limit?: number
  /** The instant "overdue" refers to; default the Clock's. */
  readonly now?: Instant
}

export interface CustomerCardPage {
  readonly cards: ReadonlyArray<CustomerCardView>
  /** The cursor of the next page; absent on the last page. */
  readonly next?: string
}

export type CustomerCardQueryError = ReadModelReadError | InvalidReadModelQuery

const sortFields: Record<CustomerCardSort, string> = {
  name: "name",
  registeredAt: "registeredAt",
  updatedAt: "updatedAt",
  nextFollowUpDue: "followUpDue",
  purchaseCount: "purchaseCount",
}

// The Clock's instant as text, made once per millisecond: reads at a high rate share it.
let lastMillis = Number.NaN
let lastInstant = instantFromMillis(0)
const instantAt = (millis: number): Instant => {
  if (millis !== lastMillis) {
    lastInstant = instantFromMillis(millis)
    lastMillis = millis
  }
  return lastInstant
}

const nowOr = (now: Instant | undefined): Effect.Effect<Instant> =>
  now === undefined
    ? Effect.clockWith((clock) => Effect.succeed(instantAt(clock.currentTimeMillisUnsafe())))
    : Effect.succeed(now)

// Documents in `customer_cards` are written only by the card projection from a CustomerCard, so they
// are read back as such without decoding each one again (card lists are a hot path).
const asCard = (document: unknown): CustomerCard => document as CustomerCard

const where = (filter: CustomerCardFilter, now: Instant): NonNullable<ReadModelQuery["where"]> => {
  const owner: Condition | undefined =
    filter.owner === undefined
      ? undefined
      : typeof filter.owner === "string"
        ? filter.owner
        : { in: filter.owner }
  return {
    stage: filter.stage,
    tier: filter.tier,
    owner,
    department: filter.department,
    region: filter.region,
    industry: filter.industry,
    creditLevel: filter.creditLevel,
    frozen: filter.frozen,
    followUpDue: filter.overdue === undefined ? undefined : filter.overdue ? { lt: now } : { gte: now },
  }
}

/**
 * A card as the read model holds it, and whether it is overdue at the instant it was read: the
 * parts of its view, without copying the card. Stores may hand the same card to every reader while
 * it is unchanged (frozen), so a reader can keep what it derives from it, such as a response body.
 */
export interface StoredCustomerCard {
  readonly card: CustomerCard
  readonly overdue: boolean
}

/** One customer's card as stored, and whether it is overdue at `now` (the Clock's unless given). */
export const storedCustomerCard = (
  customerId: CustomerId,
  options: { readonly now?: Instant } = {},
): Effect.Effect<StoredCustomerCard | undefined, ReadModelReadError, ReadModelStore> =>
  // No generator: this is the API's hottest read.
  ReadModelStore.use((store) =>
    Effect.flatMap(store.get(customerCardsCollection, customerId), (document) => {
      if (document === undefined) return Effect.undefined
      const card = asCard(document)
      return Effect.map(nowOr(options.now), (now) => ({ card, overdue: overdueAt(card, now) }))
    }),
  )

/** One customer's card as of now, or undefined when there is none. */
export const customerCard = (
  customerId: CustomerId,
  options: { readonly now?: Instant } = {},
): Effect.Effect<CustomerCardView | undefined, ReadModelReadError, ReadModelStore> =>
  Effect.map(storedCustomerCard(customerId, options), (stored) =>
    stored === undefined ? undefined : { ...stored.card, overdue: stored.overdue },
  )

/** A page of cards that match the filters and search, in the order asked. */
export const listCustomerCards = (
  options: ListCustomerCardsOptions = {},
): Effect.Effect<CustomerCardPage, CustomerCardQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const now = yield* nowOr(options.now)
    const sort = options.sort ?? { by: "name" }
    const page = yield* store.query(customerCardsCollection, {
      where: where(options.filter ?? {}, now),
      ...(options.search === undefined ? {} : { search: options.search }),
      orderBy: { field: sortFields[sort.by], direction: sort.direction ?? "asc" },
      ...(options.after === undefined ? {} : { after: options.after }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    })
    return {
      cards: page.items.map((item) => viewOf(asCard(item.document), now)),
      ...(page.next === undefined ? {} : { next: page.next }),
    }
  })

/** A rep's customers: a card list filtered by owner. */
export const myCustomers = (
  owner: ActorId,
  options: ListCustomerCardsOptions = {},
): Effect.Effect<CustomerCardPage, CustomerCardQueryError, ReadModelStore> =>
  listCustomerCards({ ...options, filter: { ...options.filter, owner } })

/**
 * The overdue follow-ups of one rep, or of a manager's reps (several owners), the longest overdue
 * first.
 */
export const overdueFollowUps = (
  owners: ActorId | ReadonlyArray<ActorId>,
  options: Pick<ListCustomerCardsOptions, "after" | "limit" | "now"> = {},
): Effect.Effect<CustomerCardPage, CustomerCardQueryError, ReadModelStore> =>
  listCustomerCards({
    ...options,
    filter: { owner: owners, overdue: true },
    sort: { by: "nextFollowUpDue", direction: "asc" },
  })

/** Why a customer may be the same as a new lead. */
export type DuplicateMatch = "name" | "email" | "phone" | "companyAndName"

const matchOrder: ReadonlyArray<DuplicateMatch> = ["name", "email", "phone", "companyAndName"]

export interface DuplicateCandidate {
  readonly customerId: CustomerId
  /** The keys it shares with the profile; `companyAndName` when the name and the company both match. */
  readonly matchedOn: ReadonlyArray<DuplicateMatch>
  readonly card: CustomerCard
}

/**
 * Customers that may be the same as `profile` (the same normalised name, e-mail address or phone
 * number), most matches first: what registration asks before it registers a lead. At most `limit`
 * (default 20).
 */
export const findDuplicateCandidates = (
  profile: CustomerProfile,
  options: { readonly excluding?: CustomerId; readonly limit?: number } = {},
): Effect.Effect<ReadonlyArray<DuplicateCandidate>, CustomerCardQueryError, ReadModelStore> =>
  Effect.gen(function* () {
    const store = yield* ReadModelStore
    const keys = duplicateIndexKeys(profile)
    const page = yield* store.query(customerDuplicateKeysCollection, {
      where: { key: { in: keys } },
      limit: 1_000,
    })
    const matches = new Map<string, Array<DuplicateMatch>>()
    for (const { document } of page.items) {
      const entry = document as unknown as DuplicateKeyEntry
      if (entry.customerId === options.excluding) continue
      const kind = entry.key.slice(0, entry.key.indexOf(":")) as DuplicateMatch
      const list = matches.get(entry.customerId)
      if (list === undefined) matches.set(entry.customerId, [kind])
      else list.push(kind)
    }
    const cards = yield* store.getMany(customerCardsCollection, [...matches.keys()])
    const company = profile.company === undefined ? undefined : normaliseName(profile.company)
    const candidates: Array<DuplicateCandidate> = []
    for (const [customerId, matchedOn] of matches) {
      const document = cards.get(customerId)
      if (document === undefined) continue
      const card = asCard(document)
      const sameCompany =
        company !== undefined &&
        card.profile.company !== undefined &&
        normaliseName(card.profile.company) === company
      if (matchedOn.includes("name") && sameCompany) matchedOn.push("companyAndName")
      matchedOn.sort((a, b) => matchOrder.indexOf(a) - matchOrder.indexOf(b))
      candidates.push({ customerId: card.customerId, matchedOn, card })
    }
    candidates.sort(
      (a, b) => b.matchedOn.length - a.matchedOn.length || (a.customerId < b.customerId ? -1 : 1),
    )
    return candidates.slice(0, options.limit ?? 20)
  })
