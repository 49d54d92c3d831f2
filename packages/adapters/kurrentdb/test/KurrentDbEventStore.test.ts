/**
 * What the adapter does around the server, on the fake KurrentDB (test/support/FakeKurrentDb.ts):
 * what it sends, how it retries, how subscriptions recover, how appendMany decides.
 */
import { randomUUID } from "node:crypto"
import {
  AccessDeniedError,
  NO_STREAM,
  NotLeaderError,
  UnavailableError,
  WrongExpectedVersionError,
} from "@kurrent/kurrentdb-client"
import { KurrentDbEventStore, type KurrentDbEventStoreOptions } from "@relata/adapter-kurrentdb"
import {
  type EventToAppend,
  ExpectedVersion,
  type RecordedEvent,
  StartOfStore,
  StoreUnavailable,
  WrongExpectedVersion,
} from "@relata/domain"
import { Effect, Fiber, Result, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { FakeKurrentDb, type FakeKurrentDbOptions } from "./support/FakeKurrentDb.ts"

const newEvent = (type = "NoteAdded", data: Record<string, number | string> = {}): EventToAppend => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 2,
  data,
  metadata: { actor: "user-1" },
})

const notLeader = () =>
  new NotLeaderError({
    code: 5,
    details: "Leader info available",
    message: "5 NOT_FOUND: Leader info available",
    metadata: { "leader-endpoint-host": "10.0.0.2", "leader-endpoint-port": "2113" },
  } as never)

