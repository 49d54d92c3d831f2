#!/usr/bin/env -S node --max-semi-space-size=16 --max-old-space-size=384
/**
 * `relata`: the command line. `serve` is the main job (the HTTP API, with demo data and a token per
 * role on a fresh embedded store); `demo` seeds demo data; `projections run` is the projection
 * worker when the server runs with `projections: worker`; `projections`, `history`, `card` and
 * `audit` are what operators and auditors need without writing code. Every command has --help.
 *
 * Exit codes: 0 done; 1 the command found a problem (a broken chain, an unknown customer, a failed
 * request); 2 bad usage or configuration; 3 a store or the server cannot be reached.
 */
import { realpathSync } from "node:fs"
import { hostname } from "node:os"
import { fileURLToPath } from "node:url"
import {
  type BrokenLink,
  CustomerId,
  type CustomerState,
  customerStreamPrefix,
  decodeCustomerEvent,
  EventStore,
  InstantFromString,
  initialState,
  instantFromMillis,
  StoredEventUnreadable,
  type StoreUnavailable,
} from "@relata/domain"
import {
  auditEntriesToCsv,
  auditEntriesToJsonLines,
  auditEntryOf,
  type CustomerCardAsOf,
  customerAuditTrailFromStore,
  customerCardAsOf,
  type GenerationRef,
  headsDigest,
  ProjectionRunner,
  ReadModelStore,
  verifyCustomer,
  verifyStore,
  viewOf,
} from "@relata/projections"
import cliProgress from "cli-progress"
import { Cause, Clock, Console, Effect, Fiber, Layer, Option, Result, Schema, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type ApiConfig, type DemoMode, loadApiConfig } from "./ApiConfig.ts"
import { NotFound } from "./ApiError.ts"
import { apiProjections } from "./ApiLayer.ts"
import { seedDemo } from "./Demo.ts"
import { cliEnvironment, ExitCode, runMain } from "./internal/cliRuntime.ts"
import { type ProjectionStatusView, projectionStatusView } from "./routes/projections.ts"
import { eventStoreLayer, isEmbedded, readModelStoreLayer, readModelsUrl } from "./Stores.ts"
import { parseStoreUrl, redactStoreUrl } from "./StoreUrl.ts"
import { resolveTokens, startServer } from "./server.ts"
import { openWorkerReport, reportsOf, writeWorkerReport } from "./WorkerReport.ts"

const version = "0.1.0"

// ---------------------------------------------------------------------------------------------
// Errors the commands report, and their exit codes
// ---------------------------------------------------------------------------------------------

/** The event store's chains do not all hold. */
class ChainsBroken extends Schema.TaggedError<ChainsBroken>()("ChainsBroken", { streams: Schema.Number }) {
  override get message(): string {
    return `${this.streams} stream(s) have a broken hash chain`
  }
}

/** The server could not be reached, or answered with an error. */
class ServerRequestFailed extends Schema.TaggedError<ServerRequestFailed>()("ServerRequestFailed", {
  url: Schema.String,
  status: Schema.optionalKey(Schema.Number),
  detail: Schema.String,
}) {
  override get message(): string {
    return this.status === undefined
      ? `Cannot reach ${this.url}: ${this.detail}`
      : `${this.url} answered ${this.status}: ${this.detail}`
  }
}

/** The server did not start. */
class StartFailed extends Schema.TaggedError<StartFailed>()("StartFailed", {
  detail: Schema.String,
  unavailable: Schema.Boolean,
}) {
  override get message(): string {
    return `The server did not start: ${this.detail}`
  }
}

const usageTags = new Set([
  "UnrecognizedOption",
  "DuplicateOption",
  "MissingOption",
  "MissingArgument",
  "UnexpectedArgument",
  "InvalidValue",
  "UnknownSubcommand",
  "ValidationError",
  "UserError",
  "ConfigError",
  "InvalidSimulationConfig",
])
const unavailableTags = new Set([
  "SqliteStoreOpenError",
  "PostgresStoreOpenError",
  "KurrentDbStoreOpenError",
  "StoreUnavailable",
])

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && typeof (error as { _tag?: unknown })._tag === "string"
    ? (error as { _tag: string })._tag
    : undefined

