import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { describe, expect, it } from "@effect/vitest"
import { SqliteEventStore } from "@relata/adapter-sqlite"
import {
  ActorId,
  type CommandEnvelope,
  CommandId,
  CustomerCommandHandler,
  type CustomerCommandType,
  CustomerId,
  canonicalEvent,
  chainHash,
  EventStore,
  type EventStoreService,
  hashOf,
  Instant,
  type RecordedEvent,
} from "@relata/domain"
import { type CommandFields, customerCommand } from "@relata/domain/testing"
import { headsDigest, verifyCustomer, verifyStore } from "@relata/projections"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { eur, source } from "./support/customers.ts"

/** A fresh SQLite file, its folder removed after the store has closed (finalizers run in reverse). */
const freshFile = Effect.acquireRelease(
  Effect.sync(() => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-audit-")), "events.sqlite")),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

const a = CustomerId.make("a")
const b = CustomerId.make("b")
const c = CustomerId.make("c")
const day = (d: number) => new Date(Date.UTC(2024, 4, d, 9)).toISOString()

/**
 * Three customers whose events interleave, written through the real Customer command handler on a
 * SQLite event store with snapshots. customer-b: v1 registered, v2 qualified, v3 converted (500.00
 * EUR), v4 a purchase, v5 a follow-up.
 */
const aSqliteStore = Effect.gen(function* () {
  const file = yield* freshFile
  const services = yield* Layer.build(
    CustomerCommandHandler.layer().pipe(
      Layer.provideMerge(SqliteEventStore.layerWithSnapshots({ path: file })),
    ),
  )
  const store = Context.get(services, EventStore)
  const handler = Context.get(services, CustomerCommandHandler)
  let sent = 0
  const send = <T extends CustomerCommandType>(
    customerId: CustomerId,
    issuedAt: string,
    type: T,
    fields: CommandFields<T>,
    envelope: Partial<CommandEnvelope> = {},
  ) =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse(issuedAt))
      sent++
      return yield* handler.handle(
        customerCommand(type, fields, {
          commandId: CommandId.make(`command-${sent}`),
          customerId,
          issuedAt: Instant.make(issuedAt),
          ...envelope,
        }),
      )
    })
  const owner = ActorId.make("rep-1")
  for (const [i, id] of [a, b, c].entries()) {
    yield* send(id, day(1 + i), "RegisterLead", { profile: { name: `Customer ${id}` }, source, owner })
  }
  for (const [i, id] of [a, b, c].entries()) yield* send(id, day(4 + i), "QualifyLead", {})
  yield* send(b, day(7), "ConvertToCustomer", { firstPurchase: eur(50_000) })
  yield* send(a, day(8), "ConvertToCustomer", { firstPurchase: eur(1_000) })
  yield* send(b, day(9), "RecordPurchase", eur(2_000))
  yield* send(c, day(10), "MarkDealLost", { reason: "no budget" })
  const head = (yield* send(b, day(11), "RecordFollowUp", {
    channel: "visit",
    summary: "visit",
    outcome: "happy",
  })).position
  return { file, store, head }
})

/** A second connection to the file, as anyone with access to it has: the store does not see it coming. */
const behindTheStoresBack = <A>(file: string, edit: (db: DatabaseSync) => A) =>
  Effect.sync(() => {
    const db = new DatabaseSync(file)
    try {
      return edit(db)
    } finally {
      db.close()
    }
  })

const positionOf = (db: DatabaseSync, streamId: string, version: number): bigint =>
  BigInt(
    (
      db
        .prepare("SELECT position FROM events WHERE stream_id = ? AND version = ?")
        .get(streamId, version) as {
        position: number
      }
    ).position,
  )

const eventAt = (events: ReadonlyArray<RecordedEvent>, version: number): RecordedEvent => {
  const event = events.find((e) => e.version === version)
  if (event === undefined) throw new Error(`no event at version ${version}`)
  return event
}

/** Verifies a store that was intact before, edited at customer-b: both verifications name `link`, the digest moved. */
const expectBrokenAt = (
  store: EventStoreService,
  head: bigint,
  digestBefore: string,
  link: {
    readonly version: number
    readonly position: bigint
    readonly expected: string
    readonly actual: string | null
  },
  events: number,
) =>
  Effect.gen(function* () {
    const brokenLink = { streamId: "customer-b", ...link }
    expect(yield* verifyCustomer(store, b)).toMatchObject({ ok: false, streamId: "customer-b", brokenLink })
    expect((yield* verifyCustomer(store, a)).ok).toBe(true)
    expect((yield* verifyCustomer(store, c)).ok).toBe(true)
    expect(yield* verifyStore(store)).toEqual({
      ok: false,
      atPosition: head,
      streams: 3,
      events,
      broken: [brokenLink],
    })
    const digest = yield* headsDigest(store, { atPosition: head })
    expect(digest.brokenStreams).toBe(1)
    expect(digest.digest).not.toBe(digestBefore)
  })

