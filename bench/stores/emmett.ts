/**
 * The same workload on the peer, Emmett 0.42, through its documented API: `getSQLiteEventStore` /
 * `getPostgreSQLEventStore` with their defaults, `appendToStream` with `expectedStreamVersion`,
 * `aggregateStream`, emmett's `CommandHandler`, the stores' consumers with their default pulling,
 * and the exported `readMessagesBatch` for reading everything in global order.
 *
 * The peer runs our Customer decider: its command handler decides with it and its `evolve` decodes
 * and folds as ours does, so the figures compare the stores and their machinery, not the domain.
 * Emmett's packages are loaded at run time from bench/peers, so their types are declared here,
 * only as far as the suite uses them.
 */
import path from "node:path"
import type { CustomerState } from "@relata/domain"
import { Result } from "effect"
import type { PeerRequire } from "./peers.ts"
import type { StoreFigures } from "./relata.ts"
import {
  commandFor,
  countPerType,
  decodePeerEvent,
  historyOf,
  type LoadLength,
  latencies,
  loadCustomers,
  loadLengths,
  log,
  type PeerEvent,
  rate,
  sizes,
  streamIdOf,
  toPeerEvent,
  workloadDecider,
} from "./workload.ts"

interface ReadEvent {
  readonly type: string
  readonly data: unknown
  readonly metadata: { readonly globalPosition: bigint; readonly streamPosition: bigint }
}

interface EventStore {
  appendToStream(
    streamName: string,
    events: Array<PeerEvent>,
    options: { expectedStreamVersion: bigint },
  ): Promise<{ nextExpectedStreamVersion: bigint }>
  aggregateStream<State>(
    streamName: string,
    options: { evolve: (state: State, event: ReadEvent) => State; initialState: () => State },
  ): Promise<{ currentStreamVersion: bigint; state: State }>
  schema: { migrate(): Promise<unknown> }
}

interface ProcessorOptions {
  readonly processorId: string
  readonly startFrom: "BEGINNING"
  readonly eachMessage: (event: ReadEvent) => void
  readonly stopAfter: (event: ReadEvent) => boolean
}

/** How a consumer pulls: events per batch, and the pause after a batch when more are waiting. */
interface Pulling {
  readonly batchSize: number
  readonly pullingFrequencyInMs: number
}

interface Consumer {
  start(): Promise<void>
  close(): Promise<void>
}

interface MessagesBatch {
  readonly messages: ReadonlyArray<ReadEvent>
  readonly currentGlobalPosition: bigint
}

type CommandHandlerFactory = (options: {
  evolve: (state: CustomerState, event: { type: string; data: unknown }) => CustomerState
  initialState: () => CustomerState
}) => (store: EventStore, id: string, handle: (state: CustomerState) => Array<PeerEvent>) => Promise<unknown>

/** A fresh, empty peer store, with the few extras the workload needs. */
export interface PeerStore {
  readonly eventStore: EventStore
  /** Up to `batchSize` events after `after`, in global order. */
  readonly readPage: (after: bigint, batchSize: number) => Promise<MessagesBatch>
  /**
   * Runs a consumer from the beginning until `stopAfter`, with Emmett's default pulling unless
   * `pulling` is given; resolves with the milliseconds it ran.
   */
  readonly catchUp: (
    processorId: string,
    eachMessage: (event: ReadEvent) => void,
    stopAfter: () => boolean,
    pulling?: Pulling,
  ) => Promise<number>
  readonly close: () => Promise<void>
}

/** How to open a fresh peer store of one technology. */
export interface PeerTarget {
  readonly label: string
  readonly open: (name: string) => Promise<PeerStore>
}

