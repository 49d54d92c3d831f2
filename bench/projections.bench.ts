/**
 * Projections benchmark (docs/benchmarks.md describes it): every projection the API runs rebuilt
 * from scratch from a SQLite event store of 1,000,000 realistic customer events (about 100,000
 * customers) into a SQLite read store (the events' file, the product's default) and a PostgreSQL
 * read store (a throwaway server); events/s end to end, peak RSS, then card and list latencies at
 * that size; and Emmett's projections over a prefix of the same events, as ratios.
 *
 *   node bench/projections.bench.ts     (through ./npmw exec, or: npm run bench -- projections)
 *   BENCH_SCALE=0.1 ...                 quick run: every count a tenth
 *   BENCH_STORES=sqlite ...             only some read stores (sqlite, postgres)
 *   BENCH_PEERS=none ...                our stores only
 *   (each count on its own: BENCH_EVENTS, BENCH_CUSTOMERS, BENCH_QUERY_SAMPLES, BENCH_PEER_EVENTS)
 *
 * Prints one JSON object: {"suite":"projections","rows":[...],"maxRssKb":n}.
 */
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { SqliteEventStore, SqliteReadModelStore } from "@relata/adapter-sqlite"
import type { EventStoreService } from "@relata/domain"
import type { ReadModelStoreService } from "@relata/projections"
import { Effect, Stream } from "effect"
import pg from "pg"
import { emmettCardRebuild } from "./projections/emmett.ts"
import { measureQueries, type QueryFigures } from "./projections/queries.ts"
import { apiProjections, type RebuildFigures, rebuildAll } from "./projections/rebuild.ts"
import { loadPeers } from "./stores/peers.ts"
import type { Row } from "./stores/workload.ts"

const log = (message: string): void => {
  process.stderr.write(`projections: ${message}\n`)
}

