import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import {
  ActorId,
  CustomerId,
  type EventStoreService,
  hashOf,
  makeInMemoryEventStore,
  type RecordedEvent,
  type StoreUnavailable,
} from "@relata/domain"
import {
  digestHeads,
  headsDigest,
  headsDigestAlgorithm,
  type StreamHead,
  streamHeads,
  verifyCustomer,
  verifyStore,
} from "@relata/projections"
import { Effect, Stream } from "effect"
import { customerCommands, eur, source } from "./support/customers.ts"

const a = CustomerId.make("a")
const b = CustomerId.make("b")
const c = CustomerId.make("c")

/** Three customers whose events interleave in the global order. Answers the store and its head. */
const aStore = Effect.gen(function* () {
  const eventStore = makeInMemoryEventStore()
  const send = customerCommands(eventStore)
  const day = (d: number) => new Date(Date.UTC(2024, 2, d, 9)).toISOString()
  const owner = ActorId.make("rep-1")
  for (const [i, id] of [a, b, c].entries()) {
    yield* send(id, day(1 + i), "RegisterLead", { profile: { name: `Customer ${id}` }, source, owner })
  }
  for (const [i, id] of [a, b, c].entries()) yield* send(id, day(4 + i), "QualifyLead", {})
  for (const [i, id] of [a, b, c].entries()) {
    yield* send(id, day(7 + i), "ConvertToCustomer", { firstPurchase: eur(1_000) })
  }
  const head = (yield* send(b, day(10), "RecordPurchase", eur(500))).position
  return { eventStore, head }
})

/**
 * The store as a database edited behind its back would show it: `edit` rewrites the rows (in
 * position order); reads then see the result, each stream by version, all events by position.
 */
const edited = (
  store: EventStoreService,
  edit: (rows: ReadonlyArray<RecordedEvent>) => ReadonlyArray<RecordedEvent>,
): Effect.Effect<EventStoreService, StoreUnavailable> =>
  Effect.map(Stream.runCollect(store.readAll()), (all) => {
    const rows = [...edit(all)].sort((x, y) => (x.position < y.position ? -1 : 1))
    return {
      ...store,
      readStream: (streamId) =>
        Effect.succeed(rows.filter((e) => e.streamId === streamId).sort((x, y) => x.version - y.version)),
      readAll: () => Stream.fromIterable(rows),
      headPosition: Effect.succeed(rows.at(-1)?.position ?? 0n),
    }
  })

const rowOf = (rows: ReadonlyArray<RecordedEvent>, streamId: string, version: number): RecordedEvent => {
  const row = rows.find((e) => e.streamId === streamId && e.version === version)
  if (row === undefined) throw new Error(`no ${streamId}@${version}`)
  return row
}

/** The documented algorithm, written again from its description (AuditTrail/README.md), without the package. */
const independentDigest = (heads: ReadonlyArray<StreamHead>): string => {
  const sorted = [...heads].sort((x, y) => Buffer.compare(Buffer.from(x.streamId), Buffer.from(y.streamId)))
  let text = "relata-heads-v1\n"
  for (const head of sorted) text += `[${JSON.stringify(head.streamId)},${head.version},"${head.hash}"]\n`
  return createHash("sha256").update(text, "utf8").digest("hex")
}

