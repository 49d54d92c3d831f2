import { describe, expect, it } from "@effect/vitest"
import {
  EventStore,
  type EventStoreService,
  type EventToAppend,
  ExpectedVersion,
  type GlobalPosition,
  InMemoryEventStore,
  makeInMemoryEventStore,
  type RecordedEvent,
} from "@relata/domain"
import {
  defineCollection,
  defineProjection,
  Field,
  type GenerationRef,
  InMemoryReadModelStore,
  makeInMemoryReadModelStore,
  makeProjectionRunner,
  type Projection,
  ProjectionRunner,
  type ProjectionRunnerConfig,
  ReadModelStore,
  ReadModelStoreError,
  type ReadModelStoreService,
  type ReadModelTransaction,
  type TransactOptions,
} from "@relata/projections"
import { type Array as Arr, Deferred, Effect, Fiber, Layer, Result, Stream } from "effect"
import { TestClock } from "effect/testing"

interface Counted {
  readonly count: number
  /** Positions of the events applied, to catch one applied twice. */
  readonly positions: ReadonlyArray<string>
  readonly weight: number
}

/**
 * Counts the events of each stream. Events of type Poison cannot be applied, Garbled ones cannot be
 * decoded. Version 2 weighs each event `weight` instead of 1.
 */
const counter = (
  name = "counter",
  options: {
    readonly version?: number
    readonly weight?: number
    readonly streamPrefix?: string
    /** The event type it cannot apply; default Poison. */
    readonly failOn?: string
  } = {},
): Projection<RecordedEvent> => {
  const collection = defineCollection<Counted>({
    name: `${name}_counts`,
    fields: { count: Field.number((doc) => doc.count), weight: Field.number((doc) => doc.weight) },
  })
  return defineProjection<RecordedEvent>({
    name,
    version: options.version ?? 1,
    collections: [collection],
    ...(options.streamPrefix === undefined ? {} : { filter: { streamPrefix: options.streamPrefix } }),
    decode: (event) =>
      event.type === "Garbled" ? Result.fail(new Error("garbled data")) : Result.succeed(event),
    reads: (event) => [[collection.name, event.streamId]],
    apply: (tx, event) => {
      if (event.type === (options.failOn ?? "Poison")) throw new Error("cannot apply poison")
      const doc = tx.get(collection.name, event.streamId) as Counted | undefined
      tx.put(collection.name, event.streamId, {
        count: (doc?.count ?? 0) + 1,
        positions: [...(doc?.positions ?? []), event.position.toString()],
        weight: (doc?.weight ?? 0) + (options.weight ?? 1),
      })
    },
  })
}

const event = (type = "Counted"): EventToAppend => ({
  eventId: crypto.randomUUID(),
  type,
  schemaVersion: 1,
  data: {},
  metadata: {},
})

/** Appends `n` events round-robin over `streams` streams; answers the last position. */
const appendEvents = (store: EventStoreService, n: number, streams = 5, prefix = "counter-") =>
  Effect.gen(function* () {
    let position: GlobalPosition = 0n
    for (let i = 0; i < n; i++) {
      position = (yield* store.append(`${prefix}${i % streams}`, [event()], ExpectedVersion.any)).position
    }
    return position
  })

/** All documents of a collection in the active generation (or the given one). */
const documents = (store: ReadModelStoreService, collection: string, generation?: number) =>
  Effect.map(
    store.query(collection, { limit: 1_000 }, generation === undefined ? {} : { generation }),
    (page) => page.items.map((item) => item.document as unknown as Counted),
  )

const total = (docs: ReadonlyArray<Counted>, field: "count" | "weight" = "count") =>
  docs.reduce((sum, doc) => sum + doc[field], 0)

