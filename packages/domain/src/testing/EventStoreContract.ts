/**
 * The contract every EventStore adapter passes. An adapter's test file calls `eventStoreContract`
 * once; each test gets a fresh, empty store from `acquire` and releases it when done.
 */
import { Buffer } from "node:buffer"
import { randomUUID } from "node:crypto"
import { Context, Effect, Fiber, Layer, Result, type Scope, Stream } from "effect"
import { assert, describe, expect, it } from "vitest"
import { canonicalJson } from "../CanonicalJson.ts"
import {
  type AppendResult,
  type EventFilter,
  EventStore,
  type EventStoreService,
  type EventToAppend,
  ExpectedVersion,
  type GlobalPosition,
  type JsonObject,
  type RecordedEvent,
  StartOfStore,
  type StoreUnavailable,
  type StreamVersion,
  type WrongExpectedVersion,
} from "../EventStore.ts"
import { chainTipOf, verifyStreamChain, withChainHashes } from "../HashChain.ts"

/**
 * Overwrites fields of one stored event behind the store's back (an UPDATE on its row, say), as
 * someone with access to the storage could. Optional: with it, the contract checks that the hash
 * chain detects the change.
 */
export type TamperWithEvent = (
  target: { readonly streamId: string; readonly version: StreamVersion },
  replacement: { readonly type?: string; readonly data?: JsonObject; readonly metadata?: JsonObject },
) => Effect.Effect<void, unknown> | Promise<void>

/** A subscription running in the background and what it has delivered so far. */
interface Subscription {
  readonly seen: ReadonlyArray<RecordedEvent>
  readonly fiber: Fiber.Fiber<void, StoreUnavailable>
}

/** A store under test with what the contract may need besides the port. */
export interface EventStoreUnderTest {
  readonly store: EventStoreService
  readonly tamper?: TamperWithEvent
  /** Runs after the test; scoped effects and layers may release through their scope instead. */
  readonly close?: () => Effect.Effect<void, unknown> | Promise<void>
}

/**
 * Makes a fresh, empty store for one test, in any of three shapes: a scoped effect (released when the
 * test ends), a layer providing `EventStore` (built per test), or a promise (with `close` to release).
 */
export type AcquireEventStore = () =>
  | Effect.Effect<EventStoreService | EventStoreUnderTest, unknown, Scope.Scope>
  | Layer.Layer<EventStore, unknown>
  | Promise<EventStoreService | EventStoreUnderTest>

export interface EventStoreContractOptions {
  /** How long a subscription may take to deliver what is expected. Default 10,000 ms. */
  readonly waitMs?: number
  /** How long to keep listening after that, to catch a duplicate or an extra event. Default 250 ms. */
  readonly settleMs?: number
  /**
   * False when the store gives no way to change a stored event behind its back (KurrentDB's events
   * are immutable on the server): the tamper test is then not registered. Otherwise `acquire` must
   * return a `tamper` function, and the test fails without one.
   */
  readonly tamper?: boolean
}

/**
 * Registers the EventStore contract suite with vitest under `describe(name)`. In an adapter's test file:
 *
 *   eventStoreContract("SqliteEventStore", () => SqliteEventStore.make({ path: freshFile() }))
 *   eventStoreContract("InMemoryEventStore.layer", () => InMemoryEventStore.layer)
 *   eventStoreContract("X", async () => ({ store: await openX(), close: () => x.end(), tamper }))
 */
