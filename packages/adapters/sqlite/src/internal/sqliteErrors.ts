/**
 * Reading node:sqlite's errors. They are plain `Error`s with `code: "ERR_SQLITE_ERROR"`, the
 * extended SQLite result code in `errcode` and SQLite's text in `errstr`.
 */
import { StoreUnavailable } from "@relata/domain"
import { Predicate } from "effect"

// Primary result codes (https://www.sqlite.org/rescode.html); extended codes keep them in the low byte.
export const SQLITE_PERM = 3
export const SQLITE_BUSY = 5
export const SQLITE_LOCKED = 6
export const SQLITE_READONLY = 8
export const SQLITE_IOERR = 10
export const SQLITE_CORRUPT = 11
export const SQLITE_FULL = 13
export const SQLITE_CANTOPEN = 14
export const SQLITE_CONSTRAINT = 19
export const SQLITE_NOTADB = 26

/** The primary SQLite result code of an error thrown by node:sqlite, if it is one. */
export const primaryCode = (error: unknown): number | undefined =>
  Predicate.hasProperty(error, "errcode") && Predicate.isNumber(error.errcode)
    ? error.errcode & 0xff
    : undefined

/** Another connection holds the lock: waiting and trying again can help. */
export const isBusy = (error: unknown): boolean => {
  const code = primaryCode(error)
  return code === SQLITE_BUSY || code === SQLITE_LOCKED
}

export const messageOf = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && Predicate.isString(error.message) ? error.message : String(error)

/**
 * A failed call of a store on this connection, as the ports report it: only a lock held past the busy
 * timeout is retryable; a closed store or anything else (full disk, damaged file) is not.
 */
export const storeUnavailable = (
  action: string,
  cause: unknown,
  connection: { readonly closed: boolean; readonly busyTimeoutMs: number },
): StoreUnavailable =>
  connection.closed
    ? new StoreUnavailable({ reason: `${action}: the store is closed`, retryable: false, cause })
    : isBusy(cause)
      ? new StoreUnavailable({
          reason: `${action}: another connection held the write lock for longer than ${connection.busyTimeoutMs} ms`,
          retryable: true,
          cause,
        })
      : new StoreUnavailable({ reason: `${action}: ${messageOf(cause)}`, retryable: false, cause })
