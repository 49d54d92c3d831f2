import { describe, expect, it } from "@effect/vitest"
import {
  type Actor,
  ActorId,
  ContactId,
  CurrencyCode,
  type CustomerEventType,
  CustomerId,
  customerEventTypes,
  type Email,
  type EventStoreService,
  makeInMemoryEventStore,
  PurchaseId,
} from "@relata/domain"
import {
  type AuditEntry,
  type AuditTrailFilter,
  AuditTrailProjection,
  auditCustomerStatesCollection,
  CustomerCardProjection,
  customerAuditTrail,
  customerAuditTrailFromStore,
  customerCard,
  customerStateOf,
  describeAction,
  diffCustomerStates,
  makeInMemoryReadModelStore,
  makeProjectionRunner,
  ReadModelStore,
  type ReadModelStoreService,
  searchAuditTrail,
  streamAuditTrail,
} from "@relata/projections"
import { Effect, Stream } from "effect"
import {
  aBookOfCustomers,
  customerCommands,
  customerIdOf,
  eur,
  instant,
  source,
} from "./support/customers.ts"

const rep1: Actor = { id: ActorId.make("rep-1"), role: "rep" }
const rep2: Actor = { id: ActorId.make("rep-2"), role: "rep" }
const manager: Actor = { id: ActorId.make("manager-1"), role: "manager" }

/** Hour `h` of February `day`, 2024. */
const at = (day: number, h = 9): string => new Date(Date.UTC(2024, 1, day, h)).toISOString()

const full = CustomerId.make("full-life")
const contactId = ContactId.make("k1")

/**
 * One customer through every event type, by reps and a manager, with a back-dated tier change and
 * a correlated pair of commands. Answers the position of its last event.
 */
const aFullLife = (send: ReturnType<typeof customerCommands>) =>
  Effect.gen(function* () {
    const c = full
    const asRep1 = { actor: rep1 }
    yield* send(
      c,
      at(1),
      "RegisterLead",
      {
        profile: { name: "Acme Trading", email: "buyer@acme.example" as Email, company: "Acme" },
        source,
        owner: rep1.id,
        tier: "C",
      },
      asRep1,
    )
    yield* send(c, at(2), "AddContact", { contact: { contactId, name: "Li Wei", title: "Buyer" } }, asRep1)
    yield* send(c, at(3), "UpdateContact", { contactId, changes: { title: "Head of purchasing" } }, asRep1)
    // Recorded on the 4th, effective on the 2nd.
    yield* send(
      c,
      at(4),
      "ChangeTier",
      { to: "A", reason: "strategic, account" },
      { actor: manager, effectiveAt: instant(at(2)) },
    )
    yield* send(c, at(5), "MarkDealLost", { reason: 'said "no budget"\nfor now' }, asRep1)
    yield* send(c, at(6), "ReopenLead", {}, asRep1)
    yield* send(c, at(7), "QualifyLead", {}, asRep1)
    yield* send(c, at(8), "ConvertToCustomer", { firstPurchase: eur(100_000) }, asRep1)
    yield* send(c, at(9), "RecordPurchase", { ...eur(2_550), purchaseId: PurchaseId.make("PO-7") }, asRep1)
    yield* send(c, at(10), "PromoteToLoyal", { reason: "partner" }, { actor: manager })
    yield* send(c, at(11), "ChurnCustomer", { reason: "moved away" }, asRep1)
    yield* send(c, at(12), "WinBackCustomer", {}, asRep1)
    yield* send(c, at(13), "ConvertToCustomer", { firstPurchase: eur(5) }, asRep1)
    // The third purchase within 12 months: PurchaseRecorded and CustomerBecameLoyal by the policy.
    yield* send(c, at(14), "RecordPurchase", eur(7_000), asRep1)
    yield* send(
      c,
      at(15),
      "FreezeAccount",
      { reason: "payment dispute" },
      { actor: manager, correlationId: "case-9" },
    )
    yield* send(c, at(16), "UnfreezeAccount", { reason: "paid" }, { actor: manager, correlationId: "case-9" })
    yield* send(c, at(17), "AssignOwner", { to: rep2.id, reason: "handover" }, { actor: manager })
    yield* send(
      c,
      at(18),
      "RecordFollowUp",
      { channel: "phone", summary: "called", outcome: "interested" },
      { actor: rep2 },
    )
    yield* send(
      c,
      at(19),
      "UpdateProfile",
      { changes: { email: "ceo@acme.example" as Email, company: null } },
      { actor: rep2 },
    )
    return (yield* send(c, at(20), "RemoveContact", { contactId }, { actor: rep2 })).position
  })