export const eventStoreContract = (
  name: string,
  acquire: AcquireEventStore,
  options: EventStoreContractOptions = {},
): void => {
  const waitMs = options.waitMs ?? 10_000
  const settleMs = options.settleMs ?? 250

  const acquireSubject: Effect.Effect<EventStoreUnderTest, unknown, Scope.Scope> = Effect.gen(function* () {
    const made = acquire()
    const acquired: EventStoreService | EventStoreUnderTest = Layer.isLayer(made)
      ? Context.get(yield* Layer.build(made as Layer.Layer<EventStore, unknown>), EventStore)
      : Effect.isEffect(made)
        ? yield* made
        : yield* Effect.promise(() => made as Promise<EventStoreService | EventStoreUnderTest>)
    const subject: EventStoreUnderTest = "append" in acquired ? { store: acquired } : acquired
    const close = subject.close
    if (close !== undefined) yield* Effect.addFinalizer(() => Effect.orDie(effectOf(close())))
    return subject
  })

  /** One test on a fresh store; the body's effect runs scoped, so forked subscriptions end with it. */
  const test = (
    title: string,
    body: (subject: EventStoreUnderTest) => Effect.Effect<void, unknown, Scope.Scope>,
  ): void => {
    it(title, () => Effect.runPromise(Effect.scoped(Effect.flatMap(acquireSubject, body))))
  }

  /** Subscribes in the background, recording what it delivers. */
  const listen = (
    stream: Stream.Stream<RecordedEvent, StoreUnavailable>,
  ): Effect.Effect<Subscription, never, Scope.Scope> =>
    Effect.gen(function* () {
      const seen: Array<RecordedEvent> = []
      const fiber = yield* Effect.forkScoped(
        Stream.runForEach(stream, (event) => Effect.sync(() => seen.push(event))),
      )
      return { seen, fiber }
    })

  /**
   * Waits until a subscription has delivered `count` events, listens `settleMs` more to catch
   * duplicates, and returns all it delivered. Fails if it errs, ends or falls short in time.
   */
  const delivered = (subscription: Subscription, count: number) =>
    Effect.gen(function* () {
      const reached = waitUntil(() => subscription.seen.length >= count)
      const ended = Effect.andThen(
        Fiber.join(subscription.fiber),
        Effect.die(new Error("the subscription ended")),
      )
      yield* Effect.raceFirst(reached, ended).pipe(
        Effect.timeoutOrElse({
          duration: waitMs,
          orElse: () =>
            Effect.die(
              new Error(
                `the subscription delivered ${subscription.seen.length} of ${count} events in ${waitMs} ms`,
              ),
            ),
        }),
      )
      yield* Effect.raceFirst(Effect.sleep(settleMs), ended)
      return [...subscription.seen]
    })

  const waitUntil = (condition: () => boolean): Effect.Effect<void> =>
    Effect.suspend(() => (condition() ? Effect.void : Effect.andThen(Effect.sleep(2), waitUntil(condition))))

  const waitFor = (condition: () => boolean, what: string): Effect.Effect<void> =>
    waitUntil(condition).pipe(
      Effect.timeoutOrElse({
        duration: waitMs,
        orElse: () => Effect.die(new Error(`timed out waiting for ${what}`)),
      }),
    )

  describe(name, () => {
    describe("append and expected versions", () => {
      test("NoStream creates a stream whose versions start at 1; the events read back as written", ({
        store,
      }) =>
        Effect.gen(function* () {
          const written = [newEvent("LeadCaptured"), newEvent("LeadQualified"), newEvent("AccountOpened")]
          const result = yield* store.append("customer-1", written, ExpectedVersion.noStream)
          const read = yield* store.readStream("customer-1")
          expect(read.map((event) => event.version)).toEqual([1, 2, 3])
          expect(read.map(({ position: _, ...event }) => event)).toEqual(
            written.map((event, index) => ({ ...event, streamId: "customer-1", version: index + 1 })),
          )
          for (const event of read) expect(typeof event.position).toBe("bigint")
          expect(read[0]?.position).toBeGreaterThan(StartOfStore)
          expectStrictlyIncreasing(read.map((event) => event.position))
          expect(result).toEqual({ streamVersion: 3, position: read[2]?.position })
        }))

      test("NoStream on an existing stream is rejected with the stream's real version", ({ store }) =>
        Effect.gen(function* () {
          yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
          yield* expectRejected(store.append("customer-1", newEvents(1), ExpectedVersion.noStream), {
            streamId: "customer-1",
            expected: "no stream",
            actual: 2,
          })
        }))

      test("StreamExists is rejected for a missing stream and accepted for an existing one", ({ store }) =>
        Effect.gen(function* () {
          yield* expectRejected(store.append("customer-1", newEvents(1), ExpectedVersion.streamExists), {
            streamId: "customer-1",
            expected: "stream exists",
            actual: 0,
          })
          yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
          const result = yield* store.append("customer-1", newEvents(1), ExpectedVersion.streamExists)
          expect(result.streamVersion).toBe(3)
          expect(yield* versionsOf(store, "customer-1")).toEqual([1, 2, 3])
        }))

      test("Any appends to a missing or an existing stream", ({ store }) =>
        Effect.gen(function* () {
          expect((yield* store.append("customer-1", newEvents(2), ExpectedVersion.any)).streamVersion).toBe(2)
          expect((yield* store.append("customer-1", newEvents(1), ExpectedVersion.any)).streamVersion).toBe(3)
          expect(yield* versionsOf(store, "customer-1")).toEqual([1, 2, 3])
        }))

      test("Exact accepts the current version, and Exact(0) a missing stream", ({ store }) =>
        Effect.gen(function* () {
          expect(
            (yield* store.append("customer-1", newEvents(2), ExpectedVersion.exact(0))).streamVersion,
          ).toBe(2)
          expect(
            (yield* store.append("customer-1", newEvents(3), ExpectedVersion.exact(2))).streamVersion,
          ).toBe(5)
          expect(
            (yield* store.append("customer-1", newEvents(1), ExpectedVersion.exact(5))).streamVersion,
          ).toBe(6)
          expect(yield* versionsOf(store, "customer-1")).toEqual([1, 2, 3, 4, 5, 6])
        }))

      test("Exact behind or ahead of the stream is rejected with its real version", ({ store }) =>
        Effect.gen(function* () {
          yield* store.append("customer-1", newEvents(3), ExpectedVersion.noStream)
          for (const [expected, actual, streamId] of [
            [2, 3, "customer-1"],
            [0, 3, "customer-1"],
            [4, 3, "customer-1"],
            [7, 3, "customer-1"],
            [1, 0, "customer-2"],
          ] as const) {
            yield* expectRejected(store.append(streamId, newEvents(1), ExpectedVersion.exact(expected)), {
              streamId,
              expected: String(expected),
              actual,
            })
          }
          expect(yield* versionsOf(store, "customer-1")).toEqual([1, 2, 3])
          expect(yield* store.readStream("customer-2")).toEqual([])
        }))

      test("a rejected append leaves no trace: nothing is written and the next append at the right version succeeds", ({
        store,
      }) =>
        Effect.gen(function* () {
          yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
          yield* store.append("customer-2", newEvents(1), ExpectedVersion.noStream)
          const before = yield* snapshot(store, "customer-1")
          const rejected = newEvents(3, "NoteAdded")
          yield* expectRejected(store.append("customer-1", rejected, ExpectedVersion.exact(1)), {
            streamId: "customer-1",
            expected: "1",
            actual: 2,
          })
          yield* expectRejected(store.append("customer-1", rejected, ExpectedVersion.noStream), {
            streamId: "customer-1",
            expected: "no stream",
            actual: 2,
          })
          expect(yield* snapshot(store, "customer-1")).toEqual(before)
          // The same events (same ids) go through at the right version: the rejected tries left nothing behind.
          const result = yield* store.append("customer-1", rejected, ExpectedVersion.exact(2))
          const after = yield* store.readStream("customer-1")
          expect(after.map((event) => event.version)).toEqual([1, 2, 3, 4, 5])
          expect(after.slice(2).map((event) => event.eventId)).toEqual(rejected.map((event) => event.eventId))
          expect(after[2]?.position).toBeGreaterThan(before.head)
          expect(result).toEqual({ streamVersion: 5, position: after[4]?.position })
          expect(yield* store.headPosition).toBe(result.position)
        }))

      test("an empty append only checks the expectation and writes nothing", ({ store }) =>
        Effect.gen(function* () {
          expect(yield* store.append("customer-1", [], ExpectedVersion.noStream)).toEqual({
            streamVersion: 0,
            position: StartOfStore,
          })
          expect(yield* store.headPosition).toBe(StartOfStore)
          yield* expectRejected(store.append("customer-1", [], ExpectedVersion.streamExists), {
            streamId: "customer-1",
            expected: "stream exists",
            actual: 0,
          })
          // The empty append did not create the stream: NoStream still holds.
          yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
          yield* store.append("customer-2", newEvents(1), ExpectedVersion.noStream)
          const before = yield* snapshot(store, "customer-1")
          const last = before.stream[1]
          expect(yield* store.append("customer-1", [], ExpectedVersion.exact(2))).toEqual({
            streamVersion: 2,
            position: last?.position,
          })
          expect(yield* store.append("customer-1", [], ExpectedVersion.any)).toEqual({
            streamVersion: 2,
            position: last?.position,
          })
          yield* expectRejected(store.append("customer-1", [], ExpectedVersion.exact(1)), {
            streamId: "customer-1",
            expected: "1",
            actual: 2,
          })
          expect(yield* snapshot(store, "customer-1")).toEqual(before)
        }))
    })

    describe("concurrent appends", () => {
      test("of 20 appends expecting the same version, exactly one wins and the others see its version", ({
        store,
      }) =>
        Effect.gen(function* () {
          yield* store.append("customer-1", newEvents(3), ExpectedVersion.noStream)
          const batches = Array.from({ length: 20 }, () => newEvents(2))
          const results = yield* Effect.forEach(
            batches,
            (batch) => Effect.result(store.append("customer-1", batch, ExpectedVersion.exact(3))),
            { concurrency: "unbounded" },
          )
          const winners = results.flatMap((result, index) => (Result.isSuccess(result) ? [index] : []))
          expect(winners).toHaveLength(1)
          const winner = winners[0] as number
          expect(results[winner]).toMatchObject({ success: { streamVersion: 5 } })
          for (const result of results) {
            if (Result.isFailure(result)) {
              expect(errorFields(result.failure)).toEqual({
                _tag: "WrongExpectedVersion",
                streamId: "customer-1",
                expected: "3",
                actual: 5,
              })
            }
          }
          const stream = yield* store.readStream("customer-1")
          expect(stream.map((event) => event.version)).toEqual([1, 2, 3, 4, 5])
          expect(stream.slice(3).map((event) => event.eventId)).toEqual(
            batches[winner]?.map((event) => event.eventId),
          )
          // The losers' events are nowhere in the store.
          expect(yield* idsOf(store.readAll())).toEqual(ids(stream))
        }))

      test("of 20 appends creating the same stream with NoStream, exactly one wins", ({ store }) =>
        Effect.gen(function* () {
          const results = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, index) => index),
            () => Effect.result(store.append("customer-1", newEvents(1), ExpectedVersion.noStream)),
            { concurrency: "unbounded" },
          )
          expect(results.filter(Result.isSuccess)).toHaveLength(1)
          for (const result of results) {
            if (Result.isFailure(result)) {
              expect(errorFields(result.failure)).toMatchObject({ expected: "no stream", actual: 1 })
            }
          }
          expect(yield* versionsOf(store, "customer-1")).toEqual([1])
        }))

      test("appends with Any all land, each batch whole and unmixed, versions contiguous", ({ store }) =>
        Effect.gen(function* () {
          const batches = Array.from({ length: 20 }, () => newEvents(3))
          const results = yield* Effect.forEach(
            batches,
            (batch) => store.append("customer-1", batch, ExpectedVersion.any),
            { concurrency: "unbounded" },
          )
          const stream = yield* store.readStream("customer-1")
          expect(stream.map((event) => event.version)).toEqual(
            Array.from({ length: 60 }, (_, index) => index + 1),
          )
          expectStrictlyIncreasing(stream.map((event) => event.position))
          batches.forEach((batch, index) => {
            const first = stream.findIndex((event) => event.eventId === batch[0]?.eventId)
            expect(stream.slice(first, first + 3).map((event) => event.eventId)).toEqual(
              batch.map((e) => e.eventId),
            )
            expect(results[index]).toEqual({
              streamVersion: first + 3,
              position: stream[first + 2]?.position,
            })
          })
        }))

      test("appends to many streams at once get distinct, increasing positions", ({ store }) =>
        Effect.gen(function* () {
          const streams = Array.from({ length: 10 }, (_, index) => `customer-${index + 1}`)
          const results = yield* Effect.forEach(
            streams,
            (streamId) =>
              Effect.forEach(
                Array.from({ length: 5 }, (_, index) => index),
                (index) => store.append(streamId, newEvents(2), ExpectedVersion.exact(index * 2)),
              ),
            { concurrency: "unbounded" },
          )
          const all = yield* Stream.runCollect(store.readAll())
          expect(all).toHaveLength(100)
          expectStrictlyIncreasing(all.map((event) => event.position))
          for (const streamId of streams) {
            const versions = all.filter((event) => event.streamId === streamId).map((event) => event.version)
            expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
          }
          const lastOfBatches = results.flat().map((result) => result.position)
          const positions = new Set(all.map((event) => event.position))
          for (const position of lastOfBatches) expect(positions.has(position)).toBe(true)
          expect(yield* store.headPosition).toBe(all[99]?.position)
        }))
      test("100 appends to distinct streams at once all land, each at its own versions and positions", ({
        store,
      }) =>
        Effect.gen(function* () {
          const appends = Array.from({ length: 100 }, (_, index) => ({
            streamId: `customer-${index + 1}`,
            events: newEvents(1 + (index % 3)),
          }))
          const results = yield* Effect.all(
            appends.map(({ streamId, events }) => store.append(streamId, events, ExpectedVersion.noStream)),
            { concurrency: "unbounded" },
          )
          const all = yield* Stream.runCollect(store.readAll())
          expect(all).toHaveLength(appends.reduce((sum, { events }) => sum + events.length, 0))
          expectStrictlyIncreasing(all.map((event) => event.position))
          appends.forEach(({ streamId, events }, index) => {
            const stored = all.filter((event) => event.streamId === streamId)
            expect(ids(stored)).toEqual(ids(events))
            expect(stored.map((event) => event.version)).toEqual(events.map((_, version) => version + 1))
            expect(results[index]).toEqual({
              streamVersion: events.length,
              position: stored[stored.length - 1]?.position,
            })
          })
          expect(yield* store.headPosition).toBe(all[all.length - 1]?.position)
        }))

      test("a burst mixing rejected and good appends stores exactly the good ones", ({ store }) =>
        Effect.gen(function* () {
          yield* store.append("customer-a", newEvents(2), ExpectedVersion.noStream)
          yield* store.append("customer-b", newEvents(2), ExpectedVersion.noStream)
          const before = yield* Stream.runCollect(store.readAll())
          type Planned = {
            readonly streamId: string
            readonly events: Array<EventToAppend>
            readonly expected: ExpectedVersion
            readonly rejectedWith?: { readonly expected: string; readonly actual: StreamVersion }
          }
          const good = (streamId: string, expected: ExpectedVersion): Planned => ({
            streamId,
            events: newEvents(2),
            expected,
          })
          const rejected = (
            streamId: string,
            expected: ExpectedVersion,
            rejectedWith: NonNullable<Planned["rejectedWith"]>,
          ): Planned => ({ streamId, events: newEvents(2), expected, rejectedWith })
          // Rejected appends go to streams no good append touches, so their outcome is the same in any order.
          const plan: Array<Planned> = [
            good("customer-1", ExpectedVersion.noStream),
            rejected("customer-a", ExpectedVersion.exact(1), { expected: "1", actual: 2 }),
            good("customer-b", ExpectedVersion.exact(2)),
            rejected("customer-missing", ExpectedVersion.streamExists, {
              expected: "stream exists",
              actual: 0,
            }),
            good("customer-2", ExpectedVersion.any),
            rejected("customer-a", ExpectedVersion.noStream, { expected: "no stream", actual: 2 }),
            good("customer-3", ExpectedVersion.exact(0)),
            rejected("customer-a", ExpectedVersion.exact(3), { expected: "3", actual: 2 }),
            good("customer-4", ExpectedVersion.noStream),
          ]
          const results = yield* Effect.all(
            plan.map(({ streamId, events, expected }) =>
              Effect.result(store.append(streamId, events, expected)),
            ),
            { concurrency: "unbounded" },
          )
          const all = yield* Stream.runCollect(store.readAll())
          const goodOnes = plan.filter((planned) => planned.rejectedWith === undefined)
          expect(new Set(ids(all))).toEqual(
            new Set([...ids(before), ...goodOnes.flatMap((planned) => ids(planned.events))]),
          )
          expect(all).toHaveLength(before.length + goodOnes.length * 2)
          expectStrictlyIncreasing(all.map((event) => event.position))
          plan.forEach((planned, index) => {
            const result = results[index]
            assert(result !== undefined)
            if (planned.rejectedWith !== undefined) {
              assert(Result.isFailure(result), `append ${index} to ${planned.streamId} should be rejected`)
              expect(errorFields(result.failure)).toEqual({
                _tag: "WrongExpectedVersion",
                streamId: planned.streamId,
                ...planned.rejectedWith,
              })
              return
            }
            assert(Result.isSuccess(result), `append ${index} to ${planned.streamId} should land`)
            const stored = all.filter((event) => planned.events.some((e) => e.eventId === event.eventId))
            expect(ids(stored)).toEqual(ids(planned.events))
            const last = stored[stored.length - 1]
            expect(result.success).toEqual({ streamVersion: last?.version, position: last?.position })
          })
          expect(yield* versionsOf(store, "customer-a")).toEqual([1, 2])
          expect(yield* versionsOf(store, "customer-b")).toEqual([1, 2, 3, 4])
          expect(yield* store.readStream("customer-missing")).toEqual([])
        }))
    })

    describe("global order", () => {
      test("positions increase in commit order across streams", ({ store }) =>
        Effect.gen(function* () {
          const plan = ["customer-1", "customer-2", "customer-1", "customer-3", "customer-2", "customer-1"]
          const written: Array<EventToAppend> = []
          const results: Array<AppendResult> = []
          for (const streamId of plan) {
            const batch = newEvents(2)
            results.push(yield* store.append(streamId, batch, ExpectedVersion.any))
            written.push(...batch)
          }
          const all = yield* Stream.runCollect(store.readAll())
          expect(all.map((event) => event.eventId)).toEqual(written.map((event) => event.eventId))
          expectStrictlyIncreasing(all.map((event) => event.position))
          expect(results.map((result) => result.position)).toEqual(
            all.filter((_, index) => index % 2 === 1).map((event) => event.position),
          )
        }))

      test("headPosition is StartOfStore when empty, then the position of the newest event", ({ store }) =>
        Effect.gen(function* () {
          expect(yield* store.headPosition).toBe(StartOfStore)
          const first = yield* store.append("customer-1", newEvents(2), ExpectedVersion.noStream)
          expect(yield* store.headPosition).toBe(first.position)
          const second = yield* store.append("customer-2", newEvents(3), ExpectedVersion.noStream)
          expect(second.position).toBeGreaterThan(first.position)
          expect(yield* store.headPosition).toBe(second.position)
          const all = yield* Stream.runCollect(store.readAll())
          expect(all.at(-1)?.position).toBe(second.position)
        }))
    })

    describe("readStream", () => {
      test("reads forwards from a version, with a limit", ({ store }) =>
        Effect.gen(function* () {
          yield* store.append("customer-1", newEvents(10), ExpectedVersion.noStream)
          const read = (options: Parameters<EventStoreService["readStream"]>[1]) =>
            Effect.map(store.readStream("customer-1", options), (events) =>
              events.map((event) => event.version),
            )
          expect(yield* read({})).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
          expect(yield* read({ direction: "forwards" })).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
          expect(yield* read({ from: 4 })).toEqual([4, 5, 6, 7, 8, 9, 10])
          expect(yield* read({ from: 4, limit: 3 })).toEqual([4, 5, 6])
          expect(yield* read({ limit: 2 })).toEqual([1, 2])
          expect(yield* read({ limit: 0 })).toEqual([])
          expect(yield* read({ from: 10 })).toEqual([10])
          expect(yield* read({ from: 11 })).toEqual([])
        }))

      test("reads backwards from the last event or from a version, with a limit", ({ store }) =>
        Effect.gen(function* () {
          yield* store.append("customer-1", newEvents(10), ExpectedVersion.noStream)
          const read = (options: Parameters<EventStoreService["readStream"]>[1]) =>
            Effect.map(store.readStream("customer-1", { direction: "backwards", ...options }), (events) =>
              events.map((event) => event.version),
            )
          expect(yield* read({})).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
          expect(yield* read({ from: 4 })).toEqual([4, 3, 2, 1])
          expect(yield* read({ limit: 3 })).toEqual([10, 9, 8])
          expect(yield* read({ from: 4, limit: 2 })).toEqual([4, 3])
          expect(yield* read({ from: 1 })).toEqual([1])
          expect(yield* read({ from: 100, limit: 2 })).toEqual([10, 9])
          expect(yield* read({ limit: 0 })).toEqual([])
        }))

      test("a missing stream reads as empty, and a stream never shows another's events", ({ store }) =>
        Effect.gen(function* () {
          expect(yield* store.readStream("customer-1")).toEqual([])
          expect(yield* store.readStream("customer-1", { direction: "backwards" })).toEqual([])
          yield* store.append("customer-10", newEvents(2), ExpectedVersion.noStream)
          yield* store.append("customer-1x", newEvents(2), ExpectedVersion.noStream)
          expect(yield* store.readStream("customer-1")).toEqual([])
          expect(yield* store.readStream("customer-1", { direction: "backwards" })).toEqual([])
          yield* store.append("customer-1", newEvents(1), ExpectedVersion.noStream)
          const read = yield* store.readStream("customer-1")
          expect(read.map((event) => [event.streamId, event.version])).toEqual([["customer-1", 1]])
        }))
    })

    describe("readAll", () => {
      test("reads every event in global order, then ends; an empty store reads as empty", ({ store }) =>
        Effect.gen(function* () {
          expect(yield* Stream.runCollect(store.readAll())).toEqual([])
          const written = yield* appendRoundRobin(store, ["customer-1", "customer-2", "order-1"], 12)
          const all = yield* Stream.runCollect(store.readAll())
          expect(all.map((event) => event.eventId)).toEqual(written.map((event) => event.eventId))
          expect(yield* Stream.runCollect(store.readAll({ after: StartOfStore }))).toEqual(all)
          const streamOne = yield* store.readStream("customer-1")
          expect(all.filter((event) => event.streamId === "customer-1")).toEqual(streamOne)
        }))

      test("reads after a position, exclusively, with a limit", ({ store }) =>
        Effect.gen(function* () {
          yield* appendRoundRobin(store, ["customer-1", "customer-2"], 10)
          const all = yield* Stream.runCollect(store.readAll())
          const fourth = all[3]?.position ?? StartOfStore
          expect(yield* idsOf(store.readAll({ after: fourth }))).toEqual(ids(all.slice(4)))
          expect(yield* idsOf(store.readAll({ limit: 3 }))).toEqual(ids(all.slice(0, 3)))
          expect(yield* idsOf(store.readAll({ after: fourth, limit: 2 }))).toEqual(ids(all.slice(4, 6)))
          expect(yield* idsOf(store.readAll({ limit: 0 }))).toEqual([])
          expect(yield* idsOf(store.readAll({ after: all[9]?.position ?? StartOfStore }))).toEqual([])
          expect(yield* idsOf(store.readAll({ after: yield* store.headPosition }))).toEqual([])
        }))

      test("pages through more events than one batch, with and without a sparse filter", ({ store }) =>
        Effect.gen(function* () {
          const written: Array<EventToAppend> = []
          for (let round = 0; round < 25; round++) {
            const batch = Array.from({ length: 100 }, (_, index) =>
              newEvent(index === 50 ? "TierChanged" : "NoteAdded", { round, index }),
            )
            yield* store.append(`customer-${round % 5}`, batch, ExpectedVersion.any)
            written.push(...batch)
          }
          const all = yield* Stream.runCollect(store.readAll())
          expect(ids(all)).toEqual(ids(written))
          expectStrictlyIncreasing(all.map((event) => event.position))
          expect(yield* idsOf(store.readAll({ limit: 1_234 }))).toEqual(ids(written.slice(0, 1_234)))
          const thousandth = all[999]?.position ?? StartOfStore
          expect(yield* idsOf(store.readAll({ after: thousandth }))).toEqual(ids(written.slice(1_000)))
          const rare = written.filter((event) => event.type === "TierChanged")
          expect(yield* idsOf(store.readAll({ filter: { eventTypes: ["TierChanged"] } }))).toEqual(ids(rare))
          expect(yield* idsOf(store.readAll({ filter: { eventTypes: ["TierChanged"] }, limit: 7 }))).toEqual(
            ids(rare.slice(0, 7)),
          )
        }))

      test("filters by event types", ({ store }) =>
        Effect.gen(function* () {
          const types = ["LeadCaptured", "NoteAdded", "TierChanged"]
          const written: Array<EventToAppend> = []
          for (let index = 0; index < 12; index++) {
            const event = newEvent(types[index % 3] as string)
            yield* store.append(`customer-${index % 2}`, [event], ExpectedVersion.any)
            written.push(event)
          }
          const ofTypes = (eventTypes: ReadonlyArray<string>) =>
            idsOf(store.readAll({ filter: { eventTypes } }))
          expect(yield* ofTypes(["LeadCaptured", "TierChanged"])).toEqual(
            ids(written.filter((event) => event.type !== "NoteAdded")),
          )
          expect(yield* ofTypes(["NoteAdded"])).toEqual(
            ids(written.filter((event) => event.type === "NoteAdded")),
          )
          expect(yield* ofTypes(["Unknown"])).toEqual([])
          expect(yield* ofTypes(["noteadded"])).toEqual([])
          expect(yield* ofTypes([])).toEqual([])
        }))

      test("filters by a literal, case-sensitive stream prefix", ({ store }) =>
        Effect.gen(function* () {
          const streams = [
            "customer-1",
            "Customer-2",
            "customer-3",
            "customerX4",
            "order_1",
            "orderA1",
            "order%1",
          ]
          for (const streamId of streams)
            yield* store.append(streamId, newEvents(2), ExpectedVersion.noStream)
          const streamsOf = (streamPrefix: string) =>
            Effect.map(Stream.runCollect(store.readAll({ filter: { streamPrefix } })), (events) => [
              ...new Set(events.map((event) => event.streamId)),
            ])
          expect(yield* streamsOf("customer-")).toEqual(["customer-1", "customer-3"])
          expect(yield* streamsOf("Customer-")).toEqual(["Customer-2"])
          expect(yield* streamsOf("order_")).toEqual(["order_1"])
          expect(yield* streamsOf("order%")).toEqual(["order%1"])
          expect(yield* streamsOf("customer-1")).toEqual(["customer-1"])
          expect(yield* streamsOf("")).toEqual(streams)
          expect(yield* streamsOf("invoice-")).toEqual([])
        }))

      test("combines event types, a stream prefix, a start and a limit", ({ store }) =>
        Effect.gen(function* () {
          const written = yield* appendRoundRobin(store, ["customer-1", "order-1", "customer-2"], 30, [
            "NoteAdded",
            "TierChanged",
          ])
          const all = yield* Stream.runCollect(store.readAll())
          const matching = all.filter(
            (event) => event.type === "TierChanged" && event.streamId.startsWith("customer-"),
          )
          expect(matching.length).toBeGreaterThan(6)
          const filter = { eventTypes: ["TierChanged"], streamPrefix: "customer-" }
          expect(yield* idsOf(store.readAll({ filter }))).toEqual(ids(matching))
          const after = matching[1]?.position ?? StartOfStore
          expect(yield* idsOf(store.readAll({ filter, after, limit: 3 }))).toEqual(ids(matching.slice(2, 5)))
          expect(written).toHaveLength(30)
        }))
    })

    describe("subscribe", () => {
      test("delivers events from before and after it started, each exactly once, in global order", ({
        store,
      }) =>
        Effect.gen(function* () {
          yield* appendRoundRobin(store, ["customer-1", "customer-2"], 10)
          const subscription = yield* listen(store.subscribe())
          yield* waitFor(() => subscription.seen.length >= 10, "the catch-up")
          yield* Effect.forEach(
            ["customer-1", "customer-3", "customer-4", "customer-5"],
            (streamId) =>
              Effect.forEach(
                Array.from({ length: 5 }, (_, index) => index),
                () => store.append(streamId, newEvents(2), ExpectedVersion.any),
              ),
            { concurrency: "unbounded" },
          )
          const all = yield* Stream.runCollect(store.readAll())
          expect(all).toHaveLength(50)
          expect(summary(yield* delivered(subscription, all.length))).toEqual(summary(all))
        }))

      test("switches from catch-up to live without a gap or a duplicate while appends race it", ({ store }) =>
        Effect.gen(function* () {
          let appends = 0
          const writer = (streamId: string) =>
            Effect.forEach(
              Array.from({ length: 30 }, (_, index) => index),
              (index) =>
                store.append(streamId, newEvents(1 + (index % 3)), ExpectedVersion.any).pipe(
                  Effect.andThen(
                    Effect.sync(() => {
                      appends++
                    }),
                  ),
                  Effect.andThen(Effect.yieldNow),
                ),
              { discard: true },
            )
          const writing = yield* Effect.forkScoped(
            Effect.forEach(["customer-1", "customer-2", "order-1", "customer-3"], writer, {
              concurrency: "unbounded",
              discard: true,
            }),
          )
          const subscriptions: Array<Subscription> = []
          let midway: GlobalPosition = StartOfStore
          for (const threshold of [0, 15, 40, 70, 100]) {
            yield* waitFor(() => appends >= threshold, `${threshold} appends`)
            subscriptions.push(yield* listen(store.subscribe()))
            if (threshold === 40) midway = yield* store.headPosition
          }
          const fromMidway = yield* listen(store.subscribe({ after: midway }))
          yield* Fiber.join(writing)
          const all = yield* Stream.runCollect(store.readAll())
          expect(appends).toBe(120)
          expect(all).toHaveLength(240)
          const afterMidway = all.filter((event) => event.position > midway)
          const [deliveries, deliveredFromMidway] = yield* Effect.all(
            [
              Effect.forEach(subscriptions, (subscription) => delivered(subscription, all.length), {
                concurrency: "unbounded",
              }),
              delivered(fromMidway, afterMidway.length),
            ],
            { concurrency: "unbounded" },
          )
          for (const events of deliveries) expect(summary(events)).toEqual(summary(all))
          expect(summary(deliveredFromMidway)).toEqual(summary(afterMidway))
        }))

      test("wakes on an append when caught up, including on an empty store", ({ store }) =>
        Effect.gen(function* () {
          const subscription = yield* listen(store.subscribe())
          expect(yield* delivered(subscription, 0)).toEqual([])
          yield* store.append("customer-1", newEvents(1), ExpectedVersion.noStream)
          expect(yield* idsOfAll(delivered(subscription, 1))).toEqual(
            ids(yield* Stream.runCollect(store.readAll())),
          )
          yield* store.append("customer-1", newEvents(2), ExpectedVersion.exact(1))
          expect(yield* idsOfAll(delivered(subscription, 3))).toEqual(
            ids(yield* Stream.runCollect(store.readAll())),
          )
        }))

      test("starts strictly after a given position", ({ store }) =>
        Effect.gen(function* () {
          yield* store.append("customer-1", newEvents(5), ExpectedVersion.noStream)
          const third = (yield* store.readStream("customer-1"))[2]?.position ?? StartOfStore
          const subscription = yield* listen(store.subscribe({ after: third }))
          expect((yield* delivered(subscription, 2)).map((event) => event.version)).toEqual([4, 5])
          yield* store.append("customer-1", newEvents(2), ExpectedVersion.exact(5))
          const seen = yield* delivered(subscription, 4)
          expect(seen.map((event) => event.version)).toEqual([4, 5, 6, 7])
          const atHead = yield* listen(store.subscribe({ after: yield* store.headPosition }))
          expect(yield* delivered(atHead, 0)).toEqual([])
        }))

      test("applies event-type and stream-prefix filters in catch-up and live", ({ store }) =>
        Effect.gen(function* () {
          // Four streams and three types, so that every combination of stream and type occurs.
          const streams = ["customer-1", "order-1", "customer-2", "customer-3"]
          const types = ["NoteAdded", "TierChanged", "LeadCaptured"]
          const filters: ReadonlyArray<[EventFilter, (event: RecordedEvent) => boolean]> = [
            [{ eventTypes: ["TierChanged", "LeadCaptured"] }, (event) => event.type !== "NoteAdded"],
            [{ streamPrefix: "customer-" }, (event) => event.streamId.startsWith("customer-")],
            [
              { eventTypes: ["TierChanged"], streamPrefix: "customer-" },
              (event) => event.type === "TierChanged" && event.streamId.startsWith("customer-"),
            ],
            [{ eventTypes: [] }, () => false],
          ]
          yield* appendRoundRobin(store, streams, 24, types)
          const history = yield* Stream.runCollect(store.readAll())
          const subscriptions = yield* Effect.forEach(filters, ([filter]) =>
            listen(store.subscribe({ filter })),
          )
          // Every subscription catches up first, so the second half reaches them live.
          yield* Effect.forEach(
            subscriptions,
            (subscription, index) =>
              delivered(subscription, history.filter(filters[index]?.[1] ?? (() => true)).length),
            { concurrency: "unbounded", discard: true },
          )
          yield* appendRoundRobin(store, streams, 24, types)
          const all = yield* Stream.runCollect(store.readAll())
          yield* Effect.forEach(
            subscriptions,
            (subscription, index) =>
              Effect.gen(function* () {
                const expected = all.filter(filters[index]?.[1] ?? (() => true))
                expect(summary(yield* delivered(subscription, expected.length))).toEqual(summary(expected))
              }),
            { concurrency: "unbounded", discard: true },
          )
        }))
    })

    describe("payloads", () => {
      test("unicode and every JSON shape round-trip exactly", ({ store }) =>
        Effect.gen(function* () {
          const written = newEvent("NoteAdded", unicodeData, {
            actor: "用户-42 👩🏽‍💼",
            reason: "Zoë's café, Ω ≈ ç √ ∫ – “quotes”",
            [combined]: precomposed,
          })
          yield* store.append("customer-1", [written], ExpectedVersion.noStream)
          const [read] = yield* store.readStream("customer-1")
          expect(read?.data).toEqual(written.data)
          expect(read?.metadata).toEqual(written.metadata)
          expect(utf8(read?.data)).toEqual(utf8(written.data))
          expect(utf8(read?.metadata)).toEqual(utf8(written.metadata))
          const [fromAll] = yield* Stream.runCollect(store.readAll())
          expect(fromAll?.data).toEqual(written.data)
        }))

      test("a 1 MB payload round-trips byte for byte through every read", ({ store }) =>
        Effect.gen(function* () {
          const piece = 'Relata 客户 😀 e\u0301 \u05e9\u05dc\u05d5\u05dd "quoted" \\ \n'
          const blob = piece.repeat(Math.ceil(1_048_576 / Buffer.byteLength(piece)))
          expect(Buffer.byteLength(blob)).toBeGreaterThanOrEqual(1_048_576)
          const written = newEvent("DocumentAttached", {
            blob,
            items: Array.from({ length: 1_000 }, (_, i) => i * 1.5),
          })
          const subscription = yield* listen(store.subscribe())
          yield* store.append("customer-1", [written], ExpectedVersion.noStream)
          const [read] = yield* store.readStream("customer-1")
          const [fromAll] = yield* Stream.runCollect(store.readAll())
          const [live] = yield* delivered(subscription, 1)
          for (const event of [read, fromAll, live]) {
            const data = event?.data as { readonly blob?: string } | undefined
            expect(data?.blob?.length).toBe(blob.length)
            expect(data?.blob === blob).toBe(true)
            expect(event?.data).toEqual(written.data)
          }
        }))

      test("metadata, event id and schema version round-trip", ({ store }) =>
        Effect.gen(function* () {
          const metadata: JsonObject = {
            actor: "user-7",
            role: "account-manager",
            reason: "Customer asked for a callback",
            correlationId: randomUUID(),
            causationId: randomUUID(),
            commandId: randomUUID(),
            recordedAt: "2026-03-14T09:26:53.589Z",
            effectiveAt: "2026-03-01",
            tags: ["vip", "renewal"],
            nested: { empty: {}, list: [], flag: false, nothing: null },
          }
          const written = { ...newEvent("TierChanged", { tier: "gold" }, metadata), schemaVersion: 3 }
          const bare = newEvent("NoteAdded", {}, {})
          yield* store.append("customer-1", [written, bare], ExpectedVersion.noStream)
          const read = yield* store.readStream("customer-1")
          expect(read.map(({ position: _, streamId: __, version: ___, ...event }) => event)).toEqual([
            written,
            bare,
          ])
        }))

      test("a hash chain written through the store verifies when read back", ({ store }) =>
        Effect.gen(function* () {
          for (let round = 0; round < 3; round++) {
            const stream = yield* store.readStream("customer-1")
            const tip = chainTipOf(stream.at(-1))
            assert(tip !== undefined, "the last event carries a hash")
            const batch = withChainHashes("customer-1", tip, [
              newEvent("NoteAdded", { ...unicodeData, round }, { actor: "user-1", z: 1, a: [0.1, 1e-7] }),
              newEvent("TierChanged", { tier: "gold", round }),
            ])
            yield* store.append("customer-1", batch, ExpectedVersion.exact(tip.version))
          }
          const read = yield* store.readStream("customer-1")
          expect(read).toHaveLength(6)
          expect(verifyStreamChain(read)).toEqual({
            ok: true,
            tip: { version: 6, hash: read[5]?.metadata.hash },
          })
        }))

      // Registered only for stores that can be tampered with; see `EventStoreContractOptions.tamper`.
      if (options.tamper !== false)
        it("a stored event changed behind the store's back breaks the hash chain at that event", async () => {
          await Effect.runPromise(
            Effect.scoped(
              Effect.gen(function* () {
                const { store, tamper } = yield* acquireSubject
                assert(
                  tamper !== undefined,
                  "acquire must return a tamper function, or pass { tamper: false }",
                )
                let tip = chainTipOf(undefined)
                for (let round = 0; round < 3; round++) {
                  assert(tip !== undefined)
                  const batch = withChainHashes("customer-1", tip, [
                    newEvent("NoteAdded", { round, text: "客户" }),
                  ])
                  const result = yield* store.append("customer-1", batch, ExpectedVersion.exact(tip.version))
                  tip = chainTipOf((yield* store.readStream("customer-1", { from: result.streamVersion }))[0])
                }
                const before = yield* store.readStream("customer-1")
                expect(verifyStreamChain(before).ok).toBe(true)
                const second = before[1] as RecordedEvent
                yield* effectOf(
                  tamper({ streamId: "customer-1", version: 2 }, { data: { round: 1, text: "客户!" } }),
                )
                const after = yield* store.readStream("customer-1")
                expect(after[1]?.data).toEqual({ round: 1, text: "客户!" })
                expect(verifyStreamChain(after)).toMatchObject({
                  ok: false,
                  brokenLink: {
                    streamId: "customer-1",
                    version: 2,
                    position: second.position,
                    actual: second.metadata.hash,
                  },
                })
              }),
            ),
          )
        })
    })
  })
}

