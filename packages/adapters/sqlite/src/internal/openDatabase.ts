/**
 * Opens the database file and sets it up in a fixed order, before any other statement runs:
 * create the folder, open, busy timeout, WAL (verified), synchronous, migrations. Every failure
 * becomes a `SqliteStoreOpenError` that names the path and what is wrong with it.
 */
import fs from "node:fs"
import path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { SqliteStoreOpenError } from "../SqliteStoreOpenError.ts"
import { migrate, NewerSchema } from "./migrations.ts"
import {
  isBusy,
  messageOf,
  primaryCode,
  SQLITE_CANTOPEN,
  SQLITE_CORRUPT,
  SQLITE_FULL,
  SQLITE_IOERR,
  SQLITE_NOTADB,
  SQLITE_PERM,
  SQLITE_READONLY,
} from "./sqliteErrors.ts"

export type Synchronous = "OFF" | "NORMAL" | "FULL" | "EXTRA"

export interface OpenOptions {
  /** Absolute path of the database file. */
  readonly path: string
  readonly synchronous: Synchronous
  readonly busyTimeoutMs: number
}

const errnoOf = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined

/**
 * Creates the missing folders from the outermost in. Not `mkdirSync(folder, { recursive: true })`:
 * where mkdir answers ENOENT although the parent exists (under /proc, for one) Node's recursive
 * mkdir retries forever, and start-up would hang instead of failing.
 */
const mkdirs = (folder: string): void => {
  const missing: Array<string> = []
  let current = folder
  while (!fs.existsSync(current)) {
    missing.push(current)
    const parent = path.dirname(current)
    if (parent === current) break
    current = parent
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    const dir = missing[i] as string
    try {
      fs.mkdirSync(dir)
    } catch (cause) {
      // Another process may have created it meanwhile.
      if (errnoOf(cause) !== "EEXIST") throw cause
    }
  }
}

const createFolder = (file: string, folder: string): void => {
  try {
    mkdirs(folder)
  } catch (cause) {
    const errno = errnoOf(cause)
    const reason =
      errno === "ENOTDIR" || errno === "EEXIST"
        ? `cannot create the folder ${folder}: part of that path is a file, not a folder`
        : errno === "EACCES" || errno === "EPERM" || errno === "EROFS"
          ? `cannot create the folder ${folder}: it is in a read-only or unwritable place (${errno})`
          : errno === "ENOENT"
            ? `cannot create the folder ${folder}: the file system does not allow a folder there (ENOENT)`
            : `cannot create the folder ${folder}: ${messageOf(cause)}`
    throw new SqliteStoreOpenError({ path: file, reason, retryable: false, cause })
  }
  if (!fs.statSync(folder).isDirectory()) {
    throw new SqliteStoreOpenError({
      path: file,
      reason: `${folder} is a file, not a folder`,
      retryable: false,
    })
  }
  try {
    fs.accessSync(folder, fs.constants.W_OK)
  } catch (cause) {
    throw new SqliteStoreOpenError({
      path: file,
      reason: `the folder ${folder} is not writable: SQLite creates the file and its -wal and -shm files there`,
      retryable: false,
      cause,
    })
  }
  if (fs.existsSync(file) && !fs.statSync(file).isFile()) {
    throw new SqliteStoreOpenError({
      path: file,
      reason: "the path exists but is not a regular file",
      retryable: false,
    })
  }
}

/** Turns an error thrown while opening or setting up into a reason a person can act on. */
const setUpFailure = (file: string, step: string, cause: unknown): SqliteStoreOpenError => {
  if (cause instanceof SqliteStoreOpenError) return cause
  if (cause instanceof NewerSchema)
    return new SqliteStoreOpenError({ path: file, reason: cause.message, retryable: false })
  const folder = path.dirname(file)
  const detail = messageOf(cause)
  switch (primaryCode(cause)) {
    case SQLITE_CANTOPEN:
      return new SqliteStoreOpenError({
        path: file,
        reason: `${step}: cannot open or create the file; the folder ${folder} must be writable (SQLite: ${detail})`,
        retryable: false,
        cause,
      })
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return new SqliteStoreOpenError({
        path: file,
        reason: `${step}: the file or its folder ${folder} is read-only (SQLite: ${detail})`,
        retryable: false,
        cause,
      })
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return new SqliteStoreOpenError({
        path: file,
        reason: `${step}: the file is not a SQLite database or is damaged (SQLite: ${detail})`,
        retryable: false,
        cause,
      })
    case SQLITE_FULL:
      return new SqliteStoreOpenError({
        path: file,
        reason: `${step}: the disk is full`,
        retryable: false,
        cause,
      })
    case SQLITE_IOERR:
      return new SqliteStoreOpenError({
        path: file,
        reason: `${step}: disk I/O error; check that ${folder} is writable and on a local file system (SQLite: ${detail})`,
        retryable: false,
        cause,
      })
  }
  if (isBusy(cause)) {
    return new SqliteStoreOpenError({
      path: file,
      reason: `${step}: another connection held the database lock for longer than the busy timeout`,
      retryable: true,
      cause,
    })
  }
  return new SqliteStoreOpenError({ path: file, reason: `${step}: ${detail}`, retryable: false, cause })
}

/** Opens and prepares the file; throws `SqliteStoreOpenError`. The caller owns the connection. */
export const openDatabase = (options: OpenOptions): DatabaseSync => {
  const file = options.path
  createFolder(file, path.dirname(file))

  let db: DatabaseSync
  try {
    db = new DatabaseSync(file)
  } catch (cause) {
    throw setUpFailure(file, "open", cause)
  }
  let step = "set busy timeout"
  try {
    // Not a statement on the file, only a connection setting; it comes first so that the switch to
    // WAL and the migrations wait for another process's lock instead of failing at once.
    db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs}`)

    step = "switch to WAL"
    db.exec("PRAGMA journal_mode = WAL")
    // Ask again rather than trusting the switch: SQLite answers with the mode it kept when it cannot
    // change it, e.g. on a file system without shared memory, and a store that silently stays in
    // rollback-journal mode loses concurrency and durability guarantees we promise.
    const mode = String(db.prepare("PRAGMA journal_mode").get()?.journal_mode ?? "unknown").toLowerCase()
    if (mode !== "wal") {
      throw new SqliteStoreOpenError({
        path: file,
        reason: `journal_mode is "${mode}" after switching to WAL; WAL needs a local file system with shared-memory support and a writable folder`,
        retryable: false,
      })
    }

    step = "set synchronous"
    db.exec(`PRAGMA synchronous = ${options.synchronous}`)

    step = "migrate the schema"
    migrate(db)
    return db
  } catch (cause) {
    db.close()
    throw setUpFailure(file, step, cause)
  }
}