/** A few more customers by two reps, so the global trail has something to filter. */
const someOthers = (send: ReturnType<typeof customerCommands>) =>
  Effect.gen(function* () {
    let position = 0n
    for (let i = 0; i < 6; i++) {
      const c = CustomerId.make(`other-${i}`)
      const actor = i % 2 === 0 ? rep1 : rep2
      yield* send(
        c,
        at(1 + i, 10),
        "RegisterLead",
        { profile: { name: `Other ${i}` }, source, owner: actor.id },
        { actor },
      )
      yield* send(c, at(2 + i, 11), "QualifyLead", {}, { actor })
      position = (yield* send(
        c,
        at(3 + i, 12),
        "ChangeTier",
        { to: "B", reason: "grew" },
        { actor: manager },
      )).position
    }
    return position
  })

const customers = [full, ...Array.from({ length: 6 }, (_, i) => CustomerId.make(`other-${i}`))]

/** The world: the customers above, projected into an in-memory read model in small batches. */
const world = Effect.gen(function* () {
  const eventStore = makeInMemoryEventStore()
  const send = customerCommands(eventStore)
  yield* aFullLife(send)
  const head = yield* someOthers(send)
  const readModels = makeInMemoryReadModelStore()
  const runner = yield* makeProjectionRunner(
    [AuditTrailProjection, CustomerCardProjection],
    { eventStore, readModels },
    { batchSize: 4 },
  )
  yield* runner.waitFor(head)
  const replayed: Array<AuditEntry> = []
  for (const c of customers) replayed.push(...(yield* customerAuditTrailFromStore(eventStore, c)))
  const provide = <A, E>(effect: Effect.Effect<A, E, ReadModelStore>) =>
    Effect.provideService(effect, ReadModelStore, readModels)
  return { eventStore, readModels, replayed, provide }
})

/** Every page of a search, concatenated. */
const allPages = (
  provide: <A, E>(effect: Effect.Effect<A, E, ReadModelStore>) => Effect.Effect<A, E>,
  filter: AuditTrailFilter,
  options: { readonly limit?: number; readonly direction?: "asc" | "desc" } = {},
) =>
  Effect.gen(function* () {
    const entries: Array<AuditEntry> = []
    let after: string | undefined
    for (;;) {
      const page = yield* provide(
        searchAuditTrail(filter, { ...options, ...(after === undefined ? {} : { after }) }),
      )
      entries.push(...page.entries)
      if (page.next === undefined) return entries
      after = page.next
    }
  })

const byRecordedAt = (a: AuditEntry, b: AuditEntry) =>
  a.recordedAt < b.recordedAt
    ? -1
    : a.recordedAt > b.recordedAt
      ? 1
      : Number(BigInt(a.position) - BigInt(b.position))

const fullLifeEntries = (eventStore: EventStoreService) => customerAuditTrailFromStore(eventStore, full)