const newEvent = (type: string, data: JsonObject = {}, metadata: JsonObject = {}): EventToAppend => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  data,
  metadata,
})

const newEvents = (count: number, type = "NoteAdded"): Array<EventToAppend> =>
  Array.from({ length: count }, (_, index) => newEvent(type, { index }))

/** Appends `count` single-event appends, cycling through streams and types; returns them in order. */
const appendRoundRobin = (
  store: EventStoreService,
  streams: ReadonlyArray<string>,
  count: number,
  types: ReadonlyArray<string> = ["NoteAdded"],
) =>
  Effect.gen(function* () {
    const written: Array<EventToAppend> = []
    for (let index = 0; index < count; index++) {
      const event = newEvent(types[index % types.length] as string, { index })
      yield* store.append(streams[index % streams.length] as string, [event], ExpectedVersion.any)
      written.push(event)
      // Lets subscribers run between appends, as they would between commits of a real store.
      yield* Effect.yieldNow
    }
    return written
  })

const effectOf = <E>(value: Effect.Effect<void, E> | Promise<void>): Effect.Effect<void, E> =>
  Effect.isEffect(value) ? value : Effect.promise(() => value)

const errorFields = (error: WrongExpectedVersion | StoreUnavailable) =>
  error._tag === "WrongExpectedVersion"
    ? { _tag: error._tag, streamId: error.streamId, expected: error.expected, actual: error.actual }
    : { _tag: error._tag, reason: error.reason }