/** The exit code of a failed command. */
export const exitCodeOf = (cause: Cause.Cause<unknown>): number => {
  const error = Cause.squash(cause)
  const tag = tagOf(error)
  if (tag === "ShowHelp")
    return (error as { errors: ReadonlyArray<unknown> }).errors.length > 0 ? ExitCode.usage : 0
  if (tag !== undefined && usageTags.has(tag)) return ExitCode.usage
  if (tag !== undefined && unavailableTags.has(tag)) return ExitCode.unavailable
  if (tag === "StartFailed")
    return (error as StartFailed).unavailable ? ExitCode.unavailable : ExitCode.failed
  if (tag === "ServerRequestFailed") {
    return (error as ServerRequestFailed).status === undefined ? ExitCode.unavailable : ExitCode.failed
  }
  return ExitCode.failed
}

const cliErrorTags = new Set([...usageTags, "ShowHelp"])

/** Prints a failure the CLI library has not printed already. */
const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    if (Cause.hasInterruptsOnly(cause)) return
    const error = Cause.squash(cause)
    const tag = tagOf(error)
    if (
      tag !== undefined &&
      cliErrorTags.has(tag) &&
      tag !== "ConfigError" &&
      tag !== "InvalidSimulationConfig"
    ) {
      return
    }
    if (tag === undefined || !(error instanceof Error)) console.error(`relata: ${Cause.pretty(cause)}`)
    else console.error(`relata: ${error.message}`)
  })

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

const configuration = Effect.suspend(() => Effect.fromResult(loadApiConfig(process.env)))

const json = Flag.Boolean("json").pipe(
  Flag.withDescription("Print JSON instead of text"),
  Flag.withDefault(false),
)

const customerIdArgument = Argument.String("customer-id").pipe(
  Argument.withDescription("The customer's id"),
  Argument.withSchema(CustomerId),
)

const instant = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.withSchema(InstantFromString), Flag.optional)

const isTerminal = () => process.stderr.isTTY === true

/** A progress bar on stderr when it is a terminal; nothing otherwise (logs, CI). */
const progressBar = (label: string) => {
  if (!isTerminal()) return { update: (_done: number, _total: number) => {}, stop: () => {} }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      etaBuffer: 50,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  const started = Date.now()
  let running = false
  return {
    update: (done: number, total: number) => {
      const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000))
      if (!running) {
        bar.start(total, done, { rate })
        running = true
      } else {
        bar.setTotal(total)
        bar.update(done, { rate })
      }
    },
    stop: () => {
      if (running) bar.stop()
    },
  }
}

const seedDemoInto = (config: ApiConfig, customers: number | undefined, seed?: number, months?: number) =>
  Effect.gen(function* () {
    const bar = progressBar("Seeding demo data")
    const started = Date.now()
    const tally = yield* seedDemo({
      ...(customers === undefined ? {} : { customers }),
      ...(seed === undefined ? {} : { seed }),
      ...(months === undefined ? {} : { months }),
      onProgress: (progress) => bar.update(progress.done, progress.total),
    }).pipe(
      Effect.ensuring(Effect.sync(() => bar.stop())),
      Effect.provide(eventStoreLayer(config.eventStore, { bulk: true })),
    )
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    yield* Console.log(
      `Seeded ${tally.period.customers} customers (${tally.events.total} events) in ${seconds} s`,
    )
  })

// ---------------------------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------------------------

const shouldSeed = (config: ApiConfig, mode: DemoMode) =>
  Effect.gen(function* () {
    if (mode === "never" || (mode === "auto" && !isEmbedded(config.eventStore))) return false
    // An in-memory store lives in the server's process: data seeded from here would not be there.
    if (parseStoreUrl(config.eventStore).kind === "memory") return false
    const head = yield* EventStore.use((store) => store.headPosition).pipe(
      Effect.provide(eventStoreLayer(config.eventStore)),
    )
    return head === 0n
  })

