/**
 * From a connection string to a checked, migrated pool. Every start-up failure becomes a
 * `PostgresStoreOpenError` that names the server (user@host:port/database, never the password) and
 * says what to fix.
 */
import { Effect, Predicate } from "effect"
import pg from "pg"
import { PostgresStoreOpenError } from "../PostgresStoreOpenError.ts"
import { migrate, NewerSchema, schemaNames } from "./migrations.ts"
import {
  codeOf,
  describe,
  INSUFFICIENT_PRIVILEGE,
  INVALID_AUTHORIZATION,
  INVALID_CATALOG_NAME,
  INVALID_PASSWORD,
  isTransient,
  messageOf,
} from "./pgErrors.ts"

/** The server as errors name it. */
export interface Target {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string
}

export interface Connection {
  readonly target: Target
  readonly clientConfig: pg.ClientConfig
  /** Why the connection string cannot be used, if it cannot. */
  readonly problem?: string
}

// Appends rely on READ COMMITTED (each statement of the append function sees the commits before
// it); a server or database configured with a stricter default must not change that.
const sessionOptions = "-c default_transaction_isolation=read\\ committed"

/** Reads host, port, database and user the way pg will (including its PG* environment defaults). */
export const resolveConnection = (connectionString: string): Connection => {
  const unknown: Target = { host: "unknown", port: 0, database: "unknown", user: "unknown" }
  if (connectionString.trim() === "") {
    return { target: unknown, clientConfig: {}, problem: "connectionString is empty" }
  }
  try {
    const parsed = new pg.Client({ connectionString })
    return {
      target: {
        host: parsed.host ?? "localhost",
        port: parsed.port,
        database: parsed.database ?? parsed.user ?? "unknown",
        user: parsed.user ?? "unknown",
      },
      clientConfig: { connectionString, keepAlive: true, options: sessionOptions },
    }
  } catch {
    // The parser's message may quote the string, password included.
    return {
      target: unknown,
      clientConfig: {},
      problem: "connectionString cannot be parsed; expected postgresql://user:password@host:port/database",
    }
  }
}

const errnoOf = (error: unknown): string | undefined => {
  const code = codeOf(error)
  if (code !== undefined) return code
  // Connecting to a name with several addresses fails with an AggregateError of one error per address.
  if (Predicate.hasProperty(error, "errors") && Array.isArray(error.errors)) return codeOf(error.errors[0])
  return undefined
}

/** What went wrong at start-up, in words that say what to fix. */
export const openFailure = (
  target: Target,
  step: string,
  cause: unknown,
  connectTimeoutMs: number,
): PostgresStoreOpenError => {
  if (cause instanceof PostgresStoreOpenError) return cause
  const fail = (reason: string, retryable: boolean) =>
    new PostgresStoreOpenError({ ...target, reason, retryable, cause })
  if (cause instanceof NewerSchema) return fail(cause.message, false)
  const code = errnoOf(cause)
  const message = messageOf(cause)
  switch (code) {
    case "ECONNREFUSED":
      return fail(`connection refused: no server listens on ${target.host}:${target.port}`, true)
    case "ENOTFOUND":
      return fail(`the host name ${target.host} does not resolve`, false)
    case "EAI_AGAIN":
      return fail(`the host name ${target.host} cannot be resolved right now`, true)
    case INVALID_PASSWORD:
      return fail(`password authentication failed for user "${target.user}"`, false)
    case INVALID_AUTHORIZATION:
      return fail(`the server refuses the connection: ${message}`, false)
    case INVALID_CATALOG_NAME:
      return fail(`database "${target.database}" does not exist`, false)
    case INSUFFICIENT_PRIVILEGE:
      return fail(`user "${target.user}" may not create the store's schema or tables: ${message}`, false)
    case "57P03":
      return fail("the server is starting up or shutting down", true)
    case "53300":
      return fail("the server has no connection slots left", true)
  }
  if (message.includes("client password must be a string")) {
    return fail("the server asks for a password, but the connection string has none", false)
  }
  if (message.includes("timeout")) {
    return fail(`no answer from ${target.host}:${target.port} within ${connectTimeoutMs} ms`, true)
  }
  return fail(`${step}: ${describe(cause)}`, isTransient(cause))
}

export interface PoolOptions {
  readonly schema: string
  readonly poolSize: number
  readonly connectTimeoutMs: number
  readonly lockTimeoutMs: number
  readonly applicationName: string
}

/** Opens a pool, checks that the server answers and accepts us, and migrates the schema. */
export const openPool = (
  connection: Connection,
  options: PoolOptions,
): Effect.Effect<pg.Pool, PostgresStoreOpenError> =>
  Effect.tryPromise({
    try: async () => {
      const pool = new pg.Pool({
        ...connection.clientConfig,
        max: options.poolSize,
        connectionTimeoutMillis: options.connectTimeoutMs,
        lock_timeout: options.lockTimeoutMs,
        idleTimeoutMillis: 30_000,
        application_name: options.applicationName,
      })
      // An idle connection dropped by the server (restart, idle timeout) emits an error on the pool;
      // without a listener that would crash the process. The next query opens a new connection.
      pool.on("error", () => undefined)
      let step = "connect"
      try {
        const client = await pool.connect()
        try {
          step = "check the server version"
          const version = await client.query<{ server_version_num: string }>("SHOW server_version_num")
          const number = Number(version.rows[0]?.server_version_num ?? 0)
          if (number < 120_000) {
            throw new PostgresStoreOpenError({
              ...connection.target,
              reason: `PostgreSQL 12 or newer is required, the server runs ${Math.floor(number / 10_000)}`,
              retryable: false,
            })
          }
          step = `migrate schema "${options.schema}"`
          await migrate(client, schemaNames(options.schema))
        } finally {
          client.release()
        }
        return pool
      } catch (cause) {
        await pool.end().catch(() => undefined)
        throw openFailure(connection.target, step, cause, options.connectTimeoutMs)
      }
    },
    catch: (cause) => openFailure(connection.target, "connect", cause, options.connectTimeoutMs),
  })