describe("AuditVerification", () => {
  it.effect("finds every chain intact in a store written by the command handler", () =>
    Effect.gen(function* () {
      const { eventStore, head } = yield* aStore
      const stream = yield* eventStore.readStream("customer-b")
      expect(yield* verifyCustomer(eventStore, b)).toEqual({
        customerId: b,
        streamId: "customer-b",
        events: 4,
        ok: true,
        tip: { version: 4, hash: hashOf(stream[3] as RecordedEvent) },
      })
      expect(yield* verifyCustomer(eventStore, CustomerId.make("nobody"))).toMatchObject({
        ok: true,
        events: 0,
        tip: { version: 0, hash: "0".repeat(64) },
      })
      expect(yield* verifyStore(eventStore)).toEqual({
        ok: true,
        atPosition: head,
        streams: 3,
        events: 10,
        broken: [],
      })
    }),
  )

  it.effect("names the changed event as the first broken link, per customer and for the store", () =>
    Effect.gen(function* () {
      const { eventStore, head } = yield* aStore
      const before = yield* headsDigest(eventStore)
      const original = rowOf(yield* Stream.runCollect(eventStore.readAll()), "customer-b", 3)
      yield* eventStore.tamper(
        { streamId: "customer-b", version: 3 },
        { data: { ...original.data, firstPurchase: { amount: { amountMinor: 10, currency: "EUR" } } } },
      )
      const link = {
        streamId: "customer-b",
        version: 3,
        position: original.position,
        actual: hashOf(original),
      }
      const customer = yield* verifyCustomer(eventStore, b)
      expect(customer).toMatchObject({ ok: false, events: 4, brokenLink: link })
      if (customer.ok) throw new Error("unreachable")
      expect(customer.brokenLink.expected).toMatch(/^[0-9a-f]{64}$/)
      expect(customer.brokenLink.expected).not.toBe(customer.brokenLink.actual)
      expect((yield* verifyCustomer(eventStore, a)).ok).toBe(true)
      const store = yield* verifyStore(eventStore)
      expect(store).toMatchObject({ ok: false, atPosition: head, streams: 3, events: 10 })
      expect(store.broken).toEqual([customer.brokenLink])
      const after = yield* headsDigest(eventStore)
      expect(after.digest).not.toBe(before.digest)
      expect(after).toMatchObject({ atPosition: head, streams: 3, events: 10, brokenStreams: 1 })
    }),
  )

  it.effect("reports the same first broken link for a deleted, a swapped and a moved event", () =>
    Effect.gen(function* () {
      const { eventStore } = yield* aStore
      const rows = yield* Stream.runCollect(eventStore.readAll())
      const second = rowOf(rows, "customer-a", 2)
      const third = rowOf(rows, "customer-a", 3)
      const cases: ReadonlyArray<
        readonly [string, (rows: ReadonlyArray<RecordedEvent>) => ReadonlyArray<RecordedEvent>, RecordedEvent]
      > = [
        // The link after the gap breaks.
        ["deleted", (all) => all.filter((e) => e !== second), third],
        // Two rows exchange their contents: the first of them breaks.
        [
          "swapped",
          (all) =>
            all.map((e) =>
              e === second
                ? { ...third, version: 2, position: second.position }
                : e === third
                  ? { ...second, version: 3, position: third.position }
                  : e,
            ),
          { ...third, version: 2, position: second.position },
        ],
        // Two rows exchange their versions: version order and global order now disagree.
        [
          "moved",
          (all) =>
            all.map((e) => (e === second ? { ...e, version: 3 } : e === third ? { ...e, version: 2 } : e)),
          { ...third, version: 2 },
        ],
      ]
      for (const [name, edit, brokenAt] of cases) {
        const store = yield* edited(eventStore, edit)
        const customer = yield* verifyCustomer(store, a)
        expect(customer, name).toMatchObject({
          ok: false,
          brokenLink: { streamId: "customer-a", version: brokenAt.version, position: brokenAt.position },
        })
        if (customer.ok) throw new Error("unreachable")
        const whole = yield* verifyStore(store)
        expect(whole.broken, name).toEqual([customer.brokenLink])
        expect((yield* headsDigest(store)).brokenStreams, name).toBe(1)
      }
    }),
  )

  it.effect(
    "gives a digest over the stream heads that stays put at its position and changes with any edit",
    () =>
      Effect.gen(function* () {
        const { eventStore, head } = yield* aStore
        const heads = yield* streamHeads(eventStore)
        expect(heads.atPosition).toBe(head)
        expect(heads.events).toBe(10)
        expect(heads.brokenStreams).toBe(0)
        // Intact chains: the recomputed head hash is the stored one.
        for (const streamHead of heads.heads) {
          const last = (yield* eventStore.readStream(streamHead.streamId)).at(-1) as RecordedEvent
          expect(streamHead).toEqual({ streamId: last.streamId, version: last.version, hash: hashOf(last) })
        }
        expect(heads.heads.map((h) => h.streamId)).toEqual(["customer-a", "customer-b", "customer-c"])

        const recorded = yield* headsDigest(eventStore)
        expect(recorded).toEqual({
          algorithm: "relata-heads-v1",
          atPosition: head,
          streams: 3,
          events: 10,
          digest: independentDigest(heads.heads),
          brokenStreams: 0,
        })
        // Later events do not change the digest at the recorded position; the digest at the new head differs.
        const send = customerCommands(eventStore)
        yield* send(c, "2024-04-01T09:00:00.000Z", "RecordPurchase", eur(1))
        yield* send(CustomerId.make("d"), "2024-04-02T09:00:00.000Z", "RegisterLead", {
          profile: { name: "D" },
          source,
          owner: ActorId.make("rep-1"),
        })
        expect(yield* headsDigest(eventStore, { atPosition: head })).toEqual(recorded)
        const now = yield* headsDigest(eventStore)
        expect(now).toMatchObject({ atPosition: head + 2n, streams: 4, events: 12 })
        expect(now.digest).not.toBe(recorded.digest)
        // A position past the head is taken at the head, which the result says.
        expect(yield* headsDigest(eventStore, { atPosition: head + 100n })).toEqual(now)
        // Cutting off a stream's newest event leaves its chain valid; only the digest shows it.
        const newest = (yield* eventStore.readStream("customer-b")).at(-1) as RecordedEvent
        const cut = yield* edited(eventStore, (all) => all.filter((e) => e !== newest))
        expect((yield* verifyStore(cut)).ok).toBe(true)
        expect((yield* headsDigest(cut, { atPosition: head })).digest).not.toBe(recorded.digest)
      }),
  )

  it("digests heads by a documented algorithm: stream ids in UTF-8 byte order, canonical JSON lines", () => {
    const hash = (n: number) => n.toString(16).padStart(64, "0")
    const heads: ReadonlyArray<StreamHead> = [
      { streamId: "customer-b", version: 2, hash: hash(2) },
      // U+1F600 sorts after U+FB01 in UTF-8 (code point) order, before it in UTF-16 order.
      { streamId: "customer-\u{1F600}", version: 1, hash: hash(3) },
      { streamId: "customer-\uFB01", version: 7, hash: hash(4) },
      { streamId: 'customer-"quoted"', version: 1, hash: hash(5) },
      { streamId: "customer-a", version: 12, hash: hash(1) },
    ]
    const expected = createHash("sha256")
      .update(
        "relata-heads-v1\n" +
          `["customer-\\"quoted\\"",1,"${hash(5)}"]\n` +
          `["customer-a",12,"${hash(1)}"]\n` +
          `["customer-b",2,"${hash(2)}"]\n` +
          `["customer-\uFB01",7,"${hash(4)}"]\n` +
          `["customer-\u{1F600}",1,"${hash(3)}"]\n`,
        "utf8",
      )
      .digest("hex")
    expect(headsDigestAlgorithm).toBe("relata-heads-v1")
    expect(digestHeads(heads)).toBe(expected)
    expect(digestHeads([...heads].reverse())).toBe(expected)
    expect(independentDigest(heads)).toBe(expected)
    // Pinned: changing the algorithm breaks every digest auditors have recorded.
    expect(digestHeads([{ streamId: "customer-a", version: 1, hash: hash(1) }])).toBe(
      "049daf009c77440ee1084f05e80347bd728d85d0403776f93626a297f5fe4339",
    )
    expect(digestHeads([])).toBe(createHash("sha256").update("relata-heads-v1\n").digest("hex"))
  })

  it.effect("digests an empty store as the header alone", () =>
    Effect.gen(function* () {
      expect(yield* headsDigest(makeInMemoryEventStore())).toEqual({
        algorithm: "relata-heads-v1",
        atPosition: 0n,
        streams: 0,
        events: 0,
        digest: createHash("sha256").update("relata-heads-v1\n").digest("hex"),
        brokenStreams: 0,
      })
    }),
  )
})
