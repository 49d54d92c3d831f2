/**
 * The workload on our stores, through the public API an application uses: `EventStoreService`
 * appends, reads and subscriptions, and the Customer command handler (load, decide, append) with the
 * adapter's snapshot store when it has one. A target only says how to open a fresh, empty store.
 */
import {
  type CustomerCommand,
  customerModel,
  decodeCustomerEvent,
  type EventStoreService,
  type EventToAppend,
  ExpectedVersion,
  makeCommandHandler,
  type SnapshotStoreService,
} from "@relata/domain"
import { Effect, Result, type Scope, Stream } from "effect"
import {
  commandFor,
  countPerType,
  historyOf,
  type LoadLength,
  latencies,
  loadCustomers,
  loadLengths,
  log,
  type Row,
  rate,
  sizes,
  streamIdOf,
  toOurEvents,
  workloadDecider,
} from "./workload.ts"

/** A fresh store of one adapter: its event store and, when the adapter has one, its snapshot store. */
export interface RelataStores {
  readonly eventStore: EventStoreService
  readonly snapshotStore?: SnapshotStoreService
}

/** How to open a fresh, empty store of one adapter (a new file, a new schema); closed with the scope. */
export interface RelataTarget {
  /** "sqlite", "postgres": the prefix of every row. */
  readonly label: string
  readonly open: (name: string) => Effect.Effect<RelataStores, unknown, Scope.Scope>
}

/** Measured figures of one target, by measure; the suite turns them into rows and ratios. */
export interface StoreFigures {
  readonly singleAppends: number
  readonly commands: number
  /** One append at a time. */
  readonly batched: number
  /** `sizes.inFlight` appends at a time; missing when the store could not run them (a peer). */
  readonly batchedInFlight?: number
  readonly loads: Partial<Record<LoadLength, { p50: number; p99: number }>>
  readonly snapshotLoads: Partial<Record<LoadLength, { p50: number; p99: number }>>
  readonly readAll: number
  readonly catchUp: number
}

const model = customerModel(workloadDecider)

const time = <A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<number, E, R> =>
  Effect.gen(function* () {
    const started = performance.now()
    yield* body
    return performance.now() - started
  })

/** 20,000 one-event appends over 2,000 streams, round-robin, each expecting the version last seen. */
const singleAppends = (store: EventStoreService) =>
  Effect.gen(function* () {
    const perStream = Math.floor(sizes.singleAppends / sizes.streams)
    const streams = Array.from({ length: sizes.streams }, (_, n) => ({
      id: streamIdOf(n),
      events: toOurEvents(streamIdOf(n), historyOf(n, perStream)),
      version: 0,
    }))
    const ms = yield* time(
      Effect.gen(function* () {
        for (let round = 0; round < perStream; round++) {
          for (const stream of streams) {
            const expected =
              stream.version === 0 ? ExpectedVersion.noStream : ExpectedVersion.exact(stream.version)
            const result = yield* store.append(stream.id, [stream.events[round] as EventToAppend], expected)
            stream.version = result.streamVersion
          }
        }
      }),
    )
    return rate(perStream * streams.length, ms)
  })

/** Commands round-robin over the streams, each loaded, decided and appended by the command handler. */
const commands = (stores: RelataStores) =>
  Effect.gen(function* () {
    const handler = makeCommandHandler(model, stores)
    const all: Array<CustomerCommand> = Array.from({ length: sizes.commands }, (_, i) =>
      commandFor(i % sizes.streams, Math.floor(i / sizes.streams)),
    )
    const ms = yield* time(Effect.forEach(all, (command) => handler.handle(command), { discard: true }))
    return rate(all.length, ms)
  })

/**
 * 20,000 new streams of 10 events, one append each, `inFlight` at a time (1: each waits for the one
 * before); events prepared outside the timed part, in chunks.
 */
const batched = (store: EventStoreService, inFlight: number) =>
  Effect.gen(function* () {
    const chunk = 1_000
    let ms = 0
    for (let first = 0; first < sizes.batchStreams; first += chunk) {
      const appends = Array.from({ length: Math.min(chunk, sizes.batchStreams - first) }, (_, i) => {
        const n = first + i
        return { id: streamIdOf(n), events: toOurEvents(streamIdOf(n), historyOf(n, sizes.batchSize)) }
      })
      ms += yield* time(
        Effect.forEach(appends, ({ id, events }) => store.append(id, events, ExpectedVersion.noStream), {
          concurrency: inFlight,
          discard: true,
        }),
      )
    }
    return rate(sizes.batchStreams * sizes.batchSize, ms)
  })

/** Every event of the store in global order, each decoded as the command handler decodes it. */
const readAll = (store: EventStoreService, expected: number) =>
  Effect.gen(function* () {
    let count = 0
    const ms = yield* time(
      Stream.runForEachArray(store.readAll(), (events) =>
        Effect.sync(() => {
          for (const event of events) {
            const decoded = decodeCustomerEvent(event)
            if (Result.isFailure(decoded)) throw decoded.failure
          }
          count += events.length
        }),
      ),
    )
    if (count !== expected) throw new Error(`readAll delivered ${count} events, expected ${expected}`)
    return rate(count, ms)
  })

/** A subscription from the start of the store into a count per type, until it has seen every event. */
const catchUp = (store: EventStoreService, expected: number) =>
  Effect.gen(function* () {
    const projection = countPerType()
    const ms = yield* time(
      store.subscribe().pipe(
        Stream.take(expected),
        Stream.runForEachArray((events) =>
          Effect.sync(() => {
            for (const event of events) projection.add(event.type)
          }),
        ),
      ),
    )
    if (projection.total !== expected)
      throw new Error(`catch-up saw ${projection.total} events, expected ${expected}`)
    return rate(expected, ms)
  })