/** The file before any edit: every chain holds, and the digest an auditor would record. */
const recordIntact = (store: EventStoreService, head: bigint) =>
  Effect.gen(function* () {
    expect(yield* verifyStore(store)).toEqual({
      ok: true,
      atPosition: head,
      streams: 3,
      events: 11,
      broken: [],
    })
    const recorded = yield* headsDigest(store)
    expect(recorded).toMatchObject({ atPosition: head, streams: 3, events: 11, brokenStreams: 0 })
    // Recomputed later, unchanged.
    expect(yield* headsDigest(store, { atPosition: head })).toEqual(recorded)
    return { digest: recorded.digest, intact: yield* store.readStream("customer-b") }
  })

describe("AuditTrail tamper evidence on a SQLite file", () => {
  it.effect("finds a stored event whose data bytes were changed behind the store's back", () =>
    Effect.gen(function* () {
      const { file, store, head } = yield* aSqliteStore
      const { digest, intact } = yield* recordIntact(store, head)
      const position = yield* behindTheStoresBack(file, (db) => {
        const { data } = db
          .prepare("SELECT data FROM events WHERE stream_id = 'customer-b' AND version = 3")
          .get() as { data: string }
        expect(data).toContain('"amountMinor":50000')
        db.prepare("UPDATE events SET data = ? WHERE stream_id = 'customer-b' AND version = 3").run(
          data.replace('"amountMinor":50000', '"amountMinor":5000'),
        )
        return positionOf(db, "customer-b", 3)
      })
      const now = yield* store.readStream("customer-b")
      // The store serves the edited event as if nothing happened.
      expect(eventAt(now, 3).data).toMatchObject({ firstPurchase: { amount: { amountMinor: 5_000 } } })
      yield* expectBrokenAt(
        store,
        head,
        digest,
        {
          version: 3,
          position,
          expected: chainHash(hashOf(eventAt(intact, 2)) as string, canonicalEvent(eventAt(now, 3))),
          actual: hashOf(eventAt(intact, 3)) ?? null,
        },
        11,
      )
    }),
  )

  it.effect("finds a deleted event at the first link after it", () =>
    Effect.gen(function* () {
      const { file, store, head } = yield* aSqliteStore
      const { digest, intact } = yield* recordIntact(store, head)
      const position = yield* behindTheStoresBack(file, (db) => {
        db.prepare("DELETE FROM events WHERE stream_id = 'customer-b' AND version = 3").run()
        return positionOf(db, "customer-b", 4)
      })
      yield* expectBrokenAt(
        store,
        head,
        digest,
        {
          version: 4,
          position,
          expected: chainHash(hashOf(eventAt(intact, 2)) as string, canonicalEvent(eventAt(intact, 4))),
          actual: hashOf(eventAt(intact, 4)) ?? null,
        },
        10,
      )
    }),
  )

  it.effect("finds a reordered pair, whether the rows swapped their contents or their versions", () =>
    Effect.gen(function* () {
      for (const how of ["contents", "versions"] as const) {
        const { file, store, head } = yield* aSqliteStore
        const { digest, intact } = yield* recordIntact(store, head)
        const third = eventAt(intact, 3)
        const fourth = eventAt(intact, 4)
        yield* behindTheStoresBack(file, (db) => {
          db.exec("BEGIN")
          if (how === "contents") {
            const update = db.prepare(
              `UPDATE events SET event_id = ?, type = ?, schema_version = ?, data = ?, metadata = ?
                WHERE stream_id = 'customer-b' AND version = ?`,
            )
            const row = (event: RecordedEvent) =>
              [
                event.eventId,
                event.type,
                event.schemaVersion,
                JSON.stringify(event.data),
                JSON.stringify(event.metadata),
              ] as const
            update.run("parked", "", 0, "{}", "{}", 3) // event ids are unique within a stream: park one first
            update.run(...row(third), 4)
            update.run(...row(fourth), 3)
          } else {
            const move = db.prepare(
              "UPDATE events SET version = ? WHERE stream_id = 'customer-b' AND version = ?",
            )
            move.run(1_000, 3)
            move.run(3, 4)
            move.run(4, 1_000)
          }
          db.exec("COMMIT")
        })
        const now = yield* store.readStream("customer-b")
        // Version 3 now holds the purchase; where it sits in the global order depends on the edit.
        expect(eventAt(now, 3).type).toBe("PurchaseRecorded")
        yield* expectBrokenAt(
          store,
          head,
          digest,
          {
            version: 3,
            position: how === "contents" ? third.position : fourth.position,
            expected: chainHash(hashOf(eventAt(intact, 2)) as string, canonicalEvent(eventAt(now, 3))),
            actual: hashOf(fourth) ?? null,
          },
          11,
        )
      }
    }),
  )

  it.effect("shows a cut-off newest event only in the digest: every chain still holds", () =>
    Effect.gen(function* () {
      const { file, store, head } = yield* aSqliteStore
      const { digest } = yield* recordIntact(store, head)
      yield* behindTheStoresBack(file, (db) => {
        db.prepare("DELETE FROM events WHERE stream_id = 'customer-b' AND version = 5").run()
      })
      expect((yield* verifyCustomer(store, b)).ok).toBe(true)
      expect((yield* verifyStore(store)).ok).toBe(true)
      // The head went back with the deleted event: recompute at the position the auditor recorded.
      const later = yield* headsDigest(store, { atPosition: head })
      expect(later.digest).not.toBe(digest)
      expect(later).toMatchObject({ atPosition: head - 1n, brokenStreams: 0 })
    }),
  )
})