const printBanner = (config: ApiConfig, url: string, server: Awaited<ReturnType<typeof startServer>>) =>
  Effect.gen(function* () {
    const lines = [
      `Relata is listening on ${url}`,
      `  API docs: ${url}/docs   OpenAPI: ${url}/openapi.json   health: ${url}/ready`,
      `  event store: ${redactStoreUrl(config.eventStore)}`,
      config.projections === "worker"
        ? "  projections: in a separate worker; start it with `RELATA_PROJECTIONS=worker relata projections run`"
        : "  projections: in this process",
    ]
    const tokens = server.tokens
    if (tokens.kind === "generated") {
      lines.push(`  tokens (${tokens.created ? "made now and kept" : "kept"} in ${tokens.file}):`)
      for (const grant of tokens.grants) {
        lines.push(`    ${grant.role.padEnd(8)} ${grant.actorId.padEnd(18)} ${grant.token}`)
      }
      const rep = tokens.grants.find((grant) => grant.role === "rep")
      if (rep !== undefined) {
        lines.push(
          `  try: curl -H "Authorization: Bearer ${rep.token}" "${url}/v1/customers?owner=me&limit=3"`,
        )
      }
    } else {
      lines.push(`  tokens: ${tokens.grants.length} configured`)
    }
    lines.push("  Ctrl-C stops it (in-flight requests finish first).")
    yield* Console.log(lines.join("\n"))
  })

const serve = Command.make(
  "serve",
  {
    host: Flag.String("host").pipe(
      Flag.withDescription("Interface to listen on (default RELATA_HOST or 127.0.0.1)"),
      Flag.optional,
    ),
    port: Flag.Int("port").pipe(Flag.withDescription("Port (default RELATA_PORT or 3000)"), Flag.optional),
    demo: Flag.Literals("demo", ["auto", "always", "never"]).pipe(
      Flag.withDescription(
        "Seed demo data into an empty store: auto (only the embedded SQLite default), always, never (default RELATA_DEMO or auto)",
      ),
      Flag.optional,
    ),
    demoCustomers: Flag.Int("demo-customers").pipe(
      Flag.withDescription("Customers the demo seed simulates"),
      Flag.withDefault(1000),
    ),
  },
  (flags) =>
    Effect.gen(function* () {
      const loaded = yield* configuration
      const config: ApiConfig = {
        ...loaded,
        ...Option.match(flags.host, { onNone: () => ({}), onSome: (host) => ({ host }) }),
        ...Option.match(flags.port, { onNone: () => ({}), onSome: (port) => ({ port }) }),
      }
      const mode = Option.getOrElse(flags.demo, () => config.demo)
      if (yield* shouldSeed(config, mode)) {
        yield* Console.log(
          "The event store is empty: seeding demo data first (RELATA_DEMO=never skips this).",
        )
        yield* seedDemoInto(config, flags.demoCustomers)
      }
      const server = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => startServer(config),
          catch: (error) =>
            new StartFailed({
              detail: error instanceof Error ? error.message : String(error),
              unavailable:
                unavailableTags.has(tagOf(error) ?? "") ||
                (error as { code?: unknown }).code === "EADDRINUSE",
            }),
        }),
        (running) => Effect.promise(() => running.close()),
      )
      yield* printBanner(config, server.url, server)
      return yield* Effect.never
    }).pipe(Effect.scoped),
).pipe(
  Command.withDescription(
    "Run the HTTP API (the main job); seeds demo data and makes tokens on a fresh embedded store",
  ),
  Command.withExamples([
    { command: "relata serve", description: "Serve on 127.0.0.1:3000 from ./data/relata.sqlite" },
    {
      command: "RELATA_EVENT_STORE=postgres://relata@db/relata relata serve --port 8080",
      description: "Serve from PostgreSQL",
    },
  ]),
)

// ---------------------------------------------------------------------------------------------
// demo
// ---------------------------------------------------------------------------------------------

const demo = Command.make(
  "demo",
  {
    customers: Flag.Int("customers").pipe(
      Flag.withDescription("Customers to simulate (default: the simulator's, a few thousand)"),
      Flag.optional,
    ),
    seed: Flag.Int("seed").pipe(
      Flag.withDescription("Random seed; another seed gives other customers (and ids)"),
      Flag.optional,
    ),
    months: Flag.Int("months").pipe(Flag.withDescription("Simulated months (default 24)"), Flag.optional),
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* configuration
      yield* seedDemoInto(
        config,
        Option.getOrUndefined(flags.customers),
        Option.getOrUndefined(flags.seed),
        Option.getOrUndefined(flags.months),
      )
    }),
).pipe(
  Command.withDescription(
    "Seed demo data through the real command path: reps, regions, industries, tiers, follow-ups, churn and win-back",
  ),
)

