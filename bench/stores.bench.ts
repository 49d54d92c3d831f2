/**
 * Store benchmark: the shared workload (see docs/benchmarks.md) on our SQLite store (a real file)
 * and PostgreSQL store (a throwaway server over TCP), and in the same process run on the peer,
 * Emmett 0.42, with the ratios between the two.
 *
 *   node bench/stores.bench.ts          (through ./npmw exec, or with the harness: npm run bench -- stores)
 *   BENCH_SCALE=0.1 ...                 quick run: every count a tenth
 *   BENCH_STORES=sqlite ...             only some stores (sqlite, postgres)
 *   BENCH_PEERS=none ...                our stores only
 *   (each count on its own: BENCH_STREAMS, BENCH_SINGLE_APPENDS, BENCH_COMMANDS, BENCH_BATCH_STREAMS,
 *   BENCH_IN_FLIGHT, BENCH_LOADS, BENCH_PEER_CATCHUP_EVENTS; BENCH_PEER_ATTEMPTS; BENCH_NODEDIR for the peer's build)
 *
 * The peer is installed on first use into bench/peers/node_modules (see stores/peers.ts). When it
 * cannot be installed or run, the suite still reports our rows and says why on stderr; it never
 * reports a peer figure it did not measure. Prints one JSON object: {"suite":"stores","rows":[...],"maxRssKb":n}.
 */
import { spawnSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { SqliteEventStore } from "@relata/adapter-sqlite"
import { EventStore, SnapshotStore } from "@relata/domain"
import { Context, Effect, Layer } from "effect"
import pg from "pg"
import { emmettPostgres, emmettSqlite, type PeerTarget, runEmmett } from "./stores/emmett.ts"
import { loadPeers, type PeerRequire } from "./stores/peers.ts"
import { type RelataTarget, relataRows, runRelata, type StoreFigures } from "./stores/relata.ts"
import { type LoadLength, loadLengths, log, payloadSizes, type Row, sizes } from "./stores/workload.ts"

// Emmett's SQLite store races with libuv's default pool of four threads: sqlite3 may run its COMMIT
// before finalizing a statement it stepped once, which fails with "SQLITE_BUSY: cannot commit
// transaction - SQL statements in progress" (within a few hundred appends on a busy machine). With
// one thread, sqlite3's jobs run in the order they were queued and the race is gone. Our stores run
// none of their queries on that pool (node:sqlite is synchronous, pg talks over sockets), so only the
// peer sees the setting. libuv sizes the pool once, at first use, so the suite restarts itself with
// it set; set UV_THREADPOOL_SIZE yourself to run with another size.
if (process.env.UV_THREADPOOL_SIZE === undefined) {
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, UV_THREADPOOL_SIZE: "1" },
  })
  process.exit(child.status ?? 1)
}

/** Emmett's figures measured by the team on 2-core machines with Node 24: a reference column only. */
const peerReference: Record<string, Partial<Record<keyof StoreFigures, string>>> = {
  sqlite: {
    singleAppends: "ref. ~1,600",
    commands: "ref. ~1,100",
    batched: "ref. ~10,000-12,000",
    catchUp: "ref. ~4,000",
  },
  postgres: {
    singleAppends: "ref. ~1,100",
    commands: "ref. ~700",
    batched: "ref. ~7,400",
    catchUp: "ref. ~3,300",
  },
}

const rows: Array<Row> = []
const notes: Array<string> = []
const note = (message: string) => {
  notes.push(message)
  log(`NOTE: ${message}`)
}

const sqliteTarget = (dir: string): RelataTarget => ({
  label: "sqlite",
  // The event store and its snapshot store on one connection, as an application configures them.
  open: (name) =>
    Effect.map(
      Layer.build(SqliteEventStore.layerWithSnapshots({ path: path.join(dir, `${name}.sqlite`) })),
      (context) => ({
        eventStore: Context.get(context, EventStore),
        snapshotStore: Context.get(context, SnapshotStore),
      }),
    ),
})

type PeerFigures = Awaited<ReturnType<typeof runEmmett>>