/** Wraps a read-model store to count transactions and run `afterCommit` after each one. */
const spied = (
  store: ReadModelStoreService,
  afterCommit: (target: GenerationRef) => Effect.Effect<void> = () => Effect.void,
) => {
  const commits: Array<{ readonly generation: number; readonly checkpoints: number }> = []
  const failNext: Array<ReadModelStoreError> = []
  const transact = <A, E, R>(
    target: GenerationRef,
    body: (tx: ReadModelTransaction) => Effect.Effect<A, E, R>,
    options?: TransactOptions,
  ) => {
    let checkpoints = 0
    const failure = failNext.shift()
    if (failure !== undefined) return Effect.fail(failure)
    return store
      .transact(
        target,
        (tx) =>
          body({
            ...tx,
            saveCheckpoint: (position) => {
              checkpoints++
              tx.saveCheckpoint(position)
            },
          }),
        options,
      )
      .pipe(
        Effect.tap(() => {
          commits.push({ generation: target.generation, checkpoints })
          return afterCommit(target)
        }),
      )
  }
  return { store: { ...store, transact } satisfies ReadModelStoreService, commits, failNext }
}

/** An event store whose subscriptions start only once `gate` opens. */
const gated = (store: EventStoreService, gate: Deferred.Deferred<void>): EventStoreService => ({
  ...store,
  subscribe: (options) => Stream.unwrap(Effect.as(Deferred.await(gate), store.subscribe(options))),
})

/** Lets every fiber that can run do so, without moving the test clock. */
const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })

const run = (
  projections: ReadonlyArray<Projection<RecordedEvent>>,
  eventStore: EventStoreService,
  readModels: ReadModelStoreService,
  config: ProjectionRunnerConfig = {},
  // Under the test clock a wait between commits would never end: tests that are not about it commit
  // every arrival at once.
) =>
  makeProjectionRunner(
    projections as never,
    { eventStore, readModels },
    { headCommitIntervalMs: 0, ...config },
  )