// ---------------------------------------------------------------------------------------------
// projections: through the running server, whose runner owns the read models
// ---------------------------------------------------------------------------------------------

const serverUrl = Flag.String("url").pipe(
  Flag.withDescription("The server (default http://RELATA_HOST:RELATA_PORT)"),
  Flag.optional,
)
const token = Flag.String("token").pipe(
  Flag.withDescription("An admin's bearer token (default RELATA_TOKEN, else the admin token `serve` made)"),
  Flag.optional,
)

const serverOf = (config: ApiConfig, url: Option.Option<string>) =>
  Option.getOrElse(
    url,
    () => `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${config.port}`,
  )

const adminToken = (config: ApiConfig, given: Option.Option<string>): string | undefined => {
  if (Option.isSome(given)) return given.value
  if (process.env.RELATA_TOKEN) return process.env.RELATA_TOKEN
  if (config.tokens !== undefined) return undefined
  try {
    return resolveTokens(config).grants.find((grant) => grant.role === "admin")?.token
  } catch {
    return undefined
  }
}

const request = (url: string, init: { method: string; token: string | undefined }) =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(url, {
        method: init.method,
        headers: init.token === undefined ? {} : { authorization: `Bearer ${init.token}` },
      })
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>
      return { status: response.status, body }
    },
    catch: (error) =>
      new ServerRequestFailed({ url, detail: error instanceof Error ? error.message : String(error) }),
  }).pipe(
    Effect.flatMap(({ status, body }) =>
      status >= 200 && status < 300
        ? Effect.succeed(body)
        : Effect.fail(
            new ServerRequestFailed({
              url,
              status,
              detail: String(body.detail ?? body.title ?? "no detail"),
            }),
          ),
    ),
  )

const fetchStatuses = (base: string, bearer: string | undefined) =>
  Effect.map(
    request(`${base}/v1/projections`, { method: "GET", token: bearer }),
    (body) => body.projections as ReadonlyArray<ProjectionStatusView>,
  )

const statusLine = (status: ProjectionStatusView): string =>
  [
    status.name.padEnd(20),
    status.state.padEnd(12),
    `generation ${status.generation}`,
    `checkpoint ${status.checkpoint}`,
    `head ${status.headPosition}`,
    `lag ${status.lag}`,
    `${status.eventsPerSecond.toFixed(0)} events/s`,
    status.failure === undefined ? "" : `FAILED: ${status.failure}`,
  ]
    .filter((part) => part !== "")
    .join("  ")

const projectionsStatus = Command.make("status", { url: serverUrl, token, json }, (flags) =>
  Effect.gen(function* () {
    const config = yield* configuration
    const statuses = yield* fetchStatuses(serverOf(config, flags.url), adminToken(config, flags.token))
    yield* Console.log(
      flags.json
        ? JSON.stringify(statuses, null, 2)
        : statuses.map(statusLine).join("\n") || "No projections",
    )
  }),
).pipe(Command.withDescription("Each projection's state, checkpoint, lag and rate, from the running server"))

const projectionsRebuild = Command.make(
  "rebuild",
  {
    name: Argument.String("name").pipe(
      Argument.withDescription("The projection to rebuild (default: every one)"),
      Argument.optional,
    ),
    url: serverUrl,
    token,
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* configuration
      const base = serverOf(config, flags.url)
      const bearer = adminToken(config, flags.token)
      const names = Option.isSome(flags.name)
        ? [flags.name.value]
        : (yield* fetchStatuses(base, bearer)).map((status) => status.name)
      for (const name of names) {
        const started = yield* request(`${base}/v1/projections/${encodeURIComponent(name)}/rebuild`, {
          method: "POST",
          token: bearer,
        })
        const generation = (started as unknown as ProjectionStatusView).rebuild?.generation
        const bar = progressBar(`Rebuilding ${name}`)
        let final: ProjectionStatusView | undefined
        while (final === undefined) {
          yield* Effect.sleep("250 millis")
          const status = (yield* fetchStatuses(base, bearer)).find((s) => s.name === name)
          const rebuild = status?.rebuild
          if (status === undefined || rebuild === undefined) continue
          if (generation !== undefined && rebuild.generation !== generation) continue
          bar.update(rebuild.done, rebuild.total)
          if (rebuild.state !== "building") final = status
        }
        bar.stop()
        const rebuild = final.rebuild
        if (rebuild?.state === "failed") {
          return yield* new ServerRequestFailed({
            url: base,
            status: 500,
            detail: `rebuild of ${name} failed: ${rebuild.failure ?? "see the server's log"}`,
          })
        }
        yield* Console.log(`${name}: generation ${rebuild?.generation} is live (${rebuild?.total} positions)`)
      }
    }),
).pipe(Command.withDescription("Rebuild projections blue/green on the running server, with progress"))

