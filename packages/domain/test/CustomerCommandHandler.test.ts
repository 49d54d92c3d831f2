import { describe, expect, it } from "@effect/vitest"
import {
  CommandId,
  CustomerCommandHandler,
  CustomerDecider,
  customerModel,
  customerStateSchemaVersion,
  customerStreamId,
  decodeCustomerEvent,
  EventStore,
  type EventStoreService,
  foldEvents,
  InMemoryEventStore,
  InMemorySnapshotStoreLayer,
  LeadSource,
  makeCommandHandler,
  makeInMemoryEventStore,
  makeInMemorySnapshotStore,
  SnapshotStore,
  StoreUnavailable,
  verifyStreamChain,
} from "@relata/domain"
import { customerCommand } from "@relata/domain/testing"
import { Effect, Exit, Fiber, Layer, Result } from "effect"
import { TestClock } from "effect/testing"
import { customerId, rep } from "./CustomerTestData.ts"

const register = (commandId = "register-1") =>
  customerCommand(
    "RegisterLead",
    { profile: { name: "Acme Trading" } as never, source: LeadSource.make("trade fair"), owner: rep },
    { commandId: CommandId.make(commandId) },
  )
const followUp = (n: number) =>
  customerCommand(
    "RecordFollowUp",
    { channel: "phone", summary: `call ${n}`, outcome: "interested" } as never,
    { commandId: CommandId.make(`follow-up-${n}`) },
  )

const streamId = customerStreamId(customerId)

/** An in-memory store that counts what it is asked and can fail or stall on demand. */
const instrumented = (store: EventStoreService) => {
  const counts = { appends: 0, eventsRead: 0 }
  let failNextAppends: Array<StoreUnavailable> = []
  const service: EventStoreService = {
    ...store,
    append: (id, events, expected) =>
      Effect.suspend(() => {
        counts.appends++
        const failure = failNextAppends.shift()
        return failure === undefined ? store.append(id, events, expected) : Effect.fail(failure)
      }),
    readStream: (id, options) =>
      store.readStream(id, options).pipe(
        Effect.map((events) => {
          counts.eventsRead += events.length
          return events
        }),
        // Yield so that concurrent commands interleave between load and append, as they do on a real store.
        Effect.tap(() => Effect.yieldNow),
      ),
  }
  return {
    service,
    counts,
    failAppends: (...failures: Array<StoreUnavailable>) => (failNextAppends = failures),
  }
}

const handlerOn = (store: EventStoreService, config = {}) =>
  makeCommandHandler(customerModel(), { eventStore: store }, config)

