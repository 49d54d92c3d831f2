import { Schema } from "effect"

/**
 * The PostgreSQL event store could not start: the server cannot be reached, refuses the
 * credentials, lacks the database, or its schema cannot be migrated. The fields name the server
 * and the reason says what is wrong; the password never appears. `retryable` says whether trying
 * again later can help (a server that is starting up or refusing connections can come back; a
 * wrong password does not fix itself).
 */
export class PostgresStoreOpenError extends Schema.TaggedError<PostgresStoreOpenError>()(
  "PostgresStoreOpenError",
  {
    host: Schema.String,
    port: Schema.Number,
    database: Schema.String,
    user: Schema.String,
    reason: Schema.String,
    retryable: Schema.Boolean,
    cause: Schema.optional(Schema.Defect()),
  },
) {
  override get message(): string {
    return `Cannot open the PostgreSQL event store at ${this.user}@${this.host}:${this.port}/${this.database}: ${this.reason}`
  }
}
