/**
 * The server's configuration: defaults, overridden by an optional JSON file, overridden by
 * environment variables. One schema checks the result, so a bad setting stops the server at start
 * with a message naming it.
 *
 *   RELATA_CONFIG             path of a JSON file with any of the keys below
 *   RELATA_HOST, RELATA_PORT  where to listen (127.0.0.1:3000)
 *   RELATA_EVENT_STORE        sqlite:<path> (sqlite:./data/relata.sqlite), postgres://..., kurrentdb://..., memory:
 *   RELATA_READ_MODELS        sqlite:<path>, postgres://... or memory: (default: beside the events)
 *   RELATA_TOKENS             JSON array of {token, actorId, role, reps?}
 *   RELATA_TOKENS_FILE        a file holding that array
 *   RELATA_CORS_ORIGINS       comma-separated origins allowed by CORS (none: CORS off)
 *   RELATA_RATE_LIMIT_MAX     requests per client per window (0: no limit); RELATA_RATE_LIMIT_WINDOW_MS
 *   RELATA_BODY_LIMIT_BYTES   largest accepted body
 *   RELATA_LOG_LEVEL          fatal, error, warn, info, debug, trace, silent
 *   RELATA_TRUST_PROXY        true when behind a proxy that sets X-Forwarded-For
 *   RELATA_DEMO               auto (seed demo data into an empty embedded store), always, never
 *   RELATA_SHUTDOWN_TIMEOUT_MS how long shutdown waits for in-flight requests
 *   RELATA_PROJECTIONS        in-process (the server runs the projections) or worker (`relata projections run` does)
 *   RELATA_WORKER_STALE_AFTER_MS worker mode: how old the worker's last report may be before it counts as not reporting
 */
import { readFileSync } from "node:fs"
import { Result, Schema, SchemaIssue } from "effect"
import { TokenGrant } from "./Auth.ts"
import { parseStoreUrl, StoreUrl } from "./StoreUrl.ts"
import { defaultWorkerStaleAfterMs } from "./WorkerReport.ts"

const Port = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

