import { describe, expect, it } from "@effect/vitest"
import {
  type EventStoreService,
  type EventToAppend,
  ExpectedVersion,
  makeInMemoryEventStore,
  type RecordedEvent,
  StoreUnavailable,
} from "@relata/domain"
import { makeSharedCatchUp } from "@relata/projections"
import { Deferred, Effect, Fiber, Result, Stream } from "effect"

const event = (): EventToAppend => ({
  eventId: crypto.randomUUID(),
  type: "Counted",
  schemaVersion: 1,
  data: {},
  metadata: {},
})

/** An in-memory store of `n` events whose readAll calls are counted, and can be held or failed. */
const storeOf = (n: number) =>
  Effect.gen(function* () {
    const events = makeInMemoryEventStore()
    for (let i = 0; i < n; i++) yield* events.append(`s-${i % 3}`, [event()], ExpectedVersion.any)
    const control = {
      reads: 0,
      /** While set, each read waits for it. */
      hold: undefined as Deferred.Deferred<void> | undefined,
      /** Reads that fail, from the next one on. */
      failures: 0,
    }
    const store: EventStoreService = {
      ...events,
      readAll: (options) => {
        control.reads++
        const failing = control.failures > 0
        if (failing) control.failures--
        const read = failing
          ? Stream.fail(new StoreUnavailable({ reason: "connection lost", retryable: true }))
          : events.readAll(options)
        const hold = control.hold
        return hold === undefined ? read : Stream.unwrap(Effect.as(Deferred.await(hold), read))
      },
    }
    return { store, control }
  })

const positions = (batch: ReadonlyArray<RecordedEvent>) => batch.map((e) => Number(e.position))

describe("SharedCatchUp", () => {
  it.effect("reads a batch once for the readers at one position, and apart for readers elsewhere", () =>
    Effect.gen(function* () {
      const { store, control } = yield* storeOf(25)
      const shared = makeSharedCatchUp(store, 10)
      const [a, b, c] = [{}, {}, {}]
      const first = yield* shared.read(a, 0n)
      expect(positions(first)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(yield* shared.read(b, 0n)).toBe(first)
      expect(control.reads).toBe(1)
      expect(positions(yield* shared.read(c, 20n))).toEqual([21, 22, 23, 24, 25])
      expect(control.reads).toBe(2)
      // Every reader that might want the first batch has passed it: a reader arriving late reads it again.
      yield* shared.read(a, 10n)
      yield* shared.read(b, 10n)
      shared.leave(c)
      expect(yield* shared.read({}, 0n)).not.toBe(first)
      expect(control.reads).toBe(4)
    }),
  )

  it.effect("a reader interrupted while others wait for its batch leaves them to read it themselves", () =>
    Effect.gen(function* () {
      const { store, control } = yield* storeOf(25)
      const shared = makeSharedCatchUp(store, 10)
      control.hold = Deferred.makeUnsafe<void>()
      const leader = yield* Effect.forkChild(shared.read({}, 0n))
      yield* Effect.yieldNow
      const follower = yield* Effect.forkChild(shared.read({}, 0n))
      yield* Effect.yieldNow
      expect(control.reads).toBe(1)
      yield* Fiber.interrupt(leader)
      yield* Deferred.succeed(control.hold, undefined)
      expect(positions(yield* Fiber.join(follower))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(control.reads).toBe(2)
    }),
  )

  it.effect("a failed read reaches every reader waiting for it and is not kept", () =>
    Effect.gen(function* () {
      const { store, control } = yield* storeOf(25)
      const shared = makeSharedCatchUp(store, 10)
      control.hold = Deferred.makeUnsafe<void>()
      control.failures = 1
      const leader = yield* Effect.forkChild(shared.read({}, 0n))
      yield* Effect.yieldNow
      const follower = yield* Effect.forkChild(shared.read({}, 0n))
      yield* Effect.yieldNow
      yield* Deferred.succeed(control.hold, undefined)
      const failures = yield* Effect.all([Effect.flip(Fiber.join(leader)), Effect.flip(Fiber.join(follower))])
      expect(failures.map((f) => f.reason)).toEqual(["connection lost", "connection lost"])
      control.hold = undefined
      expect(positions(yield* shared.read({}, 0n))).toHaveLength(10)
      expect(control.reads).toBe(2)
    }),
  )

  it.effect("keeps at most four batches, however far apart the readers are", () =>
    Effect.gen(function* () {
      const { store, control } = yield* storeOf(100)
      const shared = makeSharedCatchUp(store, 10)
      const readers = Array.from({ length: 6 }, () => ({}))
      for (const [i, reader] of readers.entries()) yield* shared.read(reader, BigInt(i * 10))
      expect(control.reads).toBe(6)
      // The two lowest went; the four highest are still shared.
      yield* shared.read({}, 50n)
      yield* shared.read({}, 20n)
      expect(control.reads).toBe(6)
      yield* shared.read({}, 0n)
      expect(control.reads).toBe(7)
    }),
  )

  it.effect("decodes an event once per decoder", () =>
    Effect.gen(function* () {
      const { store } = yield* storeOf(3)
      const shared = makeSharedCatchUp(store, 10)
      const batch = yield* shared.read({}, 0n)
      let calls = 0
      const decoder = (recorded: RecordedEvent) => {
        calls++
        return Result.succeed(recorded.position)
      }
      for (const recorded of batch) {
        expect(shared.decode(decoder, recorded)).toEqual(shared.decode(decoder, recorded))
      }
      expect(calls).toBe(3)
      const throwing = () => {
        throw new Error("unreadable")
      }
      expect(Result.isFailure(shared.decode(throwing, batch[0] as RecordedEvent))).toBe(true)
    }),
  )
})
