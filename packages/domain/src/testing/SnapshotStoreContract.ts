/**
 * The shared contract every SnapshotStore adapter runs: what the command handler relies on when it
 * loads a snapshot instead of a whole stream.
 */
import { Effect, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import type { Snapshot, SnapshotStoreService } from "../SnapshotStore.ts"

/** Gives a fresh, empty snapshot store for one test; scoped resources are released after it. */
export type AcquireSnapshotStore = () => Effect.Effect<SnapshotStoreService, unknown, Scope.Scope>

const snapshot = (overrides: Partial<Snapshot> = {}): Snapshot => ({
  streamId: "customer-1",
  version: 10,
  stateSchemaVersion: 1,
  state: { status: "registered", name: "客户 Acme ✓", nested: { list: [1, 2.5, null, true, "x"] } },
  ...overrides,
})

/** Runs the SnapshotStore contract against the store `acquire` gives, a fresh one per test. */
export const snapshotStoreContract = (name: string, acquire: AcquireSnapshotStore): void => {
  const test = (title: string, body: (store: SnapshotStoreService) => Effect.Effect<void, unknown>): void => {
    it(title, () => Effect.runPromise(Effect.scoped(Effect.flatMap(acquire(), body))))
  }

  describe(`${name} satisfies the SnapshotStore contract`, () => {
    test("loads nothing for a stream without a snapshot", (store) =>
      Effect.gen(function* () {
        expect(yield* store.load("customer-1", 1)).toBeUndefined()
      }))

    test("round-trips a snapshot exactly, unicode and nested JSON included", (store) =>
      Effect.gen(function* () {
        yield* store.save(snapshot())
        expect(yield* store.load("customer-1", 1)).toEqual(snapshot())
        expect(yield* store.load("customer-2", 1)).toBeUndefined()
      }))

    test("keeps the newest version and never goes back to an older one", (store) =>
      Effect.gen(function* () {
        yield* store.save(snapshot({ version: 10 }))
        yield* store.save(snapshot({ version: 30, state: { at: 30 } }))
        yield* store.save(snapshot({ version: 20, state: { at: 20 } }))
        expect(yield* store.load("customer-1", 1)).toEqual(snapshot({ version: 30, state: { at: 30 } }))
      }))

    test("keeps snapshots of different state schema versions apart", (store) =>
      Effect.gen(function* () {
        yield* store.save(snapshot({ stateSchemaVersion: 1, version: 40, state: { shape: 1 } }))
        yield* store.save(snapshot({ stateSchemaVersion: 2, version: 10, state: { shape: 2 } }))
        expect((yield* store.load("customer-1", 1))?.state).toEqual({ shape: 1 })
        expect((yield* store.load("customer-1", 2))?.state).toEqual({ shape: 2 })
        expect(yield* store.load("customer-1", 3)).toBeUndefined()
      }))

    test("holds a large state", (store) =>
      Effect.gen(function* () {
        const contacts = Array.from({ length: 2_000 }, (_, n) => ({ id: `contact-${n}`, name: `Name ${n}` }))
        yield* store.save(snapshot({ state: { contacts } }))
        expect((yield* store.load("customer-1", 1))?.state).toEqual({ contacts })
      }))
  })
}