describe("CustomerCommandHandler", () => {
  it.effect("appends the decided events with the command's metadata, at the time of the clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2024-02-01T10:00:00.000Z"))
      const store = makeInMemoryEventStore()
      const handler = handlerOn(store)
      const result = yield* handler.handle(register())
      expect(result).toMatchObject({ streamId, streamVersion: 1, position: 1n, replayed: false })
      expect(result.events.map((e) => e._tag)).toEqual(["LeadRegistered"])
      const [stored] = yield* store.readStream(streamId)
      expect(stored?.metadata).toMatchObject({
        commandId: "register-1",
        commandType: "RegisterLead",
        actor: { id: "manager-1", role: "manager" },
        correlationId: "register-1",
        causationId: "register-1",
        recordedAt: "2024-02-01T10:00:00.000Z",
      })
      expect(stored?.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    }),
  )

  it.effect("chains every appended event to the previous one of its stream", () =>
    Effect.gen(function* () {
      const store = makeInMemoryEventStore()
      const handler = handlerOn(store)
      yield* handler.handle(register())
      for (let n = 1; n <= 5; n++) yield* handler.handle(followUp(n))
      const events = yield* store.readStream(streamId)
      expect(events).toHaveLength(6)
      expect(verifyStreamChain(events)).toMatchObject({ ok: true })
      yield* store.tamper({ streamId, version: 3 }, { data: { ...events[2]?.data, summary: "changed" } })
      expect(verifyStreamChain(yield* store.readStream(streamId))).toMatchObject({
        ok: false,
        brokenLink: { version: 3 },
      })
    }),
  )

  it.effect("returns the first result for a repeated command id and appends nothing", () =>
    Effect.gen(function* () {
      const store = makeInMemoryEventStore()
      const handler = handlerOn(store)
      const first = yield* handler.handle(register())
      yield* handler.handle(followUp(1))
      const again = yield* handler.handle(register())
      expect(again.replayed).toBe(true)
      expect(again.events).toEqual(first.events)
      expect(again.streamVersion).toBe(first.streamVersion)
      expect(again.position).toBe(first.position)
      expect(yield* store.readStream(streamId)).toHaveLength(2)
    }),
  )

  it.effect("rejects a rule violation with the decider's error and appends nothing", () =>
    Effect.gen(function* () {
      const store = makeInMemoryEventStore()
      const handler = handlerOn(store)
      const exit = yield* Effect.exit(handler.handle(followUp(1)))
      expect(exit).toMatchObject({ _tag: "Failure" })
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("CustomerNotFound")
      expect(yield* store.headPosition).toBe(0n)
    }),
  )

  it.live("retries a conflict by reloading and deciding again, so concurrent commands all apply", () =>
    Effect.gen(function* () {
      const { service, counts } = instrumented(makeInMemoryEventStore())
      const handler = handlerOn(service, { maxConflictRetries: 20 })
      yield* handler.handle(register())
      yield* Effect.all(
        Array.from({ length: 8 }, (_, n) => handler.handle(followUp(n))),
        { concurrency: "unbounded" },
      )
      const events = yield* service.readStream(streamId)
      expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
      // More appends than commands: some lost the race, reloaded and won later.
      expect(counts.appends).toBeGreaterThan(9)
      expect(verifyStreamChain(events)).toMatchObject({ ok: true })
    }),
  )

  it.effect("fails at once with the real version when the caller's expected version is stale", () =>
    Effect.gen(function* () {
      const { service, counts } = instrumented(makeInMemoryEventStore())
      const handler = handlerOn(service)
      yield* handler.handle(register())
      yield* handler.handle(followUp(1))
      const appendsBefore = counts.appends
      const error = yield* Effect.flip(handler.handle(followUp(2), { expectedVersion: 1 }))
      expect(error).toMatchObject({ _tag: "WrongExpectedVersion", expected: "1", actual: 2 })
      expect(counts.appends).toBe(appendsBefore)
      const ok = yield* handler.handle(followUp(2), { expectedVersion: 2 })
      expect(ok.streamVersion).toBe(3)
    }),
  )

  it.effect("retries a retryable store failure with backoff, and gives up on one that is not", () =>
    Effect.gen(function* () {
      const { service, failAppends } = instrumented(makeInMemoryEventStore())
      const handler = handlerOn(service)
      failAppends(new StoreUnavailable({ reason: "connection reset", retryable: true }))
      const fiber = yield* Effect.forkChild(handler.handle(register()))
      yield* TestClock.adjust("10 seconds")
      const result = yield* Effect.exit(Fiber.join(fiber))
      expect(Exit.isSuccess(result)).toBe(true)

      failAppends(new StoreUnavailable({ reason: "disk full", retryable: false }))
      const error = yield* Effect.flip(handler.handle(followUp(1)))
      expect(error).toMatchObject({ _tag: "StoreUnavailable", retryable: false })
      expect(yield* service.readStream(streamId)).toHaveLength(1)
    }),
  )

  it.effect("reports a stored event it cannot read instead of deciding on a wrong state", () =>
    Effect.gen(function* () {
      const store = makeInMemoryEventStore()
      const handler = handlerOn(store)
      yield* handler.handle(register())
      yield* store.tamper({ streamId, version: 1 }, { type: "NoSuchEvent" })
      const error = yield* Effect.flip(handler.handle(followUp(1)))
      expect(error).toMatchObject({
        _tag: "StoredEventUnreadable",
        streamId,
        version: 1,
        type: "NoSuchEvent",
      })
    }),
  )

  describe("snapshots", () => {
    it.effect("loads the latest snapshot and only the events after it, to the same state", () =>
      Effect.gen(function* () {
        const { service, counts } = instrumented(makeInMemoryEventStore())
        const snapshots = makeInMemorySnapshotStore()
        const handler = makeCommandHandler(
          customerModel(),
          { eventStore: service, snapshotStore: snapshots },
          { snapshotEvery: 10 },
        )
        yield* handler.handle(register())
        for (let n = 1; n <= 24; n++) yield* handler.handle(followUp(n))
        const snapshot = yield* snapshots.load(streamId, customerStateSchemaVersion)
        expect(snapshot?.version).toBe(20)

        counts.eventsRead = 0
        const loaded = yield* handler.load(streamId)
        expect(counts.eventsRead).toBe(5)
        const all = (yield* service.readStream(streamId)).map((e) =>
          Result.getOrThrow(decodeCustomerEvent(e)),
        )
        expect(loaded).toEqual({ state: foldEvents(CustomerDecider, all), version: 25 })

        // Chaining and idempotency go on across the snapshot.
        yield* handler.handle(followUp(25))
        expect(verifyStreamChain(yield* service.readStream(streamId))).toMatchObject({ ok: true })
        const replayed = yield* handler.handle(followUp(3))
        expect(replayed).toMatchObject({ replayed: true, streamVersion: 4 })
        expect(replayed.events.map((e) => e._tag)).toEqual(["FollowUpRecorded"])
      }),
    )

    it.effect("ignores a snapshot taken with another state schema version, or one it cannot decode", () =>
      Effect.gen(function* () {
        const { service, counts } = instrumented(makeInMemoryEventStore())
        const snapshots = makeInMemorySnapshotStore()
        const handler = makeCommandHandler(
          customerModel(),
          { eventStore: service, snapshotStore: snapshots },
          { snapshotEvery: 1_000 },
        )
        yield* handler.handle(register())
        for (let n = 1; n <= 4; n++) yield* handler.handle(followUp(n))
        yield* snapshots.save({
          streamId,
          version: 5,
          stateSchemaVersion: customerStateSchemaVersion - 1,
          state: {
            state: { status: "unregistered" },
            bookkeeping: { tipHash: "", position: "0", commands: [] },
          },
        })
        yield* snapshots.save({
          streamId,
          version: 4,
          stateSchemaVersion: customerStateSchemaVersion,
          state: {
            state: { status: "no such status" },
            bookkeeping: { tipHash: "", position: "0", commands: [] },
          },
        })
        counts.eventsRead = 0
        const loaded = yield* handler.load(streamId)
        expect(counts.eventsRead).toBe(5)
        expect(loaded.version).toBe(5)
        expect(loaded.state).toMatchObject({ status: "registered", followUps: 4 })
      }),
    )
    it.effect(
      "ignores a snapshot whose bookkeeping is missing or malformed, and folds the stream instead",
      () =>
        Effect.gen(function* () {
          const { service, counts } = instrumented(makeInMemoryEventStore())
          const taken = makeInMemorySnapshotStore()
          const handler = makeCommandHandler(
            customerModel(),
            { eventStore: service, snapshotStore: taken },
            { snapshotEvery: 5 },
          )
          yield* handler.handle(register())
          for (let n = 1; n <= 5; n++) yield* handler.handle(followUp(n))
          const good = yield* taken.load(streamId, customerStateSchemaVersion)
          expect(good?.version).toBe(5)
          for (const bookkeeping of [undefined, { tipHash: "x", position: "not a number", commands: [] }]) {
            const broken = makeInMemorySnapshotStore()
            const { bookkeeping: _, ...rest } = good?.state ?? {}
            yield* broken.save({
              ...(good as NonNullable<typeof good>),
              state: bookkeeping === undefined ? rest : { ...rest, bookkeeping },
            })
            const reader = makeCommandHandler(customerModel(), { eventStore: service, snapshotStore: broken })
            counts.eventsRead = 0
            const loaded = yield* reader.load(streamId)
            expect(counts.eventsRead).toBe(6)
            expect(loaded).toMatchObject({ version: 6, state: { followUps: 5 } })
          }
        }),
    )
  })

  it.effect("is available as a layer over the EventStore and, when provided, the SnapshotStore", () =>
    Effect.gen(function* () {
      const handler = yield* CustomerCommandHandler
      yield* handler.handle(register())
      const store = yield* EventStore
      expect(yield* store.headPosition).toBe(1n)
      const snapshots = yield* SnapshotStore
      expect(yield* snapshots.load(streamId, customerStateSchemaVersion)).toBeUndefined()
    }).pipe(
      Effect.provide(
        CustomerCommandHandler.layer().pipe(
          Layer.provideMerge(Layer.mergeAll(InMemoryEventStore.layer, InMemorySnapshotStoreLayer)),
        ),
      ),
    ),
  )
})