/** Emmett's SQLite store on a file in `dir`, as `getSQLiteEventStore({ fileName })` sets it up. */
export const emmettSqlite = (require: PeerRequire, dir: string): PeerTarget => {
  const sqlite = require("@event-driven-io/emmett-sqlite") as {
    getSQLiteEventStore(options: { fileName: string }): EventStore & {
      consumer(options?: { pulling?: Pulling }): Consumer & { processor(options: ProcessorOptions): unknown }
    }
    sqliteConnection(options: { fileName: string }): {
      close(): void
      querySingle<T>(sql: string): Promise<T>
    }
    readMessagesBatch(
      connection: unknown,
      options: { after: bigint; batchSize: number },
    ): Promise<MessagesBatch>
  }
  return {
    label: "sqlite",
    open: async (name) => {
      const fileName = path.join(dir, `emmett-${name}.sqlite`)
      const eventStore = sqlite.getSQLiteEventStore({ fileName })
      await eventStore.schema.migrate()
      const connection = sqlite.sqliteConnection({ fileName })
      const mode = await connection.querySingle<{ synchronous: number }>("PRAGMA synchronous")
      if (name === "single")
        log(`emmett sqlite: PRAGMA synchronous = ${mode.synchronous} (2 = FULL, as ours)`)
      return {
        eventStore,
        readPage: (after, batchSize) => sqlite.readMessagesBatch(connection, { after, batchSize }),
        catchUp: async (processorId, eachMessage, stopAfter, pulling) => {
          const consumer = eventStore.consumer(pulling === undefined ? {} : { pulling })
          consumer.processor({ processorId, startFrom: "BEGINNING", eachMessage, stopAfter })
          const started = performance.now()
          await consumer.start()
          const ms = performance.now() - started
          await consumer.close()
          return ms
        },
        close: async () => connection.close(),
      }
    },
  }
}

/** Emmett's PostgreSQL store, one database per measure, as `getPostgreSQLEventStore(url)` sets it up. */
export const emmettPostgres = (
  require: PeerRequire,
  databaseFor: (name: string) => Promise<string>,
): PeerTarget => {
  const postgres = require("@event-driven-io/emmett-postgresql") as {
    getPostgreSQLEventStore(connectionString: string): EventStore & {
      consumer(options?: { pulling?: Pulling }): Consumer & { reactor(options: ProcessorOptions): unknown }
      close(): Promise<void>
    }
    readMessagesBatch(execute: unknown, options: { after: bigint; batchSize: number }): Promise<MessagesBatch>
  }
  const { dumbo } = require("@event-driven-io/dumbo") as {
    dumbo(options: { connectionString: string }): { execute: unknown; close(): Promise<void> }
  }
  return {
    label: "postgres",
    open: async (name) => {
      const connectionString = await databaseFor(`emmett_${name}`)
      const eventStore = postgres.getPostgreSQLEventStore(connectionString)
      await eventStore.schema.migrate()
      const pool = dumbo({ connectionString })
      return {
        eventStore,
        readPage: (after, batchSize) => postgres.readMessagesBatch(pool.execute, { after, batchSize }),
        catchUp: async (processorId, eachMessage, stopAfter, pulling) => {
          const consumer = eventStore.consumer(pulling === undefined ? {} : { pulling })
          consumer.reactor({ processorId, startFrom: "BEGINNING", eachMessage, stopAfter })
          const started = performance.now()
          await consumer.start()
          const ms = performance.now() - started
          await consumer.close()
          return ms
        },
        close: async () => {
          await pool.close()
          await eventStore.close()
        },
      }
    },
  }
}

const evolve = (state: CustomerState, event: { type: string; data: unknown }): CustomerState =>
  workloadDecider.evolve(state, decodePeerEvent(event))

const initialState = () => workloadDecider.initialState

const withStore = async <A>(
  target: PeerTarget,
  name: string,
  body: (store: PeerStore) => Promise<A>,
): Promise<A> => {
  const store = await target.open(name)
  try {
    return await body(store)
  } finally {
    // A store whose measure failed may fail to close too; the measure's error is the one to report.
    await store.close().catch((error: unknown) => log(`closing ${name}: ${String(error)}`))
  }
}

const singleAppends = async ({ eventStore }: PeerStore): Promise<number> => {
  const perStream = Math.floor(sizes.singleAppends / sizes.streams)
  const streams = Array.from({ length: sizes.streams }, (_, n) => ({
    id: streamIdOf(n),
    events: historyOf(n, perStream).map(({ command, event }) => toPeerEvent(command, event)),
    version: 0n,
  }))
  const started = performance.now()
  for (let round = 0; round < perStream; round++) {
    for (const stream of streams) {
      const result = await eventStore.appendToStream(stream.id, [stream.events[round] as PeerEvent], {
        expectedStreamVersion: stream.version,
      })
      stream.version = result.nextExpectedStreamVersion
    }
  }
  return rate(perStream * streams.length, performance.now() - started)
}