// ---------------------------------------------------------------------------------------------
// projections run: the worker, when the server runs with projections: worker
// ---------------------------------------------------------------------------------------------

const projectionNames = apiProjections.map((projection) => projection.name)

const timestamped = (line: string) =>
  Effect.map(Clock.currentTimeMillis, (now) => `${new Date(now).toISOString()} ${line}`)

const logStatuses = (prefix: string) =>
  Effect.gen(function* () {
    const statuses = yield* ProjectionRunner.use((runner) => runner.status)
    for (const status of statuses) {
      yield* Console.log(yield* timestamped(`${prefix} ${statusLine(projectionStatusView(status))}`))
    }
  })

/** The checkpoints as stored, once the loops have stopped: what the server and the next start see. */
const logStoredCheckpoints = Effect.gen(function* () {
  const readModels = yield* ReadModelStore
  for (const name of projectionNames) {
    const active = (yield* readModels.generations(name)).find((g) => g.active)
    yield* Console.log(
      yield* timestamped(
        `stopped ${name.padEnd(20)} generation ${active?.generation ?? 0}  checkpoint ${active?.checkpoint ?? 0n}`,
      ),
    )
  }
})

/** Which worker wrote a report, for the server's status and for a second worker's warning. */
const workerName = `${hostname()} pid ${process.pid}`

/** How often the worker reports; servers count it as gone after `workerStaleAfterMs` (15 s) without one. */
const reportIntervalMs = 1_000

/** Writes the runner's statuses to the worker's report; answers another worker that reported recently. */
const reportStatuses = (target: GenerationRef, stopped: boolean) =>
  Effect.gen(function* () {
    const readModels = yield* ReadModelStore
    const statuses = yield* ProjectionRunner.use((runner) => runner.status)
    const now = yield* Clock.currentTimeMillis
    return yield* writeWorkerReport(
      readModels,
      target,
      reportsOf(statuses, { worker: workerName, now, stopped }),
    )
  })

/**
 * The worker's heartbeat: its runner's statuses every second, into the report it opens on the first
 * beat that can. A report that cannot be opened or written never stops the projections (the servers
 * then see the heartbeat go stale); the log says so once, not every second, and once more when
 * reports go through again.
 */
const heartbeat = (opened: { target?: GenerationRef }) =>
  Effect.gen(function* () {
    let failing = false
    let other: string | undefined
    while (true) {
      const written = yield* Effect.result(
        Effect.gen(function* () {
          opened.target ??= yield* openWorkerReport(yield* ReadModelStore)
          return yield* reportStatuses(opened.target, false)
        }),
      )
      if (Result.isFailure(written)) {
        if (!failing) {
          yield* Console.error(
            yield* timestamped(
              `cannot write the worker report (servers will count this worker as not reporting): ${written.failure.message}`,
            ),
          )
        }
        failing = true
      } else {
        if (failing) yield* Console.log(yield* timestamped("the worker report is written again"))
        failing = false
        if (written.success !== other && written.success !== undefined) {
          yield* Console.error(
            yield* timestamped(
              `another projection worker (${written.success}) is running on the same stores: run one worker per read-model store`,
            ),
          )
        }
        other = written.success
      }
      yield* Effect.sleep(reportIntervalMs)
    }
  })

/** Reports every second while the scope is open; at its close, a last report saying the worker stopped. */
const reporting = Effect.gen(function* () {
  const opened: { target?: GenerationRef } = {}
  yield* Effect.acquireRelease(Effect.forkChild(heartbeat(opened)), (beat) =>
    // The heartbeat stops first, so no report of a running worker lands after the last one.
    Effect.andThen(
      Fiber.interrupt(beat),
      Effect.suspend(() =>
        opened.target === undefined ? Effect.void : Effect.ignore(reportStatuses(opened.target, true)),
      ),
    ),
  )
})

