import { describe, expect, it } from "@effect/vitest"
import {
  type CustomerProfile,
  type Email,
  type Instant,
  makeInMemoryEventStore,
  type Phone,
} from "@relata/domain"
import {
  CustomerCardProjection,
  type CustomerCardView,
  compareText,
  customerCard,
  findDuplicateCandidates,
  type ListCustomerCardsOptions,
  listCustomerCards,
  makeInMemoryReadModelStore,
  makeProjectionRunner,
  myCustomers,
  nameSortKey,
  normaliseSearchText,
  overdueFollowUps,
  ReadModelStore,
  storedCustomerCard,
} from "@relata/projections"
import { Effect } from "effect"
import {
  aBookOfCustomers,
  customerCommands,
  customerIdOf,
  dayOf,
  instant,
  reps,
} from "./support/customers.ts"

const now = instant("2024-03-01T00:00:00.000Z")
const count = 30

/** 30 customers through the command handler, projected into an in-memory read model. */
const world = Effect.gen(function* () {
  const eventStore = makeInMemoryEventStore()
  const send = customerCommands(eventStore)
  const head = yield* aBookOfCustomers(send, count)
  const readModels = makeInMemoryReadModelStore()
  const runner = yield* makeProjectionRunner([CustomerCardProjection], { eventStore, readModels })
  yield* runner.waitFor(head)
  const provide = <A, E>(effect: Effect.Effect<A, E, ReadModelStore>) =>
    Effect.provideService(effect, ReadModelStore, readModels)
  const all = yield* provide(
    Effect.forEach(
      Array.from({ length: count }, (_, i) => customerIdOf(i)),
      (id) => customerCard(id, { now }),
    ),
  )
  const cards = all.filter((card): card is CustomerCardView => card !== undefined)
  return { send, runner, provide, cards }
})

const byName = (a: CustomerCardView, b: CustomerCardView) =>
  compareText(nameSortKey(a.profile.name), nameSortKey(b.profile.name)) ||
  compareText(a.customerId, b.customerId)

const idsOf = (cards: ReadonlyArray<CustomerCardView>) => cards.map((card) => card.customerId)

/** Every card of a list, page after page. */
const everyPage = (options: ListCustomerCardsOptions) =>
  Effect.gen(function* () {
    const cards: Array<CustomerCardView> = []
    let after: string | undefined
    do {
      const page = yield* listCustomerCards({ ...options, ...(after === undefined ? {} : { after }) })
      cards.push(...page.cards)
      after = page.next
    } while (after !== undefined)
    return cards
  })

