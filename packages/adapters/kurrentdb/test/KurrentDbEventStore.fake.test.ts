/**
 * The shared contract through the adapter on a fake KurrentDB (test/support/FakeKurrentDb.ts):
 * it proves the adapter's own logic (mappings, paging, de-duplication, empty appends, filters,
 * namespaces, reconnecting subscriptions) without a server. The contract against a real server
 * is KurrentDbEventStore.contract.integration.test.ts.
 */
import { randomUUID } from "node:crypto"
import { KurrentDbEventStore } from "@relata/adapter-kurrentdb"
import { type EventToAppend, ExpectedVersion } from "@relata/domain"
import { eventStoreContract, type TamperWithEvent } from "@relata/domain/testing"
import { Effect } from "effect"
import { describe } from "vitest"
import { FakeKurrentDb } from "./support/FakeKurrentDb.ts"

const tamperOn =
  (fake: FakeKurrentDb, prefix: string): TamperWithEvent =>
  (target, replacement) =>
    Effect.sync(() => fake.tamper(`${prefix}${target.streamId}`, BigInt(target.version - 1), replacement))

const noise = (type: string): EventToAppend => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  data: { noise: true },
  metadata: {},
})

describe("KurrentDbEventStore on a fake KurrentDB", () => {
  eventStoreContract("one store per server", () =>
    Effect.gen(function* () {
      const fake = new FakeKurrentDb({ firstPosition: 2n ** 60n })
      const store = yield* KurrentDbEventStore.fromClient(fake.client, { batchSize: 7 })
      return { store, tamper: tamperOn(fake, "") }
    }),
  )

  // Many stores on one server, kept apart by namespaces; other namespaces write all along.
  const shared = new FakeKurrentDb()
  eventStoreContract("namespaced stores sharing a server", () =>
    Effect.gen(function* () {
      const namespace = `contract-${randomUUID().slice(0, 8)}`
      const neighbour = yield* KurrentDbEventStore.fromClient(shared.client, { namespace: `${namespace}x` })
      yield* neighbour.append("customer-1", [noise("NoteAdded"), noise("TierChanged")], ExpectedVersion.any)
      const store = yield* KurrentDbEventStore.fromClient(shared.client, { namespace, batchSize: 5 })
      return { store, tamper: tamperOn(shared, `${namespace}:`) }
    }),
  )
})