describe("ProjectionRunner", () => {
  it.effect("runs as a layer over the EventStore and ReadModelStore services", () =>
    Effect.gen(function* () {
      const events = yield* EventStore
      const head = yield* appendEvents(events, 30)
      const runner = yield* ProjectionRunner
      yield* runner.waitFor(head)
      const readModels = yield* ReadModelStore
      expect(total(yield* documents(readModels, "counter_counts"))).toBe(30)
    }).pipe(
      Effect.provide(
        ProjectionRunner.layer([counter()]).pipe(
          Layer.provideMerge(Layer.merge(InMemoryEventStore.layer, InMemoryReadModelStore.layer)),
        ),
      ),
    ),
  )

  it.effect("applies every event once, in batches, with one checkpoint per batch", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const head = yield* appendEvents(events, 2_500)
      const { store, commits } = spied(makeInMemoryReadModelStore())
      const runner = yield* run([counter()], events, store, { batchSize: 400 })
      yield* runner.waitFor(head)
      const docs = yield* documents(store, "counter_counts")
      expect(total(docs)).toBe(2_500)
      // Behind the head it reads batches of 400: six full ones and the last 100 events.
      expect(commits).toHaveLength(7)
      expect(commits.every((commit) => commit.checkpoints === 1)).toBe(true)
      const [generation] = yield* store.generations("counter")
      expect(generation).toMatchObject({ generation: 1, active: true, checkpoint: head })
    }),
  )

  it.effect("reads each batch once for the loops catching up together, and decodes each event once", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const head = yield* appendEvents(events, 2_500)
      let reads = 0
      const counted: EventStoreService = {
        ...events,
        readAll: (options) => {
          reads++
          return events.readAll(options)
        },
      }
      let decodes = 0
      const decode = (recorded: RecordedEvent) => {
        decodes++
        return counter().decode(recorded)
      }
      // One codec for all three, as the API's projections share the customer events' codec.
      const projections = ["counter", "second", "third"].map((name) => ({ ...counter(name), decode }))
      const readModels = makeInMemoryReadModelStore()
      const runner = yield* run(projections, counted, readModels, { batchSize: 400 })
      yield* runner.waitFor(head)
      for (const name of ["counter", "second", "third"]) {
        expect(total(yield* documents(readModels, `${name}_counts`))).toBe(2_500)
      }
      // Seven batches of at most 400 events, each read and decoded for all three projections at once.
      expect(reads).toBe(7)
      expect(decodes).toBe(2_500)
    }),
  )

  it.effect("gathers small pages into full batches when it falls behind at the head", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      // A store whose subscription delivers what it has in pages of at most ten events.
      const pages = <A>(chunk: Arr.NonEmptyReadonlyArray<A>) => {
        const split: Array<Arr.NonEmptyReadonlyArray<A>> = []
        for (let i = 0; i < chunk.length; i += 10) {
          split.push(chunk.slice(i, i + 10) as unknown as Arr.NonEmptyReadonlyArray<A>)
        }
        return split as unknown as Arr.NonEmptyReadonlyArray<Arr.NonEmptyReadonlyArray<A>>
      }
      const paged: EventStoreService = {
        ...events,
        subscribe: (options) => Stream.flattenArray(Stream.mapArray(events.subscribe(options), pages)),
      }
      const { store, commits } = spied(makeInMemoryReadModelStore())
      const runner = yield* run([counter()], paged, store, { batchSize: 400 })
      yield* runner.waitFor(yield* appendEvents(events, 1))
      expect(commits).toHaveLength(1)
      // 2,500 events in one append reach it through the subscription, in 250 pages.
      const burst = yield* events.append(
        "counter-burst",
        Array.from({ length: 2_500 }, () => event()),
        ExpectedVersion.any,
      )
      yield* runner.waitFor(burst.position)
      expect(total(yield* documents(store, "counter_counts"))).toBe(2_501)
      // In batches of 400 rather than 250 pages.
      expect(commits).toHaveLength(1 + 7)
      // At the head, a lone event commits without waiting for a batch to fill.
      for (let i = 1; i <= 3; i++) {
        const position = yield* appendEvents(events, 1)
        yield* runner.waitFor(position)
        expect(commits).toHaveLength(8 + i)
      }
      expect(total(yield* documents(store, "counter_counts"))).toBe(2_504)
    }),
  )

  it.effect(
    "at the head, commits what arrives within the interval together; a lone event or a waiting reader at once",
    () =>
      Effect.gen(function* () {
        const events = makeInMemoryEventStore()
        const { store, commits } = spied(makeInMemoryReadModelStore())
        const runner = yield* run([counter()], events, store, { headCommitIntervalMs: 50 })
        const counted = Effect.map(documents(store, "counter_counts"), (docs) => total(docs))
        yield* runner.waitFor(yield* appendEvents(events, 1))
        expect(commits).toHaveLength(1)
        // Three appends right after that commit wait for the interval to pass, then commit as one.
        yield* appendEvents(events, 3)
        yield* settle
        yield* TestClock.adjust(49)
        expect(commits).toHaveLength(1)
        yield* TestClock.adjust(1)
        yield* settle
        expect(commits).toHaveLength(2)
        expect(yield* counted).toBe(4)
        // After a quiet spell longer than the interval, an event commits without waiting.
        yield* TestClock.adjust(50)
        yield* appendEvents(events, 1)
        yield* settle
        expect(commits).toHaveLength(3)
        // Right after that commit an event is held back, until a reader waits for it.
        const held = yield* appendEvents(events, 1)
        yield* settle
        expect(commits).toHaveLength(3)
        yield* runner.waitFor(held)
        expect(commits).toHaveLength(4)
        // A reader already waiting when the event arrives: it commits at once.
        const reader = yield* Effect.forkChild(runner.waitFor(held + 1n))
        yield* settle
        yield* appendEvents(events, 1)
        yield* Fiber.join(reader)
        expect(commits).toHaveLength(5)
        expect(yield* counted).toBe(7)
      }),
  )

  it.effect("goes on with events appended after it caught up, and waitFor waits for them", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      const runner = yield* run([counter()], events, readModels)
      const waiting = yield* Effect.forkChild(runner.waitFor(3n))
      yield* Effect.yieldNow
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* appendEvents(events, 3)
      yield* Fiber.join(waiting)
      expect(total(yield* documents(readModels, "counter_counts"))).toBe(3)
      const status = yield* runner.statusOf("counter")
      expect(status).toMatchObject({
        state: "running",
        checkpoint: 3n,
        headPosition: 3n,
        lag: 0n,
        generation: 1,
      })
    }),
  )

  it.effect("moves its checkpoint past events its filter skips, so waitFor any position returns", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      yield* appendEvents(events, 4, 2, "counter-")
      const head = yield* appendEvents(events, 3, 1, "other-")
      const runner = yield* run([counter("counter", { streamPrefix: "counter-" })], events, readModels)
      yield* runner.waitFor(head)
      expect(total(yield* documents(readModels, "counter_counts"))).toBe(4)
      expect((yield* readModels.generations("counter"))[0]?.checkpoint).toBe(head)
    }),
  )

  it.effect("resumes from its checkpoint after a restart without applying any event twice", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      const first = yield* appendEvents(events, 1_234, 7)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const runner = yield* run([counter()], events, readModels, { batchSize: 100 })
          yield* runner.waitFor(first)
        }),
      )
      const second = yield* appendEvents(events, 766, 7)
      const { store, commits } = spied(readModels)
      const runner = yield* run([counter()], events, store, { batchSize: 100 })
      yield* runner.waitFor(second)
      const docs = yield* documents(readModels, "counter_counts")
      expect(total(docs)).toBe(2_000)
      for (const doc of docs) expect(new Set(doc.positions).size).toBe(doc.positions.length)
      // Only the new events were read and applied: 766 in batches of at most 100.
      expect(commits).toHaveLength(8)
      expect(yield* readModels.generations("counter")).toEqual([
        { projection: "counter", generation: 1, version: 1, checkpoint: second, active: true },
      ])
    }),
  )

  it.effect("two runners of one projection never apply an event twice", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      const head = yield* appendEvents(events, 3_000, 3)
      const a = yield* run([counter()], events, readModels, { batchSize: 50 })
      const b = yield* run([counter()], events, readModels, { batchSize: 70 })
      yield* a.waitFor(head)
      yield* b.waitFor(head)
      const docs = yield* documents(readModels, "counter_counts")
      expect(total(docs)).toBe(3_000)
      for (const doc of docs) expect(new Set(doc.positions).size).toBe(doc.positions.length)
    }),
  )

  it.effect(
    "builds a first generation's indexes once it reaches the head it first saw, whatever comes after",
    () =>
      Effect.gen(function* () {
        const events = makeInMemoryEventStore()
        const readModels = makeInMemoryReadModelStore()
        const head = yield* appendEvents(events, 200)
        // Another event lands after every commit, so the runner is never at the head right after one:
        // steady appends must not keep the first generation without its indexes.
        const extra = 100
        let appended = 0
        let appendedAtBuild: number | undefined
        const busy: ReadModelStoreService = {
          ...readModels,
          transact: (target, body, options) =>
            Effect.gen(function* () {
              const result = yield* readModels.transact(target, body, options)
              if (appended < extra) {
                yield* Effect.orDie(appendEvents(events, 1))
                appended++
              }
              return result
            }),
          buildIndexes: (target) =>
            Effect.gen(function* () {
              yield* readModels.buildIndexes(target)
              appendedAtBuild ??= appended
            }),
        }
        const runner = yield* run([counter()], events, busy, { batchSize: 10 })
        yield* runner.waitFor(head + BigInt(extra))
        expect(appendedAtBuild).toBeDefined()
        expect(appendedAtBuild).toBeLessThan(extra)
      }),
  )

  it.effect("stops a projection at an event it cannot apply, with a clear error; the others go on", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      yield* events.append("counter-1", [event(), event()], ExpectedVersion.any)
      yield* events.append("counter-2", [event("Poison")], ExpectedVersion.any)
      const head = (yield* events.append("counter-1", [event()], ExpectedVersion.any)).position
      const runner = yield* run(
        [counter("fragile"), counter("sturdy", { failOn: "None" })],
        events,
        readModels,
      )

      const failure = yield* Effect.flip(runner.waitFor(head, { projections: ["fragile"] }))
      expect(failure).toMatchObject({
        _tag: "ProjectionFailed",
        projection: "fragile",
        generation: 1,
        position: 3n,
        eventType: "Poison",
        streamId: "counter-2",
      })
      expect(failure.message).toBe(
        "Projection fragile (generation 1) stopped at Poison (position 3, stream counter-2): cannot apply poison",
      )
      // The events before the failing one were committed; the failing one and those after were not.
      expect((yield* readModels.generations("fragile"))[0]?.checkpoint).toBe(2n)
      expect(total(yield* documents(readModels, "fragile_counts"))).toBe(2)
      const status = yield* runner.statusOf("fragile")
      expect(status).toMatchObject({ state: "failed", checkpoint: 2n, headPosition: 4n, lag: 2n, failure })

      yield* runner.waitFor(head, { projections: ["sturdy"] })
      expect((yield* runner.statusOf("sturdy")).state).toBe("running")
      expect(total(yield* documents(readModels, "sturdy_counts"))).toBe(4)
      expect((yield* Effect.flip(runner.waitFor(head)))._tag).toBe("ProjectionFailed")
      expect((yield* Effect.flip(runner.statusOf("nope")))._tag).toBe("UnknownProjection")
    }),
  )

  it.effect("stops at an event it cannot decode, committing the batch up to it", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      yield* appendEvents(events, 5)
      yield* events.append("counter-9", [event("Garbled")], ExpectedVersion.any)
      yield* appendEvents(events, 5)
      const runner = yield* run([counter()], events, readModels)
      const failure = yield* Effect.flip(runner.waitFor(11n))
      expect(failure).toMatchObject({ position: 6n, eventType: "Garbled", streamId: "counter-9" })
      expect(failure.message).toContain("garbled data")
      expect((yield* readModels.generations("counter"))[0]?.checkpoint).toBe(5n)
    }),
  )

  it.live("retries a store failure that can pass, and stops on one that cannot", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const head = yield* appendEvents(events, 10)
      const { store, failNext } = spied(makeInMemoryReadModelStore())
      failNext.push(new ReadModelStoreError({ reason: "busy", retryable: true }))
      failNext.push(new ReadModelStoreError({ reason: "busy again", retryable: true }))
      const runner = yield* run([counter()], events, store)
      yield* runner.waitFor(head)
      expect(total(yield* documents(store, "counter_counts"))).toBe(10)

      failNext.push(new ReadModelStoreError({ reason: "disk full", retryable: false }))
      yield* appendEvents(events, 1)
      const failure = yield* Effect.flip(runner.waitFor(head + 1n))
      expect(failure).toMatchObject({ _tag: "ProjectionFailed", projection: "counter", position: head })
      expect(failure).not.toHaveProperty("eventType")
      expect(failure.message).toContain("disk full")

      yield* runner.restart("counter")
      yield* runner.waitFor(head + 1n)
      expect((yield* runner.statusOf("counter")).state).toBe("running")
    }),
  )

  it.effect("reports checkpoint, head, lag, state and events per second", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const gate = yield* Deferred.make<void>()
      const head = yield* appendEvents(events, 600)
      const readModels = makeInMemoryReadModelStore()
      const runner = yield* run([counter()], gated(events, gate), readModels, { batchSize: 100 })
      expect(yield* runner.status).toEqual([
        {
          name: "counter",
          version: 1,
          generation: 1,
          state: "catching-up",
          checkpoint: 0n,
          headPosition: 600n,
          lag: 600n,
          eventsPerSecond: 0,
        },
      ])
      yield* TestClock.adjust("2 seconds")
      yield* Deferred.succeed(gate, undefined)
      yield* runner.waitFor(head)
      yield* TestClock.adjust("1 second")
      const [status] = yield* runner.status
      expect(status).toMatchObject({ state: "running", checkpoint: 600n, lag: 0n })
      // 600 events in the last 3 seconds of the runner's life.
      expect(status?.eventsPerSecond).toBe(200)
      yield* TestClock.adjust("10 seconds")
      expect((yield* runner.statusOf("counter")).eventsPerSecond).toBe(0)
    }),
  )

  it.effect("rebuilds a new generation while the old one serves, and switches readers atomically", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      const head = yield* appendEvents(events, 3_000, 10)
      const seen: Array<{ readonly active: number; readonly building: number | undefined }> = []
      let appendedDuringRebuild = false
      const { store } = spied(readModels, (target) =>
        Effect.gen(function* () {
          if (target.generation !== 2) return
          // What a reader sees while the rebuild runs: the whole old model, never a part of the new.
          const active = total(yield* documents(readModels, "counter_counts"))
          const generations = yield* readModels.generations("counter")
          const building = generations.some((g) => g.generation === 2 && !g.active)
            ? total(yield* documents(readModels, "counter_counts", 2))
            : undefined
          seen.push({ active, building })
          if (!appendedDuringRebuild) {
            appendedDuringRebuild = true
            yield* Effect.orDie(appendEvents(events, 20, 10))
          }
        }).pipe(Effect.orDie),
      )
      const runner = yield* run([counter()], events, store, { batchSize: 250 })
      yield* runner.waitFor(head)

      const progress = yield* runner.rebuild("counter")
      expect(progress).toMatchObject({
        generation: 2,
        state: "switched",
        total: 3_000,
        done: 3_000,
        etaSeconds: 0,
      })
      const building = seen.filter((s) => s.building !== undefined)
      expect(building.length).toBeGreaterThan(5)
      // Readers saw the full old model (3000, then more as the live loop followed the new events)...
      for (const s of building) expect(s.active).toBeGreaterThanOrEqual(3_000)
      // ...while the new generation was only partly built.
      expect(building.some((s) => (s.building ?? 0) < 3_000)).toBe(true)

      yield* runner.waitFor(head + 20n)
      expect(total(yield* documents(readModels, "counter_counts"))).toBe(3_020)
      expect((yield* readModels.generations("counter")).map((g) => [g.generation, g.active])).toEqual([
        [2, true],
      ])
      const status = yield* runner.statusOf("counter")
      expect(status).toMatchObject({
        generation: 2,
        state: "running",
        rebuild: { generation: 2, state: "switched" },
      })
      const docs = yield* documents(readModels, "counter_counts")
      for (const doc of docs) expect(new Set(doc.positions).size).toBe(doc.positions.length)
    }),
  )

  it.effect("two rebuilds asked for at once both succeed and leave one active generation", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      const head = yield* appendEvents(events, 500, 10)
      // A store that yields on every look-up, as a remote one does, so the two calls interleave.
      const slow = {
        ...readModels,
        generations: (name: string) => Effect.andThen(Effect.yieldNow, readModels.generations(name)),
      }
      const runner = yield* run([counter()], events, slow, { batchSize: 100 })
      yield* runner.waitFor(head)
      const [first, second] = yield* Effect.all([runner.rebuild("counter"), runner.rebuild("counter")], {
        concurrency: "unbounded",
      })
      // The second either joins the first or, if the first already switched, builds the next one.
      expect(first).toMatchObject({ generation: 2, state: "switched" })
      expect(second).toMatchObject({ state: "switched" })
      expect((yield* readModels.generations("counter")).map((g) => [g.generation, g.active])).toEqual([
        [second.generation, true],
      ])
      expect(total(yield* documents(readModels, "counter_counts"))).toBe(500)
    }),
  )

  it.effect("shows a rebuild's progress while it runs", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      const head = yield* appendEvents(events, 1_000, 10)
      const statuses: Array<unknown> = []
      let runner: Effect.Success<ReturnType<typeof run>> | undefined
      const { store } = spied(readModels, (target) =>
        target.generation === 2 && runner !== undefined
          ? Effect.flatMap(runner.statusOf("counter"), (s) => Effect.sync(() => statuses.push(s))).pipe(
              Effect.orDie,
            )
          : Effect.void,
      )
      runner = yield* run([counter()], events, store, { batchSize: 100 })
      yield* runner.waitFor(head)
      yield* runner.rebuild("counter")
      // Each status is taken inside a commit of the new generation, so it shows the batch before.
      expect(statuses[1]).toMatchObject({
        state: "rebuilding",
        generation: 1,
        rebuild: { generation: 2, state: "building", done: 100, total: 1_000 },
      })
      expect(statuses[5]).toMatchObject({ state: "rebuilding", rebuild: { done: 500, total: 1_000 } })
    }),
  )

  it.effect(
    "rebuilds by itself when the projection's version changed; the old generation serves until the switch",
    () =>
      Effect.gen(function* () {
        const events = makeInMemoryEventStore()
        const readModels = makeInMemoryReadModelStore()
        const head = yield* appendEvents(events, 500, 5)
        yield* Effect.scoped(
          Effect.flatMap(run([counter()], events, readModels), (runner) => runner.waitFor(head)),
        )
        const gate = yield* Deferred.make<void>()
        const runner = yield* run(
          [counter("counter", { version: 2, weight: 10 })],
          gated(events, gate),
          readModels,
        )
        expect(yield* runner.statusOf("counter")).toMatchObject({
          version: 2,
          generation: 1,
          state: "rebuilding",
          checkpoint: head,
          rebuild: { generation: 2, version: 2, state: "building", done: 0, total: 500 },
        })
        // Version 1's model serves meanwhile.
        expect(total(yield* documents(readModels, "counter_counts"), "weight")).toBe(500)
        const waiting = yield* Effect.forkChild(runner.waitFor(head + 1n))
        yield* Deferred.succeed(gate, undefined)
        yield* appendEvents(events, 1)
        yield* Fiber.join(waiting)
        expect(total(yield* documents(readModels, "counter_counts"), "weight")).toBe(5_010)
        expect(
          (yield* readModels.generations("counter")).map((g) => [g.generation, g.version, g.active]),
        ).toEqual([[2, 2, true]])
      }),
  )

  it.effect("fails a rebuild that meets a bad event, while the current generation goes on", () =>
    Effect.gen(function* () {
      const events = makeInMemoryEventStore()
      const readModels = makeInMemoryReadModelStore()
      yield* appendEvents(events, 10)
      let poisoned = false
      const base = counter()
      const moody = defineProjection<RecordedEvent>({
        ...base,
        decode: (recorded) => base.decode(recorded),
        reads: (recorded, e) => base.reads?.(recorded, e) ?? [],
        apply: (tx, recorded, e) => {
          if (poisoned) throw new Error("bad mood")
          base.apply(tx, recorded, e)
        },
      })
      const runner = yield* run([moody], events, readModels)
      yield* runner.waitFor(10n)
      poisoned = true
      const failure = yield* Effect.flip(runner.rebuild("counter"))
      expect(failure).toMatchObject({ _tag: "ProjectionFailed", generation: 2, position: 1n })
      poisoned = false
      yield* appendEvents(events, 1)
      yield* runner.waitFor(11n)
      expect(yield* runner.statusOf("counter")).toMatchObject({
        state: "running",
        generation: 1,
        checkpoint: 11n,
        rebuild: { generation: 2, state: "failed", failure },
      })
      expect(total(yield* documents(readModels, "counter_counts"))).toBe(11)
      expect((yield* Effect.flip(runner.rebuild("unknown")))._tag).toBe("UnknownProjection")
      // A second attempt, healthy now, replaces the failed generation.
      expect(yield* runner.rebuild("counter")).toMatchObject({ generation: 3, state: "switched" })
      expect((yield* readModels.generations("counter")).map((g) => g.generation)).toEqual([3])
    }),
  )
})