/** The peer's rows: ours' names with the "emmett" prefix, and the team's reference figures beside them. */
const peerRows = (label: string, figures: PeerFigures): ReadonlyArray<Row> => {
  const reference = peerReference[label] ?? {}
  const targets: Record<string, string | undefined> = {
    [`emmett ${label} single appends`]: reference.singleAppends,
    [`emmett ${label} command handler`]: reference.commands,
    [`emmett ${label} batched appends (10 per append, sequential)`]: reference.batched,
    [`emmett ${label} catch-up (count per type)`]: reference.catchUp,
    [`emmett ${label} load 1,000-event stream p50`]: label === "sqlite" ? "ref. 5-7" : undefined,
  }
  return [
    ...relataRows(`emmett ${label}`, figures).map((row) => {
      const target = targets[row.name]
      return target === undefined ? row : { ...row, target }
    }),
    {
      name: `emmett ${label} catch-up, tuned pulling (batches of 1,000, no pause)`,
      value: figures.tunedCatchUp,
      unit: "events/s",
      higherIsBetter: true,
    },
    {
      name: `emmett ${label} failed attempts, each rerun on a fresh store`,
      value: figures.failedAttempts,
      unit: "count",
      higherIsBetter: false,
    },
  ]
}

/** How many times better ours is than the peer's (above 1: ours is faster). */
const ratioRows = (label: string, ours: StoreFigures, theirs: PeerFigures): ReadonlyArray<Row> => {
  const ratio = (name: string, value: number): Row => ({
    name: `${name} (${label})`,
    value: Math.round(value * 100) / 100,
    unit: "x",
    higherIsBetter: true,
  })
  const loadRatio = (length: LoadLength, snapshots: boolean): ReadonlyArray<Row> => {
    const mine = (snapshots ? ours.snapshotLoads : ours.loads)[length]?.p50
    const peer = theirs.loads[length]?.p50
    if (mine === undefined || peer === undefined || mine <= 0) return []
    const stream = `${length.toLocaleString("en-US")}-event stream`
    return [ratio(`emmett/ours load ${stream} p50${snapshots ? ", ours with snapshots" : ""}`, peer / mine)]
  }
  return [
    ratio("ours/emmett single appends", ours.singleAppends / theirs.singleAppends),
    ratio("ours/emmett command handler", ours.commands / theirs.commands),
    ratio("ours/emmett batched appends, sequential", ours.batched / theirs.batched),
    ...(ours.batchedInFlight === undefined || theirs.batchedInFlight === undefined
      ? []
      : [
          ratio(
            `ours/emmett batched appends, ${sizes.inFlight} in flight`,
            ours.batchedInFlight / theirs.batchedInFlight,
          ),
        ]),
    ...loadLengths.flatMap((length) => loadRatio(length, false)),
    ...loadRatio(1_000, true),
    ratio("ours/emmett readAll + decode", ours.readAll / theirs.readAll),
    ratio("ours/emmett catch-up", ours.catchUp / theirs.catchUp),
    ratio("ours/emmett catch-up, emmett tuned", ours.catchUp / theirs.tunedCatchUp),
  ]
}

/** Our figures, then the peer's and the ratios when the peer can run; a failing peer is a note, not a failure. */
const compare = async (
  ours: RelataTarget,
  peer: ((require: PeerRequire) => PeerTarget) | undefined,
  peers: ReturnType<typeof loadPeers>,
) => {
  const seconds = (since: number) => Math.round((performance.now() - since) / 1000)
  const started = performance.now()
  const mine = await Effect.runPromise(runRelata(ours))
  rows.push(...relataRows(ours.label, mine))
  log(`${ours.label}: ours took ${seconds(started)} s`)
  if ("reason" in peers || peer === undefined) return
  const peerStarted = performance.now()
  try {
    const theirs = await runEmmett(peer(peers.require), peers.require, note)
    rows.push(...peerRows(ours.label, theirs), ...ratioRows(ours.label, mine, theirs))
  } catch (error) {
    note(`Emmett ${ours.label} could not run; no peer rows for ${ours.label}: ${String(error)}`)
  }
  log(`${ours.label}: emmett took ${seconds(peerStarted)} s`)
}

