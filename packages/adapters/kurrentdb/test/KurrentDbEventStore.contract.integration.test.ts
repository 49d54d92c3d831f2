/**
 * The shared EventStore contract against a real KurrentDB (or EventStoreDB 22.10+) server, when
 * KURRENTDB_CONNECTION_STRING names one:
 *
 *   KURRENTDB_CONNECTION_STRING="kurrentdb://localhost:2113?tls=false" npm run test:kurrentdb
 *
 * Each test gets a fresh, empty store: a namespace of its own on the shared server, so the run
 * needs no clean server and leaves other data alone (its streams stay; see docs/operations/kurrentdb.md).
 * Without the variable the suite is skipped, loudly: no server can run where our CI runs.
 */
import { randomUUID } from "node:crypto"
import { KurrentDbEventStore } from "@relata/adapter-kurrentdb"
import { ExpectedVersion } from "@relata/domain"
import { eventStoreContract } from "@relata/domain/testing"
import { Effect, Redacted, Stream } from "effect"
import { describe, expect, it } from "vitest"

const connectionString = process.env.KURRENTDB_CONNECTION_STRING
const skipped = connectionString === undefined || connectionString.trim() === ""

if (skipped) {
  const line = "!".repeat(100)
  console.warn(
    `\n${line}\n!! SKIPPED the KurrentDB contract run: KURRENTDB_CONNECTION_STRING is not set.\n` +
      `!! Run it against a server with: KURRENTDB_CONNECTION_STRING="kurrentdb://localhost:2113?tls=false" npm run test:kurrentdb\n` +
      `!! (docs/operations/kurrentdb.md starts one with Docker Compose)\n${line}\n`,
  )
}

const open = (namespace: string) =>
  KurrentDbEventStore.make({
    connectionString: Redacted.make(connectionString ?? ""),
    namespace,
  })

describe.skipIf(skipped)("KurrentDbEventStore against a live server", () => {
  eventStoreContract(
    "contract",
    () => open(`contract-${randomUUID()}`),
    // Events on the server are immutable: there is no way to change one behind the store's back.
    { tamper: false, waitMs: 20_000 },
  )

  it("keeps namespaces apart on one server", () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const run = randomUUID()
          const left = yield* open(`left-${run}`)
          const right = yield* open(`right-${run}`)
          const event = { eventId: randomUUID(), type: "NoteAdded", schemaVersion: 1, data: {}, metadata: {} }
          yield* left.append("customer-1", [event], ExpectedVersion.noStream)
          expect(yield* right.readStream("customer-1")).toEqual([])
          expect(yield* Stream.runCollect(right.readAll())).toEqual([])
          expect(yield* right.headPosition).toBe(0n)
        }),
      ),
    ))

  it("writes two streams atomically where the server has multiStreamAppend, else one after the other", () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const store = yield* open(`many-${randomUUID()}`)
          const newEvent = () => ({
            eventId: randomUUID(),
            type: "OwnerChanged",
            schemaVersion: 1,
            data: {},
            metadata: { by: "user-1" },
          })
          const result = yield* store.appendMany([
            { streamId: "customer-1", events: [newEvent()], expected: ExpectedVersion.noStream },
            { streamId: "customer-2", events: [newEvent()], expected: ExpectedVersion.noStream },
          ])
          const capability = yield* store.supportsMultiStreamAppend
          expect(result.atomic).toBe(capability === "supported")
          expect(result.streams.map((stream) => stream.streamVersion)).toEqual([1, 1])
          const [read] = yield* store.readStream("customer-2")
          expect(read?.metadata).toEqual({ by: "user-1" })
        }),
      ),
    ))
})