const projectionsRun = Command.make(
  "run",
  {
    rebuild: Flag.Literals("rebuild", projectionNames).pipe(
      Flag.withDescription(
        "Also rebuild this projection blue/green once started (repeatable); the current read model serves until the switch",
      ),
      Flag.atLeast(0),
    ),
    statusInterval: Flag.Int("status-interval").pipe(
      Flag.withDescription("Seconds between status lines (0: only at start and stop)"),
      Flag.withDefault(60),
    ),
    batchSize: Flag.Int("batch-size").pipe(
      Flag.withDescription("The most events one transaction applies (default 5000)"),
      Flag.withSchema(Schema.Int.check(Schema.isGreaterThan(0))),
      Flag.optional,
    ),
  },
  (flags) =>
    Effect.gen(function* () {
      const configured = yield* configuration
      if (configured.projections === "in-process") {
        yield* Console.error(
          "relata: note: a server configured with projections: in-process runs the projections too; start it with RELATA_PROJECTIONS=worker",
        )
      }
      // The worker's stores must be ones the server can see: checked as for the server in worker mode.
      const config = yield* Effect.fromResult(loadApiConfig({ ...process.env, RELATA_PROJECTIONS: "worker" }))
      const readModels = readModelsUrl(config.readModels, config.eventStore)
      const stores = Layer.merge(eventStoreLayer(config.eventStore), readModelStoreLayer(readModels))
      const work = Effect.gen(function* () {
        const runner = yield* ProjectionRunner
        yield* Console.log(
          yield* timestamped(
            `Relata projection worker: events ${redactStoreUrl(config.eventStore)}, read models ${redactStoreUrl(readModels)}; SIGINT or SIGTERM stops it`,
          ),
        )
        yield* logStatuses("started")
        yield* reporting
        for (const name of new Set(flags.rebuild)) {
          yield* runner.rebuild(name).pipe(
            Effect.flatMap((done) =>
              Effect.flatMap(
                timestamped(`rebuilt ${name}: generation ${done.generation} is live`),
                Console.log,
              ),
            ),
            Effect.catch((error) =>
              Effect.flatMap(timestamped(`rebuild of ${name} failed: ${error.message}`), Console.error),
            ),
            Effect.forkChild,
          )
        }
        if (flags.statusInterval > 0) {
          yield* Effect.forever(
            Effect.andThen(Effect.sleep(flags.statusInterval * 1000), logStatuses("status")),
          )
        }
        return yield* Effect.never
      }).pipe(
        Effect.scoped,
        Effect.provide(
          ProjectionRunner.layer(
            apiProjections,
            Option.match(flags.batchSize, { onNone: () => ({}), onSome: (batchSize) => ({ batchSize }) }),
          ),
        ),
      )
      // Every batch commits its documents with its checkpoint, so stopping between batches loses
      // nothing; the line printed after the loops stopped is what the next start resumes from.
      yield* work.pipe(Effect.ensuring(Effect.ignore(logStoredCheckpoints)), Effect.provide(stores))
    }),
).pipe(
  Command.withDescription(
    "Run the projections in this process until SIGINT/SIGTERM: the worker for a server started with RELATA_PROJECTIONS=worker",
  ),
  Command.withExamples([
    {
      command: "RELATA_PROJECTIONS=worker relata projections run",
      description: "Keep the read models of ./data/relata.sqlite up to date beside `relata serve`",
    },
    {
      command: "relata projections run --rebuild customer-cards",
      description: "Restart the worker and rebuild the customer cards blue/green",
    },
  ]),
)

const projectionsCommand = Command.make("projections").pipe(
  Command.withDescription(
    "Projection status and rebuilds (through the running server), and the projection worker (run)",
  ),
  Command.withSubcommands([projectionsStatus, projectionsRebuild, projectionsRun]),
)

// ---------------------------------------------------------------------------------------------
// history, card, audit: read the event store directly
// ---------------------------------------------------------------------------------------------

const withEventStore = <A, E>(config: ApiConfig, effect: Effect.Effect<A, E, EventStore>) =>
  Effect.provide(effect, eventStoreLayer(config.eventStore))