const commands = async (
  { eventStore }: PeerStore,
  commandHandler: CommandHandlerFactory,
): Promise<number> => {
  const handle = commandHandler({ evolve, initialState })
  const all = Array.from({ length: sizes.commands }, (_, i) =>
    commandFor(i % sizes.streams, Math.floor(i / sizes.streams)),
  )
  const started = performance.now()
  for (const command of all) {
    await handle(eventStore, streamIdOf(Number(command.customerId)), (state) => {
      const decision = workloadDecider.decide(command, state)
      if (Result.isFailure(decision)) throw decision.failure
      return decision.success.map((event) => toPeerEvent(command, event))
    })
  }
  return rate(all.length, performance.now() - started)
}

/** As ours: new streams of 10 events, one append each, `inFlight` at a time, in chunks of 1,000. */
const batched = async ({ eventStore }: PeerStore, inFlight: number): Promise<number> => {
  const chunk = 1_000
  let ms = 0
  for (let first = 0; first < sizes.batchStreams; first += chunk) {
    const appends = Array.from({ length: Math.min(chunk, sizes.batchStreams - first) }, (_, i) => ({
      id: streamIdOf(first + i),
      events: historyOf(first + i, sizes.batchSize).map(({ command, event }) => toPeerEvent(command, event)),
    }))
    const started = performance.now()
    let next = 0
    const writer = async () => {
      for (let i = next++; i < appends.length; i = next++) {
        const { id, events } = appends[i] as (typeof appends)[number]
        await eventStore.appendToStream(id, events, { expectedStreamVersion: 0n })
      }
    }
    await Promise.all(Array.from({ length: Math.min(inFlight, appends.length) }, writer))
    ms += performance.now() - started
  }
  return rate(sizes.batchStreams * sizes.batchSize, ms)
}

const readAll = async (store: PeerStore, expected: number): Promise<number> => {
  let count = 0
  let after = 0n
  const started = performance.now()
  for (;;) {
    const page = await store.readPage(after, 1_000)
    if (page.messages.length === 0) break
    for (const event of page.messages) decodePeerEvent(event)
    count += page.messages.length
    after = page.currentGlobalPosition
  }
  const ms = performance.now() - started
  if (count !== expected) throw new Error(`readAll delivered ${count} events, expected ${expected}`)
  return rate(count, ms)
}

/**
 * A consumer from the beginning into a count per type, over the first `events` events: with Emmett's
 * defaults, or with `pulling` (each run its own processor, so neither sees the other's checkpoint).
 */
const catchUp = async (store: PeerStore, events: number, pulling?: Pulling): Promise<number> => {
  const projection = countPerType()
  const ms = await store.catchUp(
    pulling === undefined ? "bench-count-per-type" : "bench-count-per-type-tuned",
    (event) => projection.add(event.type),
    () => projection.total >= events,
    pulling,
  )
  if (projection.total !== events)
    throw new Error(`catch-up saw ${projection.total} events, expected ${events}`)
  return rate(events, ms)
}

const loads = async ({ eventStore }: PeerStore) => {
  for (const length of loadLengths) {
    for (const n of loadCustomers(length)) {
      const events = historyOf(n, length).map(({ command, event }) => toPeerEvent(command, event))
      for (let from = 0; from < events.length; from += 100) {
        await eventStore.appendToStream(streamIdOf(n), events.slice(from, from + 100), {
          expectedStreamVersion: BigInt(from),
        })
      }
    }
  }
  const figures: Partial<Record<LoadLength, { p50: number; p99: number }>> = {}
  for (const length of loadLengths) {
    const ids = loadCustomers(length).map(streamIdOf)
    const load = (i: number) =>
      eventStore.aggregateStream<CustomerState>(ids[i % ids.length] as string, { evolve, initialState })
    for (let i = 0; i < Math.min(100, sizes.loads); i++) await load(i)
    const times: Array<number> = []
    for (let i = 0; i < sizes.loads; i++) {
      const started = performance.now()
      const loaded = await load(i)
      times.push(performance.now() - started)
      if (loaded.currentStreamVersion !== BigInt(length)) {
        throw new Error(`loaded version ${loaded.currentStreamVersion}, expected ${length}`)
      }
    }
    figures[length] = latencies(times)
  }
  return figures
}