const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a number > 0, got "${raw}"`)
  return value
}

const scale = envNumber("BENCH_SCALE", 1)
const sizes = {
  events: Math.round(envNumber("BENCH_EVENTS", 1_000_000 * scale)),
  customers: Math.round(envNumber("BENCH_CUSTOMERS", 100_000 * scale)),
  querySamples: Math.round(envNumber("BENCH_QUERY_SAMPLES", 2_000)),
  /** Commands of the trickle after the rebuild, at 500/s. */
  trickleCommands: Math.round(envNumber("BENCH_TRICKLE_COMMANDS", 1_000)),
  /** The prefix Emmett rebuilds: at ~3,500 events/s the whole store would take minutes. */
  peerEvents: Math.round(envNumber("BENCH_PEER_EVENTS", 20_000 * scale)),
}

/** The runner's settings: its defaults, as the API runs it, unless BENCH_RUNNER_BATCH sets the batch size. */
const runnerConfig =
  process.env.BENCH_RUNNER_BATCH === undefined ? {} : { batchSize: envNumber("BENCH_RUNNER_BATCH", 5_000) }

const rows: Array<Row> = []
const notes: Array<string> = []
const note = (message: string) => {
  notes.push(message)
  log(`NOTE: ${message}`)
}

const rebuildRows = (label: string, figures: RebuildFigures): ReadonlyArray<Row> => [
  {
    name: `${label}: rebuild all projections, end to end`,
    value: figures.eventsPerSecond,
    unit: "events/s",
    target: ">= 100000",
    higherIsBetter: true,
  },
  ...figures.perProjection.map(
    (p): Row => ({
      name: `${label}: ${p.name} at the head (beside the others)`,
      value: p.eventsPerSecond,
      unit: "events/s",
      higherIsBetter: true,
    }),
  ),
  {
    name: `${label}: process peak RSS after a quarter of the events`,
    value: figures.peakRssFirstQuarterMb,
    unit: "MB",
    higherIsBetter: false,
  },
  {
    name: `${label}: process peak RSS after the rebuild`,
    value: figures.peakRssMb,
    unit: "MB",
    target: "< 300",
    higherIsBetter: false,
  },
  ...(figures.trickle === undefined
    ? []
    : [
        {
          name: `${label}: single commands at 500/s, append to card commit p50`,
          value: figures.trickle.p50,
          unit: "ms",
          higherIsBetter: false,
        },
        {
          name: `${label}: single commands at 500/s, append to card commit p99`,
          value: figures.trickle.p99,
          unit: "ms",
          higherIsBetter: false,
        },
        {
          name: `${label}: single commands at 500/s, achieved (each waits for its card)`,
          value: figures.trickle.perSecond,
          unit: "commands/s",
          higherIsBetter: true,
        },
      ]),
]

const queryRows = (label: string, figures: QueryFigures): ReadonlyArray<Row> =>
  figures.latencies.flatMap(
    ({ name, p50, p99 }): ReadonlyArray<Row> => [
      { name: `${label}: ${name} p50`, value: p50, unit: "ms", higherIsBetter: false },
      {
        name: `${label}: ${name} p99`,
        value: p99,
        unit: "ms",
        ...(name === "card by id" ? { target: "< 2" } : name.startsWith("list:") ? { target: "< 20" } : {}),
        higherIsBetter: false,
      },
    ],
  )

const measure = (label: string, eventStore: EventStoreService, readModels: ReadModelStoreService) =>
  Effect.gen(function* () {
    log(`${label}: rebuilding every projection from ${sizes.events} events`)
    const rebuilt = yield* rebuildAll(
      eventStore,
      readModels,
      apiProjections,
      { commands: sizes.trickleCommands, perSecond: 500 },
      runnerConfig,
    )
    log(`${label}: ${JSON.stringify(rebuilt)}`)
    rows.push(...rebuildRows(label, rebuilt))
    const queried = yield* measureQueries(readModels, sizes.querySamples)
    log(`${label}: ${queried.customers} cards; ${JSON.stringify(queried.latencies)}`)
    rows.push(...queryRows(label, queried))
    return rebuilt
  })

const benchDir = path.dirname(fileURLToPath(import.meta.url))
const started = performance.now()
const wanted = new Set((process.env.BENCH_STORES ?? "sqlite,postgres").split(",").map((s) => s.trim()))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "relata-projections-bench-"))
process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
const source = path.join(dir, "events.sqlite")

/** Builds a source store in a child process (its memory never counts here); the same sizes give the same events. */
const buildSource = (file: string, events: number): { events: number; customers: number } =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [path.join(benchDir, "projections", "source.ts"), file, String(events), String(sizes.customers)],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    )
      .trim()
      .split("\n")
      .at(-1) ?? "",
  ) as { events: number; customers: number }

const peers = loadPeers()
if ("reason" in peers) note(`Emmett could not be installed or loaded; no peer rows: ${peers.reason}`)

try {
  log(`building the source: ${sizes.events} events, about ${sizes.customers} customers (a child process)`)
  const built = buildSource(source, sizes.events)
  rows.push(
    { name: "source events", value: built.events, unit: "events" },
    { name: "source customers", value: built.customers, unit: "customers" },
  )

  if (wanted.has("sqlite")) {
    // A copy: the read models go into the events' file, and the trickle appends to it; the
    // PostgreSQL measures start from the source as built.
    const file = path.join(dir, "sqlite-read-store.sqlite")
    fs.copyFileSync(source, file)
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const eventStore = yield* SqliteEventStore.make({ path: file })
          const readModels = yield* Effect.acquireRelease(
            SqliteReadModelStore.makeSqliteReadModelStore({ path: file }),
            (handle) => handle.close,
          )
          yield* measure("sqlite", eventStore, readModels)
        }),
      ),
    )
    fs.rmSync(file, { force: true })
  }
  globalThis.gc?.()
  if (wanted.has("postgres")) {
    try {
      await postgres()
    } catch (error) {
      note(`the PostgreSQL measures failed; no postgres rows: ${String(error)}`)
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}

async function postgres(): Promise<void> {
  const testing = await import("@relata/adapter-postgres/testing")
  const adapter = await import("@relata/adapter-postgres")
  const unavailable = testing.postgresUnavailableReason()
  if (unavailable !== undefined) {
    note(`no postgres rows: ${unavailable}`)
    return
  }
  log("postgres: starting a throwaway server (fsync on, as in production)")
  const server = await testing.startPostgresTestServer({
    settings: { fsync: "on", full_page_writes: "on", synchronous_commit: "on" },
  })
  try {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const eventStore = yield* SqliteEventStore.make({ path: source })
          const readModels = yield* adapter.PostgresReadModelStore.make({
            connectionString: server.connectionString,
          })
          yield* measure("postgres", eventStore, readModels)
        }),
      ),
    )
    globalThis.gc?.()
    if (!("reason" in peers)) await peerComparison(server, adapter, peers.require)
  } finally {
    await server.stop()
  }
}

/**
 * Emmett's card projection rebuilt from the first `peerEvents` events (see projections/emmett.ts),
 * and ours, the card projection alone, from the same events into PostgreSQL: the ratio of the two.
 */
async function peerComparison(
  server: {
    readonly connectionString: string
    readonly adminConnectionString: string
    readonly user: string
  },
  adapter: typeof import("@relata/adapter-postgres"),
  require: (name: string) => unknown,
): Promise<void> {
  const prefixFile = path.join(dir, "prefix.sqlite")
  const prefix = buildSource(prefixFile, Math.min(sizes.peerEvents, sizes.events))
  const cards = apiProjections.filter((p) => p.name === "customer-cards")
  const ours = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const eventStore = yield* SqliteEventStore.make({ path: prefixFile })
        const readModels = yield* adapter.PostgresReadModelStore.make({
          connectionString: server.connectionString,
          schema: "prefix",
        })
        const rebuilt = yield* rebuildAll(eventStore, readModels, cards)
        const events = yield* Stream.runCollect(eventStore.readAll())
        return { rebuilt, events: [...events] }
      }),
    ),
  )
  const admin = new pg.Client({ connectionString: server.adminConnectionString })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE emmett_projections OWNER ${server.user}`)
  } finally {
    await admin.end()
  }
  const url = new URL(server.connectionString)
  url.pathname = "/emmett_projections"
  try {
    log(`emmett: loading the first ${prefix.events} events, then rebuilding its card projection`)
    const theirs = await emmettCardRebuild(require, url.toString(), ours.events)
    log(`emmett: ${JSON.stringify(theirs)}; ours (cards alone) ${ours.rebuilt.eventsPerSecond} events/s`)
    const label = `first ${prefix.events.toLocaleString("en-US")} events`
    rows.push(
      {
        name: `postgres: customer-cards alone, ${label}`,
        value: ours.rebuilt.eventsPerSecond,
        unit: "events/s",
        higherIsBetter: true,
      },
      {
        name: `emmett postgres: card projection (pongo), ${label}`,
        value: theirs.eventsPerSecond,
        unit: "events/s",
        target: "ref. ~3,500",
        higherIsBetter: true,
      },
      {
        name: "ours/emmett card rebuild (postgres)",
        value: Math.round((ours.rebuilt.eventsPerSecond / theirs.eventsPerSecond) * 100) / 100,
        unit: "x",
        higherIsBetter: true,
      },
    )
  } catch (error) {
    note(`Emmett's projection rebuild could not run; no peer rows: ${String(error)}`)
  }
}

log(
  `done in ${Math.round((performance.now() - started) / 1000)} s${notes.length > 0 ? `; notes:\n  ${notes.join("\n  ")}` : ""}`,
)
process.stdout.write(
  `${JSON.stringify({ suite: "projections", rows, maxRssKb: process.resourceUsage().maxRSS })}\n`,
  () => process.exit(0),
)