describe("CustomerCard queries", () => {
  it.effect("list cards by each filter, sorted by name by default", () =>
    Effect.gen(function* () {
      const { provide, cards } = yield* world
      expect(cards).toHaveLength(count)
      const list = (options: ListCustomerCardsOptions) =>
        provide(Effect.map(listCustomerCards({ now, limit: 1_000, ...options }), (page) => idsOf(page.cards)))
      const expected = (keep: (card: CustomerCardView) => boolean) => idsOf(cards.filter(keep).sort(byName))

      expect(yield* list({})).toEqual(expected(() => true))
      const filters: ReadonlyArray<
        readonly [ListCustomerCardsOptions["filter"], (c: CustomerCardView) => boolean]
      > = [
        [{ stage: "lead" }, (c) => c.stage === "lead"],
        [{ stage: "prospect" }, (c) => c.stage === "prospect"],
        [{ stage: "customer" }, (c) => c.stage === "customer"],
        [{ stage: "churned" }, (c) => c.stage === "churned"],
        [{ tier: "A" }, (c) => c.tier === "A"],
        [{ owner: reps[1] }, (c) => c.owner === reps[1]],
        [{ owner: [reps[0], reps[2]] }, (c) => c.owner !== reps[1]],
        [{ region: "east" as never }, (c) => c.profile.region === "east"],
        [{ industry: "energy" as never }, (c) => c.profile.industry === "energy"],
        [{ creditLevel: "good" }, (c) => c.profile.creditLevel === "good"],
        [{ frozen: true }, (c) => c.frozen !== null],
        [{ frozen: false }, (c) => c.frozen === null],
        [{ overdue: true }, (c) => c.overdue],
        [{ overdue: false }, (c) => !c.overdue],
        [
          { stage: "customer", overdue: true, owner: reps[0] },
          (c) => c.stage === "customer" && c.overdue && c.owner === reps[0],
        ],
      ]
      for (const [filter, keep] of filters) {
        const ids = yield* list(filter === undefined ? {} : { filter })
        expect(ids, JSON.stringify(filter)).toEqual(expected(keep))
      }
      // The book's rotation, spelled out: i % 5 of 0..29 gives six of each stage; every 7th is frozen.
      expect(yield* list({ filter: { stage: "lead" } })).toHaveLength(12)
      expect((yield* list({ filter: { frozen: true } })).sort()).toEqual(["c03", "c10", "c17", "c24"])
      expect((yield* list({ filter: { overdue: true } })).length).toBeGreaterThan(0)
      expect((yield* list({ filter: { overdue: false } })).length).toBeGreaterThan(0)
    }),
  )

  it.effect("search names, e-mail addresses and companies, ignoring case and width", () =>
    Effect.gen(function* () {
      const { provide, cards } = yield* world
      const search = (text: string, options: ListCustomerCardsOptions = {}) =>
        provide(
          Effect.map(listCustomerCards({ now, limit: 1_000, search: text, ...options }), (p) =>
            idsOf(p.cards),
          ),
        )
      // Every word of the search occurs somewhere in the name, e-mail address or company.
      const containing = (text: string) =>
        idsOf(
          cards
            .filter((c) => {
              const haystack = normaliseSearchText(
                [c.profile.name, c.profile.email ?? "", c.profile.company ?? ""].join(" "),
              )
              return normaliseSearchText(text)
                .split(/\s+/)
                .every((word) => haystack.includes(word))
            })
            .sort(byName),
        )
      expect((yield* search("acme")).sort()).toEqual(["c00", "c08", "c16", "c24"])
      expect(yield* search("acme")).toEqual(containing("acme"))
      expect(yield* search("ACME TRADING 16")).toEqual(["c16"])
      expect(yield* search("fuji")).toEqual(containing("ＦＵＪＩ"))
      expect(yield* search("ｆｕｊｉ")).toEqual(containing("fuji"))
      expect(yield* search("contact12@example")).toEqual(["c12"])
      expect(yield* search("group 1")).toEqual(containing("group 1"))
      expect((yield* search("group 1")).length).toBeGreaterThan(2)
      expect(yield* search("café")).toEqual(containing("café"))
      expect(yield* search("example.com", { filter: { owner: reps[0] } })).toEqual(
        idsOf(cards.filter((c) => c.owner === reps[0] && c.profile.email !== undefined).sort(byName)),
      )
      expect(yield* search("nobody here")).toEqual([])
    }),
  )

  it.effect("sort by each order and page through with cursors", () =>
    Effect.gen(function* () {
      const { provide, cards } = yield* world
      const sorted = (key: (c: CustomerCardView) => string | number, direction: "asc" | "desc") =>
        idsOf(
          [...cards].sort((a, b) => {
            const ka = key(a)
            const kb = key(b)
            const c =
              (typeof ka === "number" && typeof kb === "number"
                ? ka - kb
                : compareText(String(ka), String(kb))) || compareText(a.customerId, b.customerId)
            return direction === "asc" ? c : -c
          }),
        )
      const noDue = "9999-12-31T23:59:59.999Z"
      const orders = [
        [{ by: "name", direction: "desc" }, sorted((c) => nameSortKey(c.profile.name), "desc")],
        [{ by: "registeredAt", direction: "desc" }, sorted((c) => c.registeredAt, "desc")],
        [{ by: "updatedAt", direction: "asc" }, sorted((c) => c.updatedAt, "asc")],
        [{ by: "purchaseCount", direction: "desc" }, sorted((c) => c.purchases.count, "desc")],
        [{ by: "nextFollowUpDue", direction: "asc" }, sorted((c) => c.nextFollowUpDue ?? noDue, "asc")],
      ] as const
      for (const [sort, expected] of orders) {
        const single = yield* provide(listCustomerCards({ now, sort, limit: 1_000 }))
        expect(idsOf(single.cards), sort.by).toEqual(expected)
        expect(single.next).toBeUndefined()
        for (const limit of [1, 4, 7, 30]) {
          expect(idsOf(yield* provide(everyPage({ now, sort, limit }))), `${sort.by} by ${limit}`).toEqual(
            expected,
          )
        }
      }
      const filtered = { now, filter: { stage: "lead" as const }, search: "example", limit: 2 }
      expect(idsOf(yield* provide(everyPage(filtered)))).toEqual(
        idsOf(cards.filter((c) => c.stage === "lead" && c.profile.email !== undefined).sort(byName)),
      )
      const first = yield* provide(listCustomerCards({ now, limit: 3 }))
      const stale = yield* Effect.flip(
        provide(
          listCustomerCards({ now, limit: 3, sort: { by: "registeredAt" }, after: first.next as string }),
        ),
      )
      expect(stale._tag).toBe("InvalidReadModelQuery")
    }),
  )

  it.effect("list a rep's customers and the overdue follow-ups of a rep or of a manager's reps", () =>
    Effect.gen(function* () {
      const { provide, cards } = yield* world
      const mine = yield* provide(myCustomers(reps[1], { now, limit: 1_000 }))
      expect(idsOf(mine.cards)).toEqual(idsOf(cards.filter((c) => c.owner === reps[1]).sort(byName)))

      const byDue = (a: CustomerCardView, b: CustomerCardView) =>
        compareText(a.nextFollowUpDue ?? "", b.nextFollowUpDue ?? "") ||
        compareText(a.customerId, b.customerId)
      const overdueOf = (owners: ReadonlyArray<string>) =>
        idsOf(cards.filter((c) => c.overdue && owners.includes(c.owner)).sort(byDue))
      const rep = yield* provide(overdueFollowUps(reps[0], { now, limit: 1_000 }))
      expect(rep.cards.length).toBeGreaterThan(0)
      expect(rep.cards.every((c) => c.overdue && c.owner === reps[0])).toBe(true)
      expect(idsOf(rep.cards)).toEqual(overdueOf([reps[0]]))
      const team = yield* provide(overdueFollowUps([reps[0], reps[2]], { now, limit: 1_000 }))
      expect(idsOf(team.cards)).toEqual(overdueOf([reps[0], reps[2]]))
      // Earlier, fewer follow-ups were overdue.
      const early = yield* provide(
        overdueFollowUps([reps[0], reps[2]], { now: instant("2024-01-20T00:00:00.000Z"), limit: 1_000 }),
      )
      expect(early.cards.length).toBeLessThan(team.cards.length)
      expect(early.cards.every((c) => c.overdue)).toBe(true)
      expect(
        idsOf(
          yield* provide(
            everyPage({
              now,
              filter: { owner: [reps[0], reps[2]], overdue: true },
              sort: { by: "nextFollowUpDue" },
              limit: 3,
            }),
          ),
        ),
      ).toEqual(idsOf(team.cards))
    }),
  )

  it.effect("read one card as stored: the card itself and whether it is overdue, the view's parts", () =>
    Effect.gen(function* () {
      const { provide, cards } = yield* world
      const overdue = cards.find((card) => card.overdue)
      if (overdue === undefined) throw new Error("no card is overdue at the test's instant")
      const stored = yield* provide(storedCustomerCard(overdue.customerId, { now }))
      expect(stored && { ...stored.card, overdue: stored.overdue }).toEqual(overdue)
      // The store's own object again, unchanged: readers may keep what they derive from it.
      expect((yield* provide(storedCustomerCard(overdue.customerId, { now })))?.card).toBe(stored?.card)
      const due = overdue.nextFollowUpDue as Instant
      expect((yield* provide(storedCustomerCard(overdue.customerId, { now: due })))?.overdue).toBe(false)
      expect(yield* provide(storedCustomerCard(customerIdOf(count), { now }))).toBeUndefined()
    }),
  )

  it.effect("find duplicate candidates by normalised name, e-mail address and phone number", () =>
    Effect.gen(function* () {
      const { provide, send, runner } = yield* world
      const candidates = (profile: Partial<CustomerProfile>, options = {}) =>
        provide(
          Effect.map(
            findDuplicateCandidates({ name: "Nobody", ...profile } as CustomerProfile, options),
            (list) => list.map((c) => [c.customerId, c.matchedOn]),
          ),
        )
      expect(yield* candidates({ name: "ACME trading, 0." })).toEqual([["c00", ["name"]]])
      expect(yield* candidates({ email: "contact2@example.com" as Email })).toEqual([["c02", ["email"]]])
      expect(yield* candidates({ phone: "+861000000001" as Phone })).toEqual([["c01", ["phone"]]])
      expect(
        yield* candidates({
          name: "Acme Trading 0",
          company: "GROUP 0",
          email: "contact8@example.com" as Email,
        }),
      ).toEqual([
        ["c00", ["name", "companyAndName"]],
        ["c08", ["email"]],
      ])
      expect(yield* candidates({ name: "Acme Trading 0" }, { excluding: "c00" })).toEqual([])
      expect(yield* candidates({})).toEqual([])

      // The index follows profile changes.
      const changed = yield* send("c02", dayOf(70), "UpdateProfile", {
        changes: { email: "new@example.com" as Email, name: "Renamed Ltd" },
      })
      yield* runner.waitFor(changed.position)
      expect(yield* candidates({ email: "contact2@example.com" as Email })).toEqual([])
      expect(yield* candidates({ name: "Café Lumière 2" })).toEqual([])
      expect(yield* candidates({ email: "new@example.com" as Email, name: "RENAMED ltd." })).toEqual([
        ["c02", ["name", "email"]],
      ])
    }),
  )
})
