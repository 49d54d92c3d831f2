import { Schema } from "effect"

/**
 * The KurrentDB event store could not start: the connection string cannot be used, the server
 * cannot be reached or does not answer in time, refuses the credentials, or the TLS settings do
 * not match the server's. The fields name the server; the password never appears in them (the
 * connection string is kept with it replaced by `***`). `retryable` says whether trying again
 * later can help (a server that is down or starting can come back; a wrong password cannot).
 */
export class KurrentDbStoreOpenError extends Schema.TaggedError<KurrentDbStoreOpenError>()(
  "KurrentDbStoreOpenError",
  {
    /** The nodes as `host:port`, comma-separated, as the connection string lists them. */
    hosts: Schema.String,
    /** The connection string with the password replaced by `***`. */
    connection: Schema.String,
    reason: Schema.String,
    retryable: Schema.Boolean,
    cause: Schema.optional(Schema.Defect()),
  },
) {
  override get message(): string {
    return `Cannot open the KurrentDB event store at ${this.hosts}: ${this.reason} (connection string ${this.connection})`
  }
}