/**
 * Streams of 10, 100 and 1,000 events written through the command handler (so snapshots are taken
 * as in production), then loaded through `load`: without the snapshot store, then with it.
 */
const loads = (stores: RelataStores) =>
  Effect.gen(function* () {
    const writer = makeCommandHandler(model, stores)
    for (const length of loadLengths) {
      for (const n of loadCustomers(length)) {
        for (let k = 0; k < length; k++) yield* writer.handle(commandFor(n, k))
      }
    }
    const measure = (withSnapshots: boolean) =>
      Effect.gen(function* () {
        const handler = makeCommandHandler(model, withSnapshots ? stores : { eventStore: stores.eventStore })
        const figures: Partial<Record<LoadLength, { p50: number; p99: number }>> = {}
        for (const length of loadLengths) {
          const ids = loadCustomers(length).map(streamIdOf)
          const warmUp = Math.min(100, sizes.loads)
          for (let i = 0; i < warmUp; i++) yield* handler.load(ids[i % ids.length] as string)
          const times: Array<number> = []
          for (let i = 0; i < sizes.loads; i++) {
            const started = performance.now()
            const loaded = yield* handler.load(ids[i % ids.length] as string)
            times.push(performance.now() - started)
            if (loaded.version !== length)
              throw new Error(`loaded version ${loaded.version}, expected ${length}`)
          }
          figures[length] = latencies(times)
        }
        return figures
      })
    const plain = yield* measure(false)
    const snapshotted = stores.snapshotStore === undefined ? {} : yield* measure(true)
    return { plain, snapshotted }
  })

/** Runs every measure of the workload on fresh stores of `target`. */
export const runRelata = (target: RelataTarget): Effect.Effect<StoreFigures, unknown> =>
  Effect.gen(function* () {
    const { label } = target
    log(`${label}: single appends (${sizes.singleAppends} over ${sizes.streams} streams)`)
    const single = yield* Effect.scoped(
      Effect.flatMap(target.open("single"), (s) => singleAppends(s.eventStore)),
    )
    log(`${label}: ${single} events/s; command handler (${sizes.commands} commands)`)
    const handled = yield* Effect.scoped(Effect.flatMap(target.open("commands"), commands))
    log(`${label}: ${handled} commands/s; batched (${sizes.batchStreams} streams x ${sizes.batchSize})`)
    const total = sizes.batchStreams * sizes.batchSize
    const { batch, all, caughtUp } = yield* Effect.scoped(
      Effect.gen(function* () {
        const { eventStore } = yield* target.open("batched")
        const batch = yield* batched(eventStore, 1)
        log(`${label}: ${batch} events/s; readAll with decoding`)
        const all = yield* readAll(eventStore, total)
        log(`${label}: ${all} events/s; catch-up through subscribe`)
        const caughtUp = yield* catchUp(eventStore, total)
        log(`${label}: ${caughtUp} events/s`)
        return { batch, all, caughtUp }
      }),
    )
    log(`${label}: batched, ${sizes.inFlight} appends in flight`)
    const inFlight = yield* Effect.scoped(
      Effect.flatMap(target.open("inflight"), (s) => batched(s.eventStore, sizes.inFlight)),
    )
    log(`${label}: ${inFlight} events/s; stream loads (${sizes.loads} per length)`)
    const loaded = yield* Effect.scoped(
      Effect.gen(function* () {
        return yield* loads(yield* target.open("loads"))
      }),
    )
    log(`${label}: loads ${JSON.stringify(loaded)}`)
    return {
      singleAppends: single,
      commands: handled,
      batched: batch,
      batchedInFlight: inFlight,
      loads: loaded.plain,
      snapshotLoads: loaded.snapshotted,
      readAll: all,
      catchUp: caughtUp,
    }
  })

/** The rows of one target's figures. */
export const relataRows = (label: string, figures: StoreFigures): ReadonlyArray<Row> => [
  { name: `${label} single appends`, value: figures.singleAppends, unit: "events/s", higherIsBetter: true },
  { name: `${label} command handler`, value: figures.commands, unit: "commands/s", higherIsBetter: true },
  {
    name: `${label} batched appends (10 per append, sequential)`,
    value: figures.batched,
    unit: "events/s",
    higherIsBetter: true,
  },
  ...(figures.batchedInFlight === undefined
    ? []
    : [
        {
          name: `${label} batched appends (10 per append, ${sizes.inFlight} in flight)`,
          value: figures.batchedInFlight,
          unit: "events/s",
          higherIsBetter: true,
        },
      ]),
  ...loadRows(label, figures.loads, ""),
  ...loadRows(label, figures.snapshotLoads, " (snapshots)"),
  { name: `${label} readAll + decode`, value: figures.readAll, unit: "events/s", higherIsBetter: true },
  {
    name: `${label} catch-up (count per type)`,
    value: figures.catchUp,
    unit: "events/s",
    higherIsBetter: true,
  },
]

/** p50 and p99 rows for each measured stream length. */
export const loadRows = (
  label: string,
  figures: Partial<Record<LoadLength, { p50: number; p99: number }>>,
  suffix: string,
): ReadonlyArray<Row> =>
  loadLengths.flatMap((length) => {
    const figure = figures[length]
    if (figure === undefined) return []
    const stream = `${length.toLocaleString("en-US")}-event stream`
    return [
      { name: `${label} load ${stream} p50${suffix}`, value: figure.p50, unit: "ms", higherIsBetter: false },
      { name: `${label} load ${stream} p99${suffix}`, value: figure.p99, unit: "ms", higherIsBetter: false },
    ]
  })