/** Runs every measure of the workload on fresh peer stores of `target`. */
export const runEmmett = async (
  target: PeerTarget,
  require: PeerRequire,
  note: (message: string) => void,
): Promise<StoreFigures & { readonly tunedCatchUp: number; readonly failedAttempts: number }> => {
  const label = `emmett ${target.label}`
  const { CommandHandler } = require("@event-driven-io/emmett") as { CommandHandler: CommandHandlerFactory }
  // Emmett's SQLite store fails now and then under this load with "SQLITE_BUSY: cannot commit
  // transaction - SQL statements in progress": it commits while the statement that read the
  // stream's position (`querySingle` on INSERT/UPDATE ... RETURNING, stepped once) is not yet
  // finalized. A measure that fails is run again on a fresh store; the failures are counted and
  // reported as a row of their own, so the figures come only from runs that completed.
  let failedAttempts = 0
  const measure = async <A>(name: string, body: (store: PeerStore) => Promise<A>): Promise<A> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await withStore(target, attempt === 1 ? name : `${name}_${attempt}`, body)
      } catch (error) {
        failedAttempts++
        note(`${label} ${name}: attempt ${attempt} of ${sizes.peerAttempts} failed: ${String(error)}`)
        if (attempt >= sizes.peerAttempts) throw error
      }
    }
  }
  log(`${label}: single appends`)
  const single = await measure("single", singleAppends)
  log(`${label}: ${single} events/s; command handler`)
  const handled = await measure("commands", (store) => commands(store, CommandHandler))
  log(`${label}: ${handled} commands/s; batched`)
  const total = sizes.batchStreams * sizes.batchSize
  const catchUpEvents = Math.min(total, sizes.peerCatchUpEvents)
  const { batch, all, caughtUp, tuned } = await measure("batched", async (store) => {
    const batch = await batched(store, 1)
    log(`${label}: ${batch} events/s; readAll with decoding`)
    const all = await readAll(store, total)
    log(
      `${label}: ${all} events/s; catch-up consumer over the first ${catchUpEvents} events (default pulling)`,
    )
    const caughtUp = await catchUp(store, catchUpEvents)
    log(`${label}: ${caughtUp} events/s; again with batches of 1,000 and no pause`)
    const tuned = await catchUp(store, catchUpEvents, { batchSize: 1_000, pullingFrequencyInMs: 0 })
    log(`${label}: ${tuned} events/s`)
    return { batch, all, caughtUp, tuned }
  })
  log(`${label}: batched, ${sizes.inFlight} appends in flight`)
  // Emmett's SQLite store fails with concurrent appends: each append opens a connection of its own,
  // and with several writers on the file an append fails ("SQLITE_ERROR: cannot rollback - no
  // transaction is active"); it did in every attempt we ran. Each attempt's failure is a note
  // and counted; after the last, this row alone is left out, not the peer's other rows.
  const inFlight = await measure("inflight", (store) => batched(store, sizes.inFlight)).catch(
    (error: unknown) => {
      note(`${label}: no row for ${sizes.inFlight} appends in flight: ${String(error)}`)
      return undefined
    },
  )
  log(`${label}: ${inFlight ?? "no figure:"} events/s; stream loads`)
  const loaded = await measure("loads", loads)
  log(`${label}: loads ${JSON.stringify(loaded)}`)
  return {
    singleAppends: single,
    commands: handled,
    batched: batch,
    ...(inFlight === undefined ? {} : { batchedInFlight: inFlight }),
    loads: loaded,
    snapshotLoads: {},
    readAll: all,
    catchUp: caughtUp,
    tunedCatchUp: tuned,
    failedAttempts,
  }
}
