/**
 * The errors the HTTP layer adds to the domain's: what a request can get wrong before or around a
 * command (input, credentials, permissions, versions, limits). Each is a tagged value; Problem.ts
 * maps every tag, these and the domain's, to one status and one problem type.
 */
import { ActorRole, CustomerId } from "@relata/domain"
import { Schema } from "effect"

/** Where in the request a piece of input sits. */
export const InputLocation = Schema.Literals(["body", "query", "params", "headers"])
export type InputLocation = typeof InputLocation.Type

/** One thing wrong with the input: where (a JSON Pointer into that part of the request) and why. */
export const InputIssue = Schema.Struct({
  in: InputLocation,
  /** A JSON Pointer (RFC 6901) into the part, `""` for the part as a whole. */
  path: Schema.String,
  message: Schema.String,
})
export type InputIssue = typeof InputIssue.Type

/** The request's body, query, path or headers do not match the route's schema. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  errors: Schema.Array(InputIssue),
}) {
  override get message(): string {
    const first = this.errors[0]
    const where = first === undefined ? "" : `: ${first.in}${first.path} ${first.message}`
    return `The request is invalid${where}${this.errors.length > 1 ? ` (and ${this.errors.length - 1} more)` : ""}`
  }
}

/** No bearer token, or one the server does not know. */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()("Unauthenticated", {
  reason: Schema.String,
}) {
  override get message(): string {
    return this.reason
  }
}

/** The caller's role may not use this route. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  role: ActorRole,
  action: Schema.String,
}) {
  override get message(): string {
    return `A ${this.role} may not ${this.action}`
  }
}

/** A rep changes only the customers they own. */
export class NotCustomerOwner extends Schema.TaggedError<NotCustomerOwner>()("NotCustomerOwner", {
  customerId: CustomerId,
  command: Schema.String,
}) {
  override get message(): string {
    return `Customer ${this.customerId} belongs to another rep; a rep may not issue ${this.command} for it`
  }
}

/** No such route, or no such resource behind it. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  what: Schema.String,
}) {
  override get message(): string {
    return `${this.what} not found`
  }
}

/** A customer the new lead may duplicate, as the duplicate index found it. */
export const DuplicateCandidate = Schema.Struct({
  customerId: CustomerId,
  name: Schema.String,
  /** Which keys matched: `name`, `email`, `phone`. */
  matchedOn: Schema.Array(Schema.String),
})
export type DuplicateCandidate = typeof DuplicateCandidate.Type

/** The new lead looks like customers that exist; register it with `allowDuplicate` and a reason. */
export class DuplicateCandidatesFound extends Schema.TaggedError<DuplicateCandidatesFound>()(
  "DuplicateCandidatesFound",
  { candidates: Schema.Array(DuplicateCandidate) },
) {
  override get message(): string {
    return `The lead may duplicate ${this.candidates.length} existing customer(s); confirm with allowDuplicate and a reason`
  }
}

/** If-Match named a version the customer has moved past: the client decided on stale data. */
export class StaleVersion extends Schema.TaggedError<StaleVersion>()("StaleVersion", {
  customerId: CustomerId,
  expected: Schema.Number,
  actual: Schema.Number,
}) {
  override get message(): string {
    return `Customer ${this.customerId} is at version ${this.actual}, not ${this.expected}; read it again`
  }
}

/** The body is larger than the configured limit. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limitBytes: Schema.Number,
}) {
  override get message(): string {
    return `The body is larger than ${this.limitBytes} bytes`
  }
}

/** The body's content type is not one the route reads. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {
  contentType: Schema.String,
}) {
  override get message(): string {
    return `Content type ${this.contentType} is not supported; send application/json`
  }
}

/** The client sent more requests than the rate limit allows. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  retryAfterSeconds: Schema.Number,
}) {
  override get message(): string {
    return `Too many requests; retry in ${this.retryAfterSeconds} s`
  }
}

/** `minPosition` was not reached by the read models in time; the data would be older than asked. */
export class ReadModelBehind extends Schema.TaggedError<ReadModelBehind>()("ReadModelBehind", {
  minPosition: Schema.String,
  position: Schema.String,
}) {
  override get message(): string {
    return `The read models are at position ${this.position}, not yet at ${this.minPosition}; retry shortly`
  }
}

/**
 * A rebuild asked of a server whose projections run in a separate worker: the worker owns their
 * generations, so the rebuild runs there. Retrying here cannot help.
 */
export class RebuildRunsOnWorker extends Schema.TaggedError<RebuildRunsOnWorker>()("RebuildRunsOnWorker", {
  projection: Schema.String,
}) {
  override get message(): string {
    return (
      `Projections run in a separate worker here (projections: worker), so rebuilds run there: ` +
      `restart the worker with \`relata projections run --rebuild ${this.projection}\``
    )
  }
}

/** The server is shutting down or not ready; retry on another instance or later. */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  reason: Schema.String,
}) {
  override get message(): string {
    return this.reason
  }
}

/** Anything unexpected. Its details stay in the log, under the request id. */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", {}) {
  override get message(): string {
    return "An unexpected error occurred; the request id identifies it in the server's log"
  }
}

/** Every error the API itself raises. */
export type ApiError =
  | InvalidInput
  | Unauthenticated
  | Forbidden
  | NotCustomerOwner
  | NotFound
  | DuplicateCandidatesFound
  | StaleVersion
  | PayloadTooLarge
  | UnsupportedMediaType
  | RateLimited
  | ReadModelBehind
  | RebuildRunsOnWorker
  | ServiceUnavailable
  | InternalError
