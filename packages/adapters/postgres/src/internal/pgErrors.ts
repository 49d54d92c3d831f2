/**
 * Reading the errors `pg` raises: server errors carry a SQLSTATE in `code`; network errors carry a
 * Node errno code (`ECONNREFUSED`); a few of pg's own are plain `Error`s recognised by message.
 */
import { StoreUnavailable } from "@relata/domain"
import { Predicate } from "effect"

/** The SQLSTATE of a server error, or the errno code of a network error. */
export const codeOf = (error: unknown): string | undefined =>
  Predicate.hasProperty(error, "code") && Predicate.isString(error.code) ? error.code : undefined

export const messageOf = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && Predicate.isString(error.message) ? error.message : String(error)

export const UNIQUE_VIOLATION = "23505"
export const INVALID_PASSWORD = "28P01"
export const INVALID_AUTHORIZATION = "28000"
export const INVALID_CATALOG_NAME = "3D000"
export const INSUFFICIENT_PRIVILEGE = "42501"

/** Server errors a retry can help with: the connection or the server went away, or is busy. */
const transientSqlStates = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, in recovery)
  "53300", // too_many_connections
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available (lock_timeout)
])

const transientErrnos = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
])

// pg and pg-pool report a lost or timed-out connection as plain Errors.
const transientMessages = [
  "Connection terminated",
  "connection timeout",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error",
  "Query read timeout",
]

/** Whether trying again (on a new connection) can help. */
export const isTransient = (error: unknown): boolean => {
  const code = codeOf(error)
  if (code !== undefined) {
    // Class 08: connection exceptions, except a protocol violation (a bug, not a network problem).
    if (code.length === 5 && code.startsWith("08") && code !== "08P01") return true
    if (transientSqlStates.has(code) || transientErrnos.has(code)) return true
  }
  const message = messageOf(error)
  return transientMessages.some((fragment) => message.includes(fragment))
}

/** Describes a failure for people: pg's message plus the SQLSTATE or errno when there is one. */
export const describe = (error: unknown): string => {
  const code = codeOf(error)
  const message = messageOf(error)
  return code === undefined || message.includes(code) ? message : `${message} (${code})`
}

/** Maps any failure of an operation to the port's error, keeping the cause. */
export const storeUnavailable = (operation: string, error: unknown): StoreUnavailable =>
  error instanceof StoreUnavailable
    ? error
    : new StoreUnavailable({
        reason: `${operation} failed: ${describe(error)}`,
        retryable: isTransient(error),
        cause: error,
      })