const history = Command.make("history", { customerId: customerIdArgument, json }, (flags) =>
  Effect.gen(function* () {
    const config = yield* configuration
    const entries = yield* withEventStore(
      config,
      EventStore.use((store) => customerAuditTrailFromStore(store, flags.customerId)),
    )
    if (entries.length === 0) return yield* new NotFound({ what: `Customer ${flags.customerId}` })
    if (flags.json) return yield* Console.log(JSON.stringify(entries, null, 2))
    for (const entry of entries) {
      const who = entry.actor === null ? "" : `  by ${entry.actor.id} (${entry.actor.role})`
      const why = entry.reason === null ? "" : `  reason: ${entry.reason}`
      const recorded = entry.recordedAt !== entry.effectiveAt ? `  (recorded ${entry.recordedAt})` : ""
      yield* Console.log(`v${entry.version}  ${entry.effectiveAt}  ${entry.action}${who}${why}${recorded}`)
      for (const change of entry.changes) {
        yield* Console.log(
          `      ${change.field}: ${JSON.stringify(change.before)} -> ${JSON.stringify(change.after)}`,
        )
      }
    }
  }),
).pipe(Command.withDescription("A customer's full history: every change, when, by whom, why, field by field"))

const card = Command.make(
  "card",
  {
    customerId: customerIdArgument,
    asOf: instant(
      "as-of",
      "The card as recorded by this instant (ISO-8601, e.g. 2024-06-30 or 2024-06-30T12:00:00Z)",
    ),
    effectiveAt: instant(
      "effective-at",
      "The card as effective at this business date (back-dated changes included)",
    ),
    atPosition: Flag.String("at-position").pipe(
      Flag.withDescription("The card as of this global position"),
      Flag.withSchema(Schema.String.check(Schema.isPattern(/^\d{1,19}$/))),
      Flag.optional,
    ),
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* configuration
      const now = instantFromMillis(yield* Clock.currentTimeMillis)
      const moment = {
        recordedAt: Option.getOrElse(flags.asOf, () => now),
        ...Option.match(flags.effectiveAt, {
          onNone: () => ({}),
          onSome: (effectiveAt) => ({ effectiveAt }),
        }),
        ...Option.match(flags.atPosition, { onNone: () => ({}), onSome: (p) => ({ position: BigInt(p) }) }),
      } as CustomerCardAsOf
      const found = yield* withEventStore(
        config,
        EventStore.use((store) => customerCardAsOf(store, flags.customerId, moment)),
      )
      if (found === undefined) {
        return yield* new NotFound({ what: `Customer ${flags.customerId} at that moment` })
      }
      const at = Option.getOrElse(flags.asOf, () => Option.getOrElse(flags.effectiveAt, () => now))
      yield* Console.log(JSON.stringify(viewOf(found, at), null, 2))
    }),
).pipe(
  Command.withDescription("A customer's card now, or as of an instant, a business date or a position"),
  Command.withExamples([
    { command: "relata card s20240101-cus-036 --as-of 2024-06-30", description: "As recorded by mid-2024" },
  ]),
)

/** What a verification found, for one customer or the whole store. */
interface ChainReport {
  readonly ok: boolean
  readonly streams: number
  readonly events: number
  readonly atPosition?: bigint
  readonly broken: ReadonlyArray<BrokenLink>
}

const auditVerify = Command.make(
  "verify",
  {
    customerId: Flag.String("customer").pipe(
      Flag.withDescription("Verify one customer's stream only"),
      Flag.withSchema(CustomerId),
      Flag.optional,
    ),
    json,
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* configuration
      const report = yield* withEventStore(
        config,
        EventStore.use(
          (store): Effect.Effect<ChainReport, StoreUnavailable> =>
            Option.match(flags.customerId, {
              onNone: () => verifyStore(store),
              onSome: (customerId) =>
                Effect.map(verifyCustomer(store, customerId), (result) => ({
                  ok: result.ok,
                  streams: 1,
                  events: result.events,
                  broken: result.ok ? [] : [result.brokenLink],
                })),
            }),
        ),
      )
      if (flags.json) {
        yield* Console.log(
          JSON.stringify(
            {
              ...report,
              ...(report.atPosition === undefined ? {} : { atPosition: String(report.atPosition) }),
              broken: report.broken.map((link) => ({ ...link, position: String(link.position) })),
            },
            null,
            2,
          ),
        )
      } else {
        yield* Console.log(`Verified ${report.streams} streams, ${report.events} events`)
        for (const link of report.broken) {
          yield* Console.log(
            `BROKEN ${link.streamId} at version ${link.version} (position ${link.position}): expected ${link.expected}, found ${link.actual ?? "no hash"}`,
          )
        }
        if (report.broken.length === 0) yield* Console.log("Every hash chain holds.")
      }
      if (report.broken.length > 0) return yield* new ChainsBroken({ streams: report.broken.length })
    }),
).pipe(
  Command.withDescription(
    "Recompute hash chains from the event store and report the first broken link of each",
  ),
)