const expectRejected = (
  append: Effect.Effect<AppendResult, WrongExpectedVersion | StoreUnavailable>,
  want: { readonly streamId: string; readonly expected: string; readonly actual: StreamVersion },
) =>
  Effect.gen(function* () {
    const result = yield* Effect.result(append)
    if (Result.isSuccess(result)) {
      return assert.fail(
        `expected WrongExpectedVersion, but the append succeeded: ${JSON.stringify(summaryOf(result.success))}`,
      )
    }
    expect(errorFields(result.failure)).toEqual({ _tag: "WrongExpectedVersion", ...want })
  })

const summaryOf = (result: AppendResult) => ({
  streamVersion: result.streamVersion,
  position: String(result.position),
})

/** What a reader can see of the store: used to prove that a rejected append changed nothing. */
const snapshot = (store: EventStoreService, streamId: string) =>
  Effect.all({
    head: store.headPosition,
    all: Stream.runCollect(store.readAll()),
    stream: store.readStream(streamId),
  })

const versionsOf = (store: EventStoreService, streamId: string) =>
  Effect.map(store.readStream(streamId), (events) => events.map((event) => event.version))

const ids = (events: ReadonlyArray<{ readonly eventId: string }>): Array<string> =>
  events.map((event) => event.eventId)

const idsOf = <E>(stream: Stream.Stream<RecordedEvent, E>) => Effect.map(Stream.runCollect(stream), ids)

