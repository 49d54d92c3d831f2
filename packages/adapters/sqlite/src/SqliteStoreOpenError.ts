import { Schema } from "effect"

/**
 * The SQLite event store could not be opened: the configuration is invalid, the file or its folder
 * cannot be written, the file is not in WAL mode, or its schema cannot be migrated.
 * The reason names what is wrong; `retryable` says whether trying again can help (a lock held by
 * another process can clear, a read-only folder does not).
 */
export class SqliteStoreOpenError extends Schema.TaggedError<SqliteStoreOpenError>()("SqliteStoreOpenError", {
  /** The database file as configured, resolved to an absolute path. */
  path: Schema.String,
  reason: Schema.String,
  retryable: Schema.Boolean,
  cause: Schema.optional(Schema.Defect()),
}) {
  override get message(): string {
    return `Cannot open the SQLite event store at ${this.path}: ${this.reason}`
  }
}