const auditDigest = Command.make(
  "digest",
  {
    atPosition: Flag.String("at-position").pipe(
      Flag.withDescription("The position to take the heads at (default: the store's head)"),
      Flag.withSchema(Schema.String.check(Schema.isPattern(/^\d{1,19}$/))),
      Flag.optional,
    ),
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* configuration
      const digest = yield* withEventStore(
        config,
        EventStore.use((store) =>
          headsDigest(
            store,
            Option.match(flags.atPosition, {
              onNone: () => ({}),
              onSome: (p) => ({ atPosition: BigInt(p) }),
            }),
          ),
        ),
      )
      yield* Console.log(JSON.stringify({ ...digest, atPosition: String(digest.atPosition) }, null, 2))
    }),
).pipe(
  Command.withDescription(
    "A digest over every stream's head (relata-heads-v1): record it outside the system, recompute it later at the same position",
  ),
)

/** Writes text to stdout, waiting while its buffer is full. */
const writeOut = (text: string) =>
  Effect.promise(() => new Promise<void>((resolve) => process.stdout.write(text, () => resolve())))

const auditExport = Command.make(
  "export",
  {
    format: Flag.Literals("format", ["jsonl", "csv"]).pipe(
      Flag.withDescription("JSON Lines (one entry per line) or CSV (RFC 4180)"),
      Flag.withDefault("jsonl"),
    ),
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* configuration
      // The trail replayed from the events in global order, each customer's state kept between its events.
      const states = new Map<string, CustomerState>()
      const entries = Stream.mapEffect(
        Stream.unwrap(
          EventStore.use((store) =>
            Effect.succeed(store.readAll({ filter: { streamPrefix: customerStreamPrefix } })),
          ),
        ),
        (recorded) => {
          const decoded = decodeCustomerEvent(recorded)
          if (Result.isFailure(decoded)) {
            return Effect.fail(
              new StoredEventUnreadable({
                streamId: recorded.streamId,
                version: recorded.version,
                type: recorded.type,
                cause: decoded.failure,
              }),
            )
          }
          const step = auditEntryOf(states.get(recorded.streamId) ?? initialState, decoded.success, recorded)
          states.set(recorded.streamId, step.state)
          return Effect.succeed(step.entry)
        },
      )
      const text = flags.format === "csv" ? auditEntriesToCsv(entries) : auditEntriesToJsonLines(entries)
      yield* withEventStore(config, Stream.runForEach(text, writeOut))
    }),
).pipe(Command.withDescription("Export the whole audit trail to stdout, replayed from the event store"))

const audit = Command.make("audit").pipe(
  Command.withDescription(
    "Audit the event store: verify the hash chains, take the heads digest, export the trail",
  ),
  Command.withSubcommands([auditVerify, auditDigest, auditExport]),
)

// ---------------------------------------------------------------------------------------------
// The command tree
// ---------------------------------------------------------------------------------------------

/** The `relata` command with every subcommand. */
export const relata = Command.make("relata").pipe(
  Command.withDescription("Relata, an event-sourced CRM core: the HTTP API and the tools around it"),
  Command.withSubcommands([serve, demo, projectionsCommand, history, card, audit]),
)

/** Runs the CLI on `argv` (without node and the script). */
export const runCli = (argv: ReadonlyArray<string>) =>
  Command.run(relata, { version }).pipe(Effect.tapCause(report), Effect.provide(cliEnvironment(argv)))

// Run when executed (node packages/api/src/cli.ts ..., or through the `relata` bin link), not when imported.
const invokedPath = process.argv[1] === undefined ? undefined : realpathSync(process.argv[1])
if (invokedPath === realpathSync(fileURLToPath(import.meta.url))) {
  runMain(runCli(process.argv.slice(2)), exitCodeOf)
}