const postgres = async (peers: ReturnType<typeof loadPeers>) => {
  let testing: typeof import("@relata/adapter-postgres/testing")
  let adapter: typeof import("@relata/adapter-postgres")
  try {
    adapter = await import("@relata/adapter-postgres")
    testing = await import("@relata/adapter-postgres/testing")
  } catch (error) {
    note(`the PostgreSQL adapter or its test server could not be loaded; no postgres rows: ${String(error)}`)
    return
  }
  const unavailable = testing.postgresUnavailableReason()
  if (unavailable !== undefined) {
    note(`no postgres rows: ${unavailable}`)
    return
  }
  log("postgres: starting a throwaway server (fsync on, as in production)")
  // The harness turns fsync off for tests; a benchmark of appends must pay for durability.
  const server = await testing.startPostgresTestServer({
    settings: { fsync: "on", full_page_writes: "on", synchronous_commit: "on" },
  })
  try {
    const ours: RelataTarget = {
      label: "postgres",
      // The event store and its snapshot store on one pool, as an application configures them.
      open: (name) =>
        Effect.map(
          Layer.build(
            adapter.PostgresEventStore.layerWithSnapshots({
              connectionString: server.connectionString,
              schema: `bench_${name}`,
            }),
          ),
          (context) => ({
            eventStore: Context.get(context, EventStore),
            snapshotStore: Context.get(context, SnapshotStore),
          }),
        ),
    }
    // Emmett keeps its tables in one schema, so each of its measures gets a database of its own.
    const databaseFor = async (name: string): Promise<string> => {
      const admin = new pg.Client({ connectionString: server.adminConnectionString })
      await admin.connect()
      try {
        await admin.query(`CREATE DATABASE ${name} OWNER ${server.user}`)
      } finally {
        await admin.end()
      }
      const url = new URL(server.connectionString)
      url.pathname = `/${name}`
      return url.toString()
    }
    await compare(ours, (require) => emmettPostgres(require, databaseFor), peers)
  } finally {
    await server.stop()
  }
}

const started = performance.now()
const bytes = payloadSizes()
log(
  `payload per event: type + data ${bytes.data} B; workload metadata ${bytes.peerMetadata} B; ` +
    `our metadata ${bytes.ourMetadata} B (+${bytes.ourMetadata - bytes.peerMetadata} B)`,
)
rows.push(
  { name: "event type + data per event (JSON)", value: bytes.data, unit: "bytes" },
  { name: "workload metadata per event (actorId, correlationId)", value: bytes.peerMetadata, unit: "bytes" },
  {
    name: "our metadata per event (with command, causation, recordedAt, hash)",
    value: bytes.ourMetadata,
    unit: "bytes",
  },
)

const wanted = new Set((process.env.BENCH_STORES ?? "sqlite,postgres").split(",").map((s) => s.trim()))
const peers = loadPeers()
if ("reason" in peers) note(`Emmett could not be installed or loaded; no peer rows: ${peers.reason}`)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "relata-stores-bench-"))
// Again at exit: a peer operation still in flight after a failure may create a file in it after the
// removal below.
process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
try {
  if (wanted.has("sqlite")) await compare(sqliteTarget(dir), (require) => emmettSqlite(require, dir), peers)
  if (wanted.has("postgres")) {
    try {
      await postgres(peers)
    } catch (error) {
      note(`the PostgreSQL measures failed; no postgres rows: ${String(error)}`)
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}

log(
  `done in ${Math.round((performance.now() - started) / 1000)} s${notes.length > 0 ? `; notes:\n  ${notes.join("\n  ")}` : ""}`,
)
// Pools and timers of a peer may keep the event loop alive: end once the result line is written.
process.stdout.write(
  `${JSON.stringify({ suite: "stores", rows, maxRssKb: process.resourceUsage().maxRSS })}\n`,
  () => process.exit(0),
)