const storeOn = (fakeOptions: FakeKurrentDbOptions = {}, options: KurrentDbEventStoreOptions = {}) => {
  const fake = new FakeKurrentDb(fakeOptions)
  const store = Effect.runSync(KurrentDbEventStore.fromClient(fake.client, options))
  return { fake, store }
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const failureOf = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.runPromise(
    Effect.flatMap(Effect.result(effect), (result) =>
      Result.isFailure(result) ? Effect.succeed(result.failure) : Effect.die(new Error("it succeeded")),
    ),
  )

/** Runs a subscription in the background and collects what it delivers. */
const listen = (stream: Stream.Stream<RecordedEvent, StoreUnavailable>) => {
  const seen: Array<RecordedEvent> = []
  const fiber = Effect.runFork(Stream.runForEach(stream, (event) => Effect.sync(() => seen.push(event))))
  const waitFor = async (count: number) => {
    for (let waited = 0; seen.length < count && waited < 5_000; waited += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect(seen).toHaveLength(count)
  }
  return { seen, fiber, waitFor }
}

describe("KurrentDbEventStore", () => {
  describe("append", () => {
    it("sends our event ids, the stream state and requiresLeader; metadata carries the schema version", async () => {
      const { fake, store } = storeOn()
      const events = [newEvent(), newEvent("TierChanged")]
      const result = await run(store.append("customer-1", events, ExpectedVersion.noStream))
      expect(fake.calls.at(-1)).toMatchObject({
        operation: "appendToStream",
        options: { streamState: NO_STREAM, requiresLeader: true },
      })
      const stored = fake.streams.get("customer-1") ?? []
      expect(stored.map((event) => event.id)).toEqual(events.map((event) => event.eventId))
      expect(JSON.parse(stored[0]?.metadata ?? "")).toEqual({ actor: "user-1", "relata.schemaVersion": 2 })
      expect(result).toEqual({ streamVersion: 2, position: stored[1]?.position })
      await run(store.append("customer-1", [newEvent()], ExpectedVersion.exact(2)))
      expect(fake.calls.at(-1)).toMatchObject({ options: { streamState: 1n } })
    })

    it("checks an append of no events against the stream's last event, writing nothing", async () => {
      const { fake, store } = storeOn()
      expect(await run(store.append("customer-1", [], ExpectedVersion.noStream))).toEqual({
        streamVersion: 0,
        position: StartOfStore,
      })
      expect(fake.calls.some((call) => call.operation === "appendToStream")).toBe(false)
    })

    it("refuses an event the server could not store as written, before sending anything", async () => {
      const { fake, store } = storeOn()
      const error = await failureOf(
        store.append("customer-1", [{ ...newEvent(), eventId: "not-a-uuid" }], ExpectedVersion.any),
      )
      expect(error).toBeInstanceOf(StoreUnavailable)
      expect(error).toMatchObject({ retryable: false })
      expect((error as StoreUnavailable).reason).toContain("not a lower-case, non-nil UUID")
      expect(fake.calls).toHaveLength(0)
      const system = await failureOf(store.append("$settings", [newEvent()], ExpectedVersion.any))
      expect((system as StoreUnavailable).reason).toContain("reserves for system streams")
    })

    it("tries again against the leader when the node is not the leader", async () => {
      const { fake, store } = storeOn()
      fake.failNext("appendToStream", notLeader(), notLeader())
      const result = await run(store.append("customer-1", [newEvent()], ExpectedVersion.noStream))
      expect(result.streamVersion).toBe(1)
      expect(fake.calls.filter((call) => call.operation === "appendToStream")).toHaveLength(3)
    })

    it("gives up after leaderRetries, with a retryable error naming the leader", async () => {
      const { fake, store } = storeOn({}, { leaderRetries: 2 })
      fake.failNext("appendToStream", notLeader(), notLeader(), notLeader())
      const error = await failureOf(store.append("customer-1", [newEvent()], ExpectedVersion.noStream))
      expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: true })
      expect((error as StoreUnavailable).reason).toContain("10.0.0.2:2113")
      expect(fake.streams.has("customer-1")).toBe(false)
    })

    it("reports an unreachable server as retryable, keeping the client's error", async () => {
      const { fake, store } = storeOn()
      const refused = Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: 14 })
      fake.failNext("appendToStream", refused)
      const error = await failureOf(store.append("customer-1", [newEvent()], ExpectedVersion.any))
      expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: true, cause: refused })
    })

    it("turns WrongExpectedVersionError into WrongExpectedVersion with our expectation and the real version", async () => {
      const { store } = storeOn()
      await run(store.append("customer-1", [newEvent(), newEvent()], ExpectedVersion.noStream))
      const error = await failureOf(store.append("customer-1", [newEvent()], ExpectedVersion.exact(0)))
      expect(error).toBeInstanceOf(WrongExpectedVersion)
      expect(error).toMatchObject({ streamId: "customer-1", expected: "0", actual: 2 })
    })

    it("reads a conflict the client resolves instead of throwing (throwOnAppendFailure=false)", async () => {
      const { store } = storeOn({ throwOnAppendFailure: false })
      await run(store.append("customer-1", [newEvent()], ExpectedVersion.noStream))
      const error = await failureOf(store.append("customer-1", [newEvent()], ExpectedVersion.noStream))
      expect(error).toMatchObject({ _tag: "WrongExpectedVersion", expected: "no stream", actual: 1 })
    })
  })

  describe("reads", () => {
    it("reads a missing stream as empty and keeps other failures", async () => {
      const { fake, store } = storeOn()
      expect(await run(store.readStream("customer-1"))).toEqual([])
      fake.failNext("readStream", new AccessDeniedError())
      const error = await failureOf(store.readStream("customer-1"))
      expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
    })

    it("finds the head past system events written after the newest event", async () => {
      const { fake, store } = storeOn()
      const { position } = await run(store.append("customer-1", [newEvent()], ExpectedVersion.noStream))
      for (let index = 0; index < 40; index++) fake.writeSystemEvent(`$stats-${index}`, "$statsCollected")
      expect(await run(store.headPosition)).toBe(position)
    })

    it("reads all events in pages, whatever the page size", async () => {
      for (const batchSize of [2, 3, 100]) {
        const { store } = storeOn({}, { batchSize })
        for (let index = 0; index < 7; index++) {
          await run(
            store.append(`customer-${index % 3}`, [newEvent("NoteAdded", { index })], ExpectedVersion.any),
          )
        }
        const all = await run(Stream.runCollect(store.readAll()))
        expect(all.map((event) => event.data.index)).toEqual([0, 1, 2, 3, 4, 5, 6])
        const limited = await run(
          Stream.runCollect(store.readAll({ after: all[1]?.position ?? 0n, limit: 3 })),
        )
        expect(limited.map((event) => event.data.index)).toEqual([2, 3, 4])
      }
    })
  })

  describe("subscribe", () => {
    it("opens a broken subscription again after the last event it delivered, delivering each event once", async () => {
      const { fake, store } = storeOn({}, { subscriptionRetries: 3 })
      await run(store.append("customer-1", [newEvent(), newEvent()], ExpectedVersion.noStream))
      const subscription = listen(store.subscribe())
      await subscription.waitFor(2)
      fake.breakSubscriptions(new UnavailableError())
      await run(store.append("customer-1", [newEvent()], ExpectedVersion.exact(2)))
      await subscription.waitFor(3)
      fake.breakSubscriptions()
      await run(store.append("customer-2", [newEvent()], ExpectedVersion.noStream))
      await subscription.waitFor(4)
      const opened = fake.calls.filter((call) => call.operation === "subscribeToAll")
      expect(opened.length).toBeGreaterThanOrEqual(3)
      expect(opened[1]?.options).toMatchObject({
        fromPosition: { commit: subscription.seen[1]?.position, prepare: subscription.seen[1]?.position },
      })
      const all = await run(Stream.runCollect(store.readAll()))
      expect(subscription.seen.map((event) => event.eventId)).toEqual(all.map((event) => event.eventId))
      await run(Fiber.interrupt(subscription.fiber))
      expect(fake.liveSubscriptions).toBe(0)
    })

    it("fails for good when the server refuses the subscription", async () => {
      const { fake, store } = storeOn()
      const subscription = listen(store.subscribe())
      await new Promise((resolve) => setTimeout(resolve, 20))
      fake.breakSubscriptions(new AccessDeniedError())
      const exit = await Effect.runPromise(Fiber.await(subscription.fiber))
      expect(exit._tag).toBe("Failure")
      expect(String(exit)).toContain("access denied")
    })

    it("stops trying after subscriptionRetries failures in a row", async () => {
      const { fake, store } = storeOn({}, { subscriptionRetries: 2 })
      fake.failNext("subscribeToAll", new UnavailableError(), new UnavailableError(), new UnavailableError())
      const exit = await Effect.runPromise(Effect.exit(Stream.runDrain(store.subscribe())))
      expect(exit._tag).toBe("Failure")
      expect(fake.calls.filter((call) => call.operation === "subscribeToAll")).toHaveLength(3)
    })

    it("ends subscriptions when the store closes, instead of reopening them", async () => {
      const { fake, store } = storeOn()
      const subscription = listen(store.subscribe())
      await new Promise((resolve) => setTimeout(resolve, 20))
      await run(store.close)
      fake.breakSubscriptions(new UnavailableError())
      const exit = await Effect.runPromise(Fiber.await(subscription.fiber))
      expect(exit._tag).toBe("Failure")
      expect(String(exit)).toContain("the store is closed")
    })
  })

  describe("appendMany", () => {
    const handover = () => [
      { streamId: "customer-1", events: [newEvent("OwnerChanged")], expected: ExpectedVersion.noStream },
      { streamId: "customer-2", events: [newEvent("OwnerChanged")], expected: ExpectedVersion.noStream },
    ]

    it("writes several streams atomically where the server has multiStreamAppend", async () => {
      const { fake, store } = storeOn()
      expect(await run(store.supportsMultiStreamAppend)).toBe("untested")
      const requests = handover()
      const result = await run(store.appendMany(requests))
      expect(result).toMatchObject({
        atomic: true,
        streams: [
          { streamId: "customer-1", streamVersion: 1 },
          { streamId: "customer-2", streamVersion: 1 },
        ],
      })
      expect(await run(store.supportsMultiStreamAppend)).toBe("supported")
      expect(fake.calls.map((call) => call.operation)).toEqual(["multiStreamAppend"])
      // Events written this way read back exactly as the others do.
      const [read] = await run(store.readStream("customer-2"))
      expect(read).toMatchObject({ ...requests[1]?.events[0], streamId: "customer-2", version: 1 })
      expect(result.position).toBe(read?.position)
    })

    it("writes nothing when one stream is not at its expected version", async () => {
      const { fake, store } = storeOn()
      await run(store.append("customer-2", [newEvent()], ExpectedVersion.noStream))
      const error = await failureOf(store.appendMany(handover()))
      expect(error).toMatchObject({
        _tag: "WrongExpectedVersion",
        streamId: "customer-2",
        expected: "no stream",
        actual: 1,
      })
      expect(fake.streams.has("customer-1")).toBe(false)
    })

    it("falls back to one append per stream on a server without multiStreamAppend", async () => {
      const { fake, store } = storeOn({ multiStreamAppend: false })
      const result = await run(store.appendMany(handover()))
      expect(result).toMatchObject({ atomic: false, streams: [{ streamVersion: 1 }, { streamVersion: 1 }] })
      expect(await run(store.supportsMultiStreamAppend)).toBe("unsupported")
      expect(fake.calls.map((call) => call.operation)).toEqual([
        "multiStreamAppend",
        "appendToStream",
        "appendToStream",
      ])
      // Known now: the next call does not ask again.
      await run(
        store.appendMany(handover().map((request) => ({ ...request, expected: ExpectedVersion.exact(1) }))),
      )
      expect(fake.calls.filter((call) => call.operation === "multiStreamAppend")).toHaveLength(1)
    })

    it("fails without writing when atomicity is required and the server lacks it", async () => {
      const { fake, store } = storeOn({ multiStreamAppend: false })
      const error = await failureOf(store.appendMany(handover(), { atomicity: "required" }))
      expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
      expect(fake.streams.has("customer-1")).toBe(false)
    })

    it("never asks the server when multiStreamAppend is switched off", async () => {
      const { fake, store } = storeOn({}, { multiStreamAppend: "off" })
      expect(await run(store.supportsMultiStreamAppend)).toBe("disabled")
      expect(await run(store.appendMany(handover()))).toMatchObject({ atomic: false })
      expect(fake.calls.map((call) => call.operation)).toEqual(["appendToStream", "appendToStream"])
    })

    it("maps a conflict reported by multiStreamAppend to the stream it concerns", async () => {
      const { fake, store } = storeOn()
      fake.failNext(
        "multiStreamAppend",
        WrongExpectedVersionError.fromRevisionConflict({
          stream: "customer-2",
          expectedRevision: "-1",
          actualRevision: "0",
        }),
      )
      const error = await failureOf(store.appendMany(handover()))
      expect(error).toMatchObject({ _tag: "WrongExpectedVersion", streamId: "customer-2", actual: 1 })
    })
  })
})
