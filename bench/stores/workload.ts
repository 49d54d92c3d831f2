/**
 * The shared store workload (docs/benchmarks.md describes it): Customer streams `customer-<n>` of
 * real events, decided by the Customer decider and encoded as the command handler stores them, the
 * sizes of each measure, and the small helpers every runner shares. Our runner and the peer's run the
 * same commands and the same event data; only the stored metadata differs (ours carries more).
 */
import { randomUUID } from "node:crypto"
import {
  addDays,
  type CustomerCommand,
  type CustomerEvent,
  type CustomerEventType,
  type CustomerState,
  currentSchemaVersion,
  customerEventMetadata,
  customerStreamId,
  decodeCustomerEvent,
  type EventToAppend,
  encodeCustomerEvent,
  GenesisTip,
  type Instant,
  type JsonObject,
  makeCustomerDecider,
  withChainHashes,
} from "@relata/domain"
import { Result } from "effect"

/** One line of the suite's result, as bench/run.ts reads it. */
export interface Row {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly target?: string
  readonly higherIsBetter?: boolean
}

/** Progress and notes: stderr, so stdout keeps only the result line. */
export const log = (message: string): void => {
  process.stderr.write(`stores: ${message}\n`)
}

const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a number > 0, got "${raw}"`)
  return value
}

/** The stream lengths whose loads are timed. */
export const loadLengths = [10, 100, 1_000] as const
export type LoadLength = (typeof loadLengths)[number]

/**
 * The workload's sizes. BENCH_SCALE (default 1) scales every count for quick runs (0.1 runs in
 * seconds); each count can also be set on its own.
 */
export const sizes = (() => {
  const scale = envNumber("BENCH_SCALE", 1)
  const scaled = (name: string, full: number, least: number) =>
    Math.max(least, Math.round(envNumber(name, full * scale)))
  const streams = scaled("BENCH_STREAMS", 2_000, 10)
  return {
    /** Streams the single appends and the commands are spread over, interleaved. */
    streams,
    /** One-event appends, round-robin over `streams`: each stream gets singleAppends / streams events. */
    singleAppends: Math.max(streams, scaled("BENCH_SINGLE_APPENDS", 20_000, 10)),
    commands: scaled("BENCH_COMMANDS", 5_000, 10),
    batchStreams: scaled("BENCH_BATCH_STREAMS", 20_000, 10),
    batchSize: 10,
    /** Appends in flight at once in the concurrent batched measure (each writer waits for its own). */
    inFlight: Math.round(envNumber("BENCH_IN_FLIGHT", 32)),
    /** Timed loads per stream length (after a warm-up); at least 1,000 at full scale. */
    loads: scaled("BENCH_LOADS", 1_000, 50),
    /** How many streams of each length the loads cycle through. */
    loadStreams: { 10: 100, 100: 20, 1000: 4 } as Record<LoadLength, number>,
    /**
     * Events the peer's catch-up consumer processes: a prefix of the batched store, since at its
     * default pulling (batches of 100, a 50 ms pause after each) the whole store would take minutes.
     */
    peerCatchUpEvents: scaled("BENCH_PEER_CATCHUP_EVENTS", 20_000, 100),
    /** Tries per peer measure, each on a fresh store, before the peer's rows are given up (see emmett.ts). */
    peerAttempts: Math.round(envNumber("BENCH_PEER_ATTEMPTS", 3)),
  }
})()

/**
 * The decider the workload runs: the default policies, except a loyalty rule no stream here meets,
 * so that every command emits exactly one event and only of the workload's six types.
 */
export const workloadDecider = makeCustomerDecider({ loyalty: { purchases: 24, withinMonths: 1 } })

const firstIssuedAt = "2024-01-15T09:00:00.000Z" as Instant
const recordedAt = "2024-06-01T12:00:00.000Z"
const tiers = ["C", "B", "A", "B"] as const

/** The stream of customer `n`: `customer-<n>`. */
export const streamIdOf = (n: number): string => customerStreamId(String(n) as CustomerCommand["customerId"])

const purchase = (n: number, k: number) => ({
  purchaseId: `order-${n}-${k}`,
  amount: { amountMinor: 10_000 + ((n * 31 + k * 17) % 90_000), currency: "EUR" },
  description: "Spare parts and an on-site service visit for the packaging line",
})

/**
 * The k-th command a sales rep sends for customer `n`: register, qualify, convert, then purchases,
 * tier changes and follow-up calls in turn, one day apart. Built directly rather than with the
 * testing kit's `customerCommand`, which loads vitest (it would dominate the suite's RSS).
 */
export const commandFor = (n: number, k: number): CustomerCommand => {
  const envelope = {
    commandId: `command-${n}-${k}`,
    customerId: String(n),
    actor: { id: `rep-${n % 50}`, role: "manager" },
    issuedAt: addDays(firstIssuedAt, k),
  }
  const make = (type: CustomerCommand["_tag"], fields: object) =>
    ({ _tag: type, ...envelope, ...fields }) as CustomerCommand
  switch (k) {
    case 0:
      return make("RegisterLead", {
        profile: {
          name: `Customer ${n} Trading`,
          company: `Customer ${n} Trading GmbH`,
          email: `purchasing.${n}@customer-${n}.example.com`,
          address: `${n} Harbour Road, 20457 Hamburg`,
        },
        source: "trade fair",
        owner: `rep-${n % 50}`,
      })
    case 1:
      return make("QualifyLead", {
        reason: "Budget confirmed; the purchasing manager wants an offer this quarter",
      })
    case 2:
      return make("ConvertToCustomer", { firstPurchase: purchase(n, k) })
  }
  switch ((k - 3) % 3) {
    case 0:
      return make("RecordPurchase", purchase(n, k))
    case 1:
      return make("ChangeTier", {
        to: tiers[Math.floor((k - 3) / 3) % tiers.length],
        reason: "Quarterly review of revenue, order frequency and payment behaviour",
      })
    default:
      return make("RecordFollowUp", {
        channel: "phone",
        summary: `Call about order ${k}: delivery dates and the next framework contract`,
        outcome: "Expects to order again next month",
      })
  }
}

/** One decided event with the command that produced it. */
export interface Decided {
  readonly command: CustomerCommand
  readonly event: CustomerEvent
}

/** The first `length` events of customer `n`'s history, as the decider produces them. */
export const historyOf = (n: number, length: number): ReadonlyArray<Decided> => {
  const decided: Array<Decided> = []
  let state: CustomerState = workloadDecider.initialState
  for (let k = 0; decided.length < length; k++) {
    const command = commandFor(n, k)
    const result = workloadDecider.decide(command, state)
    if (Result.isFailure(result)) throw result.failure
    if (result.success.length !== 1)
      throw new Error(`command ${k} of customer ${n} emitted ${result.success.length} events`)
    const event = result.success[0] as CustomerEvent
    decided.push({ command, event })
    state = workloadDecider.evolve(state, event)
  }
  return decided
}

/** The metadata the command handler stores with every event (before the chain hash). */
export const ourMetadata = (command: CustomerCommand): JsonObject => ({
  ...customerEventMetadata(command),
  commandId: command.commandId,
  recordedAt,
})

/** A history as our command handler would have appended it: our metadata, chained hashes. */
export const toOurEvents = (
  streamId: string,
  history: ReadonlyArray<Decided>,
): ReadonlyArray<EventToAppend> =>
  withChainHashes(
    streamId,
    GenesisTip,
    history.map(({ command, event }) => ({
      eventId: randomUUID(),
      ...encodeCustomerEvent(event),
      metadata: ourMetadata(command),
    })),
  )

/** An event as the peer (Emmett) takes it: type, data and the workload's metadata. */
export interface PeerEvent {
  readonly type: string
  readonly data: JsonObject
  readonly metadata: { readonly actorId: string; readonly correlationId: string }
}

/** The workload's metadata, which both stores carry: who acted, under which correlation. */
export const toPeerEvent = (command: CustomerCommand, event: CustomerEvent): PeerEvent => ({
  type: event._tag,
  data: encodeCustomerEvent(event).data,
  metadata: { actorId: command.actor.id, correlationId: command.correlationId ?? command.commandId },
})

/** Decodes an event read from the peer's store as ours decodes stored events (the current versions). */
export const decodePeerEvent = (event: { readonly type: string; readonly data: unknown }): CustomerEvent => {
  const decoded = decodeCustomerEvent({
    type: event.type,
    schemaVersion: currentSchemaVersion(event.type as CustomerEventType),
    data: event.data as JsonObject,
  })
  if (Result.isFailure(decoded)) throw decoded.failure
  return decoded.success
}

/** The average size in bytes of an event's data, the workload's metadata and ours, as JSON. */
export const payloadSizes = (): { data: number; peerMetadata: number; ourMetadata: number } => {
  const samples = 200
  let data = 0
  let peer = 0
  let ours = 0
  let count = 0
  for (let n = 0; n < samples; n++) {
    const history = historyOf(n, 10)
    const stored = toOurEvents(streamIdOf(n), history)
    history.forEach(({ command, event }, i) => {
      const peerEvent = toPeerEvent(command, event)
      data += Buffer.byteLength(JSON.stringify({ type: peerEvent.type, data: peerEvent.data }))
      peer += Buffer.byteLength(JSON.stringify(peerEvent.metadata))
      ours += Buffer.byteLength(JSON.stringify((stored[i] as EventToAppend).metadata))
      count++
    })
  }
  return {
    data: Math.round(data / count),
    peerMetadata: Math.round(peer / count),
    ourMetadata: Math.round(ours / count),
  }
}

/** A trivial projection: how many events of each type. */
export const countPerType = () => {
  const counts = new Map<string, number>()
  let total = 0
  return {
    add: (type: string) => {
      counts.set(type, (counts.get(type) ?? 0) + 1)
      total++
    },
    get total() {
      return total
    },
  }
}

/** Items per second. */
export const rate = (items: number, ms: number): number => Math.round(items / (ms / 1000))

/** The p-th quantile (0..1) of ascending `sorted`, nearest rank. */
export const quantile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number

/** p50 and p99 of load times in ms, rounded to microseconds. */
export const latencies = (times: Array<number>): { p50: number; p99: number } => {
  times.sort((a, b) => a - b)
  const round = (ms: number) => Math.round(ms * 1000) / 1000
  return { p50: round(quantile(times, 0.5)), p99: round(quantile(times, 0.99)) }
}

/** How many customers of each length the load measure uses, numbered apart from the other measures. */
export const loadCustomers = (length: LoadLength): ReadonlyArray<number> =>
  Array.from(
    { length: sizes.loadStreams[length] },
    (_, j) => 1_000_000 * (1 + loadLengths.indexOf(length)) + j,
  )
