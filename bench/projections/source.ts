/**
 * Builds the projections suite's source: a SQLite event store (our adapter's file and schema) of
 * realistic customer events. Run as its own process, so that the memory it takes never counts in
 * the suite's peak RSS:
 *
 *   node bench/projections/source.ts <file> <events> <customers>
 *
 * How: the simulator (@relata/simulator) drives `customers / copies` customers through the real
 * command path (decider, command handler, metadata, hash chain) on an in-memory store over 14 months
 * (about 10 events per customer). Running it for every customer would take minutes at its ~6,000
 * events/s, so its history is then replayed `copies` times under other ids (every id the simulator
 * made carries its prefix, which each copy replaces): copy k of the i-th simulated event is written
 * at position i * copies + k, so the copies interleave in time as independent customers would. Each
 * copy gets fresh event ids and its own hash chain, recomputed per stream as the command handler
 * computes it. Rows are written straight into the events table of a file our adapter created (one
 * transaction per 50,000 rows, synchronous OFF: the suite measures reading it, not writing it),
 * truncated at exactly `events`. Prints one JSON line: events, customers, seconds.
 */
import { createHash } from "node:crypto"
import { DatabaseSync } from "node:sqlite"
import { makeSqliteEventStore } from "@relata/adapter-sqlite"
import { canonicalEvent, chainHash, GenesisHash, type JsonObject, type RecordedEvent } from "@relata/domain"
import { runSimulation } from "@relata/simulator"
import { Effect, Stream } from "effect"

const [file, eventsArg, customersArg] = process.argv.slice(2)
if (file === undefined || eventsArg === undefined || customersArg === undefined) {
  throw new Error("usage: source.ts <file> <events> <customers>")
}
const totalEvents = Number(eventsArg)
const totalCustomers = Number(customersArg)
/** Copies of the simulated population; every one of them keeps the simulator's proportions. */
const copies = 10
/** The simulator's id prefix: a token no other text of its catalogue contains. */
const prefix = "zq-"

const started = performance.now()
const log = (message: string) => process.stderr.write(`projections source: ${message}\n`)

log(`simulating ${Math.ceil(totalCustomers / copies)} customers over 14 months`)
const { store } = await Effect.runPromise(
  runSimulation({
    seed: 20240101,
    customers: Math.ceil(totalCustomers / copies),
    months: 14,
    idPrefix: "zq",
  }),
)
const simulated: ReadonlyArray<RecordedEvent> = [
  ...(await Effect.runPromise(Stream.runCollect(store.readAll()))),
]
log(`simulated ${simulated.length} events in ${Math.round((performance.now() - started) / 1000)} s`)
if (simulated.length * copies < totalEvents) {
  throw new Error(
    `the simulation gave ${simulated.length} events; ${copies} copies cannot make ${totalEvents}`,
  )
}

// The adapter creates the file, its pragmas and its schema (migrations); then it is closed again.
const handle = await Effect.runPromise(makeSqliteEventStore({ path: file }))
await Effect.runPromise(handle.close)

const db = new DatabaseSync(file)
db.exec("PRAGMA synchronous = OFF")
const insert = db.prepare(
  "INSERT INTO events (position, stream_id, version, event_id, type, schema_version, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
)
const tips = new Map<string, string>()
const customers = new Set<string>()
const renamed = (text: string, copy: number): string => text.replaceAll(prefix, `z${copy}-`)
const eventIdOf = (eventId: string, copy: number): string => {
  const hex = createHash("sha256").update(`${copy}/${eventId}`).digest("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

let position = 0
db.exec("BEGIN")
outer: for (const event of simulated) {
  const { hash: _hash, ...metadata } = event.metadata
  const dataText = JSON.stringify(event.data)
  const metadataText = JSON.stringify(metadata)
  for (let copy = 0; copy < copies; copy++) {
    if (position >= totalEvents) break outer
    const streamId = renamed(event.streamId, copy)
    const copied = {
      streamId,
      version: event.version,
      eventId: eventIdOf(event.eventId, copy),
      type: event.type,
      schemaVersion: event.schemaVersion,
      data: JSON.parse(renamed(dataText, copy)) as JsonObject,
      metadata: JSON.parse(renamed(metadataText, copy)) as JsonObject,
    }
    const hash = chainHash(tips.get(streamId) ?? GenesisHash, canonicalEvent(copied))
    tips.set(streamId, hash)
    customers.add(streamId)
    position++
    insert.run(
      position,
      streamId,
      copied.version,
      copied.eventId,
      copied.type,
      copied.schemaVersion,
      JSON.stringify(copied.data),
      JSON.stringify({ ...copied.metadata, hash }),
    )
    if (position % 50_000 === 0) {
      db.exec("COMMIT")
      db.exec("BEGIN")
    }
  }
}
db.exec("COMMIT")
db.exec("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
const seconds = Math.round((performance.now() - started) / 100) / 10
log(`wrote ${position} events of ${customers.size} customers in ${seconds} s`)
process.stdout.write(`${JSON.stringify({ events: position, customers: customers.size, seconds })}\n`)