export const LogLevel = Schema.Literals(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
export type LogLevel = typeof LogLevel.Type

/** Whether `serve` seeds demo data: into an empty embedded store (auto), always when empty, or never. */
export const DemoMode = Schema.Literals(["auto", "always", "never"])
export type DemoMode = typeof DemoMode.Type

/**
 * Where the projections run: in the server (in-process), or in a separate process
 * (`relata projections run`), the server then reading their checkpoints from the read-model store.
 */
export const ProjectionsMode = Schema.Literals(["in-process", "worker"])
export type ProjectionsMode = typeof ProjectionsMode.Type

/** The configuration after defaults, file and environment. */
export const ApiConfig = Schema.Struct({
  host: Schema.String.check(Schema.isNonEmpty()),
  port: Port,
  eventStore: StoreUrl,
  /** Where read models live; absent means beside the events (the same SQLite file). */
  readModels: Schema.optionalKey(StoreUrl),
  /** The token table; absent means none configured (`serve` then makes one token per role). */
  tokens: Schema.optionalKey(Schema.Array(TokenGrant)),
  corsOrigins: Schema.Array(Schema.String.check(Schema.isNonEmpty())),
  rateLimit: Schema.Struct({ max: NonNegativeInt, windowMs: PositiveInt }),
  bodyLimitBytes: PositiveInt,
  logLevel: LogLevel,
  trustProxy: Schema.Boolean,
  demo: DemoMode,
  shutdownTimeoutMs: PositiveInt,
  projections: ProjectionsMode,
  /**
   * Worker mode: how old the worker's newest report may be, by the server's clock, before the
   * worker counts as not reporting (`/ready` 503). It reports every second; the rest is margin,
   * including clock skew between the worker's machine and the server's.
   */
  workerStaleAfterMs: PositiveInt,
})
export type ApiConfig = typeof ApiConfig.Type

/** The configuration when nothing is set. */
export const defaultApiConfig: ApiConfig = {
  host: "127.0.0.1",
  port: 3000,
  eventStore: "sqlite:./data/relata.sqlite" as StoreUrl,
  corsOrigins: [],
  rateLimit: { max: 6000, windowMs: 60_000 },
  bodyLimitBytes: 64 * 1024,
  logLevel: "info",
  trustProxy: false,
  demo: "auto",
  shutdownTimeoutMs: 10_000,
  projections: "in-process",
  workerStaleAfterMs: defaultWorkerStaleAfterMs,
}

/** The configuration is invalid or cannot be read; the message names the setting. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  reason: Schema.String,
}) {
  override get message(): string {
    return `Invalid configuration: ${this.reason}`
  }
}

type Env = Readonly<Record<string, string | undefined>>

const readJson = (path: string, what: string): Result.Result<unknown, ConfigError> => {
  try {
    return Result.succeed(JSON.parse(readFileSync(path, "utf8")))
  } catch (error) {
    return Result.fail(
      new ConfigError({
        reason: `${what} ${path}: ${error instanceof Error ? error.message : String(error)}`,
      }),
    )
  }
}

const parseJson = (text: string, what: string): Result.Result<unknown, ConfigError> => {
  try {
    return Result.succeed(JSON.parse(text))
  } catch (error) {
    return Result.fail(
      new ConfigError({
        reason: `${what} is not JSON: ${error instanceof Error ? error.message : String(error)}`,
      }),
    )
  }
}

const number = (value: string): number | string => {
  const trimmed = value.trim()
  return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : value
}

const boolean = (value: string): boolean | string =>
  /^(true|1|yes)$/i.test(value.trim()) ? true : /^(false|0|no)$/i.test(value.trim()) ? false : value

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Reads the configuration from the environment (and the file `RELATA_CONFIG` names), over the
 * defaults. Paths in the file and the environment are relative to the working directory.
 */
export const loadApiConfig = (env: Env = process.env): Result.Result<ApiConfig, ConfigError> =>
  Result.gen(function* () {
    const fromFile: unknown =
      env.RELATA_CONFIG === undefined || env.RELATA_CONFIG === ""
        ? {}
        : yield* readJson(env.RELATA_CONFIG, "the configuration file")
    if (!isRecord(fromFile))
      return yield* Result.fail(new ConfigError({ reason: "the file must hold a JSON object" }))
    const { tokensFile, ...fileSettings } = fromFile

    const merged: Record<string, unknown> = { ...defaultApiConfig, ...fileSettings }
    const set = (key: string, value: string | undefined, convert: (s: string) => unknown = (s) => s) => {
      if (value !== undefined && value !== "") merged[key] = convert(value)
    }
    set("host", env.RELATA_HOST)
    set("port", env.RELATA_PORT, number)
    set("eventStore", env.RELATA_EVENT_STORE)
    set("readModels", env.RELATA_READ_MODELS)
    set("corsOrigins", env.RELATA_CORS_ORIGINS, (s) =>
      s
        .split(",")
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ""),
    )
    set("bodyLimitBytes", env.RELATA_BODY_LIMIT_BYTES, number)
    set("logLevel", env.RELATA_LOG_LEVEL)
    set("trustProxy", env.RELATA_TRUST_PROXY, boolean)
    set("demo", env.RELATA_DEMO)
    set("shutdownTimeoutMs", env.RELATA_SHUTDOWN_TIMEOUT_MS, number)
    set("projections", env.RELATA_PROJECTIONS)
    set("workerStaleAfterMs", env.RELATA_WORKER_STALE_AFTER_MS, number)
    const rateLimit = isRecord(merged.rateLimit) ? { ...merged.rateLimit } : merged.rateLimit
    if (isRecord(rateLimit)) {
      if (env.RELATA_RATE_LIMIT_MAX) rateLimit.max = number(env.RELATA_RATE_LIMIT_MAX)
      if (env.RELATA_RATE_LIMIT_WINDOW_MS) rateLimit.windowMs = number(env.RELATA_RATE_LIMIT_WINDOW_MS)
    }
    merged.rateLimit = rateLimit

    if (env.RELATA_TOKENS !== undefined && env.RELATA_TOKENS !== "") {
      merged.tokens = yield* parseJson(env.RELATA_TOKENS, "RELATA_TOKENS")
    } else {
      const file = env.RELATA_TOKENS_FILE || (typeof tokensFile === "string" ? tokensFile : undefined)
      if (file !== undefined) merged.tokens = yield* readJson(file, "the tokens file")
    }

    const decoded = Schema.decodeUnknownResult(ApiConfig)(merged, {
      errors: "all",
      onExcessProperty: "error",
    })
    if (Result.isFailure(decoded)) {
      const reason = formatIssue(decoded.failure.issue)
        .issues.map((issue) => {
          const path = (issue.path ?? []).map((segment) =>
            String(typeof segment === "object" ? segment.key : segment),
          )
          const where = path.length === 0 ? "(root)" : path.join(".")
          // Never echo a token back into a log: drop the offending value from messages about tokens.
          const message = path[0] === "tokens" ? issue.message.replace(/, got [\s\S]*$/, "") : issue.message
          return `${where}: ${message}`
        })
        .join("; ")
      return yield* Result.fail(new ConfigError({ reason }))
    }
    if (
      decoded.success.readModels !== undefined &&
      parseStoreUrl(decoded.success.readModels).kind === "kurrentdb"
    ) {
      return yield* Result.fail(
        new ConfigError({
          reason: "readModels: KurrentDB holds events, not read models; use sqlite:, postgres:// or memory:",
        }),
      )
    }
    if (decoded.success.projections === "worker" && !sharedAcrossProcesses(decoded.success)) {
      return yield* Result.fail(
        new ConfigError({
          reason:
            "projections: a worker needs events and read models another process can open; use sqlite: or postgres:// read models (RELATA_READ_MODELS) and no memory: store",
        }),
      )
    }
    return decoded.success
  })

/** Whether a worker process would see the same events and read models as the server. */
const sharedAcrossProcesses = (config: ApiConfig): boolean => {
  const events = parseStoreUrl(config.eventStore).kind
  // Read models default to the events' store, except beside KurrentDB (in memory then).
  const readModels =
    config.readModels === undefined
      ? events === "kurrentdb"
        ? "memory"
        : events
      : parseStoreUrl(config.readModels).kind
  return events !== "memory" && readModels !== "memory"
}