const idsOfAll = <E>(events: Effect.Effect<ReadonlyArray<RecordedEvent>, E>) => Effect.map(events, ids)

/** A readable line per event, so a failed comparison shows where a gap or a duplicate is. */
const summary = (events: ReadonlyArray<RecordedEvent>): Array<string> =>
  events.map((event) => `${event.position} ${event.streamId}@${event.version} ${event.eventId}`)

const expectStrictlyIncreasing = (positions: ReadonlyArray<GlobalPosition>): void => {
  for (let index = 1; index < positions.length; index++) {
    const previous = positions[index - 1] as GlobalPosition
    const current = positions[index] as GlobalPosition
    if (!(current > previous))
      assert.fail(`position ${current} at index ${index} does not follow ${previous}`)
  }
}

/** The UTF-8 bytes of a value's canonical JSON: equal whatever key order the store gives back. */
const utf8 = (value: JsonObject | undefined): Buffer =>
  Buffer.from(value === undefined ? "" : canonicalJson(value), "utf8")

// The same letter written two ways: a store that normalises Unicode turns one into the other.
const combined = "e\u0301tude"
const precomposed = "\u00e9tude"

/** Every JSON shape, with text in several scripts and characters JSON must escape. */
const unicodeData: JsonObject = {
  emoji: "😀 👩🏽‍💼 🇫🇷 ❤️",
  cjk: "客户关系管理 顧客 고객",
  combined,
  precomposed,
  rtl: "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
  escapes: 'quote " backslash \\ slash / newline \n tab \t bell \u0007 separators \u2028\u2029',
  looksEscaped: '\\u0000 \\n \\"',
  "客户-键 😀": "a key outside ASCII",
  "": "an empty key",
  empty: "",
  numbers: [0, -1, 42, 0.1, -3.25, 1e-7, 123456789.125, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
  literals: [true, false, null],
  nested: { list: [[], {}, [1, [2, [3]]]], object: { b: 1, a: { ä: "ä", z: [null] } } },
}