describe("AuditTrail", () => {
  it.effect("describes every event type in words, with who, when and why", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      yield* aFullLife(customerCommands(eventStore))
      const entries = yield* fullLifeEntries(eventStore)
      expect(new Set(entries.map((e) => e.eventType))).toEqual(new Set<CustomerEventType>(customerEventTypes))
      expect(entries.map((e) => [e.version, e.eventType, e.action])).toEqual([
        [1, "LeadRegistered", 'Lead "Acme Trading" registered from trade fair, owned by rep-1, tier C'],
        [2, "ContactAdded", 'Contact "Li Wei" added'],
        [3, "ContactUpdated", 'Contact "Li Wei" updated: title'],
        [4, "TierChanged", "Tier changed from C to A"],
        [5, "DealLost", "Deal lost while a lead"],
        [6, "LeadReopened", "Lost deal reopened as a lead"],
        [7, "LeadQualified", "Lead qualified as a prospect"],
        [8, "CustomerConverted", "Converted to a customer with a first purchase of 1000.00 EUR"],
        [9, "PurchaseRecorded", "Purchase of 25.50 EUR recorded (PO-7)"],
        [10, "CustomerBecameLoyal", "Promoted to loyal by hand"],
        [11, "CustomerChurned", "Customer churned (was loyal)"],
        [12, "CustomerWinBackStarted", "Win-back started: the churned customer is a prospect again"],
        [13, "CustomerConverted", "Converted to a customer with a first purchase of 0.05 EUR"],
        [14, "PurchaseRecorded", "Purchase of 70.00 EUR recorded"],
        [15, "CustomerBecameLoyal", "Became loyal by the loyalty rule (3 purchases within 12 months)"],
        [16, "AccountFrozen", "Account frozen"],
        [17, "AccountUnfrozen", "Account unfrozen"],
        [18, "OwnerAssigned", "Owner changed from rep-1 to rep-2"],
        [19, "FollowUpRecorded", "Follow-up by phone recorded, outcome: interested"],
        [20, "ProfileUpdated", "Profile updated: company, email"],
        [21, "ContactRemoved", 'Contact "Li Wei" removed'],
      ])

      const tier = entries[3] as AuditEntry
      expect(tier).toMatchObject({
        customerId: full,
        streamId: "customer-full-life",
        version: 4,
        position: "4",
        recordedAt: at(4),
        effectiveAt: at(2),
        actor: manager,
        reason: "strategic, account",
        commandType: "ChangeTier",
        commandId: "command-4",
        correlationId: "command-4",
        causationId: "command-4",
      })
      expect(tier.hash).toMatch(/^[0-9a-f]{64}$/)
      // Back-dated before the contact update: the tier's since moves back, the latest business instant stays.
      expect(tier.changes).toEqual([
        { field: "tier", before: "C", after: "A" },
        { field: "tierSince", before: at(1), after: at(2) },
      ])
      expect(entries[0]?.actor).toEqual(rep1)
      // The policy's loyalty has no command reason of its own: the event's reason is the entry's.
      expect(entries[14]?.reason).toBe("Met the loyalty rule: 3 purchases within 12 months")
      expect(entries[14]?.commandType).toBe("RecordPurchase")
      expect(entries[15]?.correlationId).toBe("case-9")
      expect(entries[16]?.correlationId).toBe("case-9")
      expect(entries[16]?.causationId).toBe("command-16")
      expect(entries.map((e) => e.reason)).toContain('said "no budget"\nfor now')
    }),
  )

  it.effect("lists the fields each event changed, diffing the state before and after evolve", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      yield* aFullLife(customerCommands(eventStore))
      const entries = yield* fullLifeEntries(eventStore)
      const changesOf = (version: number) => entries[version - 1]?.changes

      const registration = changesOf(1) ?? []
      expect(registration[0]).toEqual({ field: "status", before: "unregistered", after: "registered" })
      expect(registration).toEqual(
        expect.arrayContaining([
          { field: "customerId", before: null, after: full },
          { field: "profile.name", before: null, after: "Acme Trading" },
          { field: "profile.email", before: null, after: "buyer@acme.example" },
          { field: "tier", before: null, after: "C" },
          { field: "owner", before: null, after: "rep-1" },
          { field: "purchases.count", before: null, after: 0 },
        ]),
      )
      // Null and absent are the same: nothing is listed for fields that stay empty.
      expect(registration.map((c) => c.field)).not.toContain("frozen")
      expect(registration.map((c) => c.field)).not.toContain("department")

      expect(changesOf(2)).toEqual([
        { field: "contacts[k1].contactId", before: null, after: "k1" },
        { field: "contacts[k1].name", before: null, after: "Li Wei" },
        { field: "contacts[k1].title", before: null, after: "Buyer" },
        { field: "updatedAt", before: at(1), after: at(2) },
      ])
      expect(changesOf(3)).toEqual([
        { field: "contacts[k1].title", before: "Buyer", after: "Head of purchasing" },
        { field: "updatedAt", before: at(2), after: at(3) },
      ])
      expect(changesOf(8)).toEqual([
        { field: "stage", before: "prospect", after: "customer" },
        { field: "stageSince", before: at(7), after: at(8) },
        { field: "purchases.count", before: 0, after: 1 },
        { field: "purchases.totals.EUR", before: null, after: 100_000 },
        { field: "purchases.firstAt", before: null, after: at(8) },
        { field: "purchases.lastAt", before: null, after: at(8) },
        { field: "purchases.recent", before: [], after: [at(8)] },
        { field: "updatedAt", before: at(7), after: at(8) },
      ])
      expect(changesOf(16)).toEqual([
        { field: "frozen.reason", before: null, after: "payment dispute" },
        { field: "frozen.since", before: null, after: at(15) },
        { field: "updatedAt", before: at(14), after: at(15) },
      ])
      expect(changesOf(17)).toEqual([
        { field: "frozen.reason", before: "payment dispute", after: null },
        { field: "frozen.since", before: at(15), after: null },
        { field: "updatedAt", before: at(15), after: at(16) },
      ])
      expect(changesOf(20)).toEqual([
        { field: "profile.company", before: "Acme", after: null },
        { field: "profile.email", before: "buyer@acme.example", after: "ceo@acme.example" },
        { field: "updatedAt", before: at(18), after: at(19) },
      ])
      expect(changesOf(21)).toEqual([
        { field: "contacts[k1].contactId", before: "k1", after: null },
        { field: "contacts[k1].name", before: "Li Wei", after: null },
        { field: "contacts[k1].title", before: "Head of purchasing", after: null },
        { field: "updatedAt", before: at(19), after: at(20) },
      ])
      // A state compared with itself has no changes.
      expect(diffCustomerStates({ status: "unregistered" }, { status: "unregistered" })).toEqual([])
    }),
  )

  it("writes money with the currency's minor units", () => {
    const purchase = (amountMinor: number, currency: string) =>
      describeAction(
        {
          _tag: "PurchaseRecorded",
          customerId: full,
          occurredAt: instant(at(1)),
          amount: { amountMinor, currency: CurrencyCode.make(currency) },
        },
        { status: "unregistered" },
      )
    expect(purchase(123_456, "EUR")).toBe("Purchase of 1234.56 EUR recorded")
    expect(purchase(500, "JPY")).toBe("Purchase of 500 JPY recorded")
    expect(purchase(1_005, "KWD")).toBe("Purchase of 1.005 KWD recorded")
  })

  it.effect("keeps one entry per event, equal to the replay from the event store, and the card's state", () =>
    Effect.gen(function* () {
      const { readModels, replayed, provide } = yield* world
      for (const c of customers) {
        const page = yield* provide(customerAuditTrail(c, { limit: 1_000 }))
        expect(page.entries).toEqual(replayed.filter((e) => e.customerId === c))
        // One code path with the card: the state the trail diffs against is the card's state.
        const kept = (yield* readModels.get(auditCustomerStatesCollection, c)) as
          | { version: number; state: unknown }
          | undefined
        const card = yield* provide(customerCard(c))
        if (card === undefined) throw new Error(`no card for ${c}`)
        const { overdue, ...stored } = card
        expect(kept?.state).toEqual(customerStateOf(stored))
        expect(kept?.version).toBe(card.version)
      }
    }),
  )

  it.effect("pages one customer's history in version order, both ways", () =>
    Effect.gen(function* () {
      const { replayed, provide } = yield* world
      const expected = replayed.filter((e) => e.customerId === full)
      const seen: Array<AuditEntry> = []
      let after: string | undefined
      let pages = 0
      do {
        const page = yield* provide(
          customerAuditTrail(full, { limit: 4, ...(after === undefined ? {} : { after }) }),
        )
        seen.push(...page.entries)
        after = page.next
        pages++
      } while (after !== undefined)
      expect(seen).toEqual(expected)
      expect(pages).toBe(Math.ceil(expected.length / 4))
      const newest = yield* provide(customerAuditTrail(full, { limit: 3, direction: "desc" }))
      expect(newest.entries.map((e) => e.version)).toEqual([21, 20, 19])
      const tiers = yield* provide(customerAuditTrail(full, { filter: { eventType: "TierChanged" } }))
      expect(tiers.entries.map((e) => e.version)).toEqual([4])
      // A cursor belongs to its query's order.
      const global = yield* provide(searchAuditTrail({}, { limit: 2 }))
      const misuse = yield* Effect.flip(provide(customerAuditTrail(full, { after: global.next as string })))
      expect(misuse._tag).toBe("InvalidReadModelQuery")
    }),
  )

  it.effect(
    "filters the global trail by actor, role, action, correlation and recorded time, in time order",
    () =>
      Effect.gen(function* () {
        const { replayed, provide } = yield* world
        const timeline = [...replayed].sort(byRecordedAt)
        const check = (filter: AuditTrailFilter, keep: (e: AuditEntry) => boolean) =>
          Effect.gen(function* () {
            const expected = timeline.filter(keep)
            expect(expected.length).toBeGreaterThan(0)
            expect(yield* allPages(provide, filter, { limit: 3 })).toEqual(expected)
            expect(yield* allPages(provide, filter, { limit: 5, direction: "desc" })).toEqual(
              [...expected].reverse(),
            )
          })
        const from = instant(at(5))
        const before = instant(at(9))
        yield* check({}, () => true)
        yield* check({ actor: rep2.id }, (e) => e.actor?.id === rep2.id)
        yield* check({ actor: [rep1.id, manager.id] }, (e) => e.actor?.id !== rep2.id)
        yield* check({ actorRole: "manager" }, (e) => e.actor?.role === "manager")
        yield* check({ eventType: "TierChanged" }, (e) => e.eventType === "TierChanged")
        yield* check({ eventType: ["AccountFrozen", "AccountUnfrozen"] }, (e) =>
          e.eventType.startsWith("Account"),
        )
        yield* check({ commandType: "RecordPurchase" }, (e) => e.commandType === "RecordPurchase")
        yield* check({ correlationId: "case-9" }, (e) => e.correlationId === "case-9")
        yield* check(
          { recordedFrom: from, recordedBefore: before },
          (e) => e.recordedAt >= from && e.recordedAt < before,
        )
        yield* check(
          { actor: rep1.id, recordedFrom: from, recordedBefore: before },
          (e) => e.actor?.id === rep1.id && e.recordedAt >= from && e.recordedAt < before,
        )
        yield* check(
          { eventType: "TierChanged", recordedFrom: from },
          (e) => e.eventType === "TierChanged" && e.recordedAt >= from,
        )
        yield* check({ customerId: CustomerId.make("other-3") }, (e) => e.customerId === "other-3")
        const none = yield* provide(searchAuditTrail({ actor: ActorId.make("nobody") }))
        expect(none).toEqual({ entries: [] })
      }),
  )

  it.effect("streams a trail of any length one page at a time", () =>
    Effect.gen(function* () {
      const { replayed, provide } = yield* world
      const timeline = [...replayed].sort(byRecordedAt)
      expect(yield* provide(Stream.runCollect(streamAuditTrail({}, { pageSize: 4 })))).toEqual(timeline)
      expect(
        yield* provide(
          Stream.runCollect(streamAuditTrail({ customerId: full }, { order: "version", pageSize: 5 })),
        ),
      ).toEqual(replayed.filter((e) => e.customerId === full))
    }),
  )

  it.effect("rebuilds the same trail", () =>
    Effect.gen(function* () {
      const eventStore = makeInMemoryEventStore()
      const head = yield* aBookOfCustomers(customerCommands(eventStore), 12)
      const readModels: ReadModelStoreService = makeInMemoryReadModelStore()
      const runner = yield* makeProjectionRunner([AuditTrailProjection], { eventStore, readModels })
      yield* runner.waitFor(head)
      const trail = Effect.provideService(Stream.runCollect(streamAuditTrail({})), ReadModelStore, readModels)
      const before = yield* trail
      expect(before).toHaveLength(Number(head))
      expect((yield* runner.rebuild("audit-trail")).state).toBe("switched")
      expect(yield* trail).toEqual(before)
      for (let i = 0; i < 12; i++) {
        const replay = yield* customerAuditTrailFromStore(eventStore, customerIdOf(i))
        expect(before.filter((e) => e.customerId === customerIdOf(i))).toEqual([...replay].sort(byRecordedAt))
      }
    }),
  )
})
