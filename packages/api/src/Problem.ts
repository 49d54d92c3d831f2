/**
 * The one table from error tag to HTTP status and problem type (RFC 9457 problem+json), and the
 * problem document built from an error. Every failure the API can answer with is in the table;
 * the compiler checks that none is missing.
 */
import type {
  CustomerRuleViolation,
  StoredEventUnreadable,
  StoreUnavailable,
  WrongExpectedVersion,
} from "@relata/domain"
import type {
  CollectionNotFound,
  InvalidAnalyticsPeriod,
  InvalidReadModelQuery,
  ProjectionFailed,
  ReadModelStoreError,
  UnknownProjection,
} from "@relata/projections"
import { Schema } from "effect"
import { type ApiError, InputIssue } from "./ApiError.ts"

/** Everything a request can fail with. */
export type ApiFailure =
  | ApiError
  | CustomerRuleViolation
  | WrongExpectedVersion
  | StoreUnavailable
  | StoredEventUnreadable
  | ReadModelStoreError
  | CollectionNotFound
  | InvalidReadModelQuery
  | InvalidAnalyticsPeriod
  | ProjectionFailed
  | UnknownProjection

export interface ProblemType {
  readonly status: number
  /** The last part of the problem's `type` URI: stable, part of the API. */
  readonly slug: string
  /** A short, human-readable summary of the problem type; the same for every occurrence. */
  readonly title: string
}

/** The prefix of every problem `type`: an identifier to compare, not a page to fetch. */
export const problemTypePrefix = "urn:relata:problem:"

/** Error tag -> status, type and title. The only place that decides an error's status. */
export const problemTypes = {
  // 400: the client sent something it should not have.
  InvalidInput: { status: 400, slug: "invalid-input", title: "The request is invalid" },
  InvalidAnalyticsPeriod: { status: 400, slug: "invalid-period", title: "The analytics period is not valid" },
  InvalidReadModelQuery: {
    status: 400,
    slug: "invalid-query",
    title: "The query cannot be answered as asked",
  },
  BusinessDateInFuture: {
    status: 400,
    slug: "business-date-in-future",
    title: "A business date is later than now",
  },
  // 401, 403: who is asking, and whether they may.
  Unauthenticated: { status: 401, slug: "unauthenticated", title: "A valid bearer token is required" },
  Forbidden: { status: 403, slug: "forbidden", title: "The role may not do this" },
  ActorNotPermitted: {
    status: 403,
    slug: "command-not-permitted",
    title: "The role may not issue this command",
  },
  NotCustomerOwner: {
    status: 403,
    slug: "not-customer-owner",
    title: "A rep changes only their own customers",
  },
  // 404: nothing there.
  NotFound: { status: 404, slug: "not-found", title: "Not found" },
  CustomerNotFound: { status: 404, slug: "customer-not-found", title: "The customer does not exist" },
  ContactNotFound: { status: 404, slug: "contact-not-found", title: "The contact does not exist" },
  UnknownProjection: {
    status: 404,
    slug: "unknown-projection",
    title: "No projection of that name runs here",
  },
  // 409: a business rule says no, or the stream kept moving.
  CustomerAlreadyExists: {
    status: 409,
    slug: "customer-already-exists",
    title: "The customer already exists",
  },
  PossibleDuplicateCustomer: {
    status: 409,
    slug: "possible-duplicate",
    title: "The lead may duplicate an existing customer",
  },
  DuplicateCandidatesFound: {
    status: 409,
    slug: "possible-duplicate",
    title: "The lead may duplicate an existing customer",
  },
  InvalidLifecycleTransition: {
    status: 409,
    slug: "invalid-lifecycle-transition",
    title: "The lifecycle does not allow this move",
  },
  AccountIsFrozen: { status: 409, slug: "account-frozen", title: "The account is frozen" },
  AccountNotFrozen: { status: 409, slug: "account-not-frozen", title: "The account is not frozen" },
  ContactAlreadyExists: { status: 409, slug: "contact-already-exists", title: "The contact already exists" },
  WrongExpectedVersion: {
    status: 409,
    slug: "concurrent-update",
    title: "The customer kept changing while the command was retried; send it again",
  },
  RebuildRunsOnWorker: {
    status: 409,
    slug: "rebuild-runs-on-worker",
    title: "Projections run in a separate worker; rebuild them there",
  },
  // 412: If-Match named an old version.
  StaleVersion: { status: 412, slug: "stale-version", title: "The customer changed since the version given" },
  // 413, 415, 429: limits.
  PayloadTooLarge: { status: 413, slug: "payload-too-large", title: "The body is too large" },
  UnsupportedMediaType: {
    status: 415,
    slug: "unsupported-media-type",
    title: "The content type is not supported",
  },
  RateLimited: { status: 429, slug: "rate-limited", title: "Too many requests" },
  // 5xx: our side.
  InternalError: { status: 500, slug: "internal", title: "Internal server error" },
  StoredEventUnreadable: { status: 500, slug: "internal", title: "Internal server error" },
  StoreUnavailable: { status: 503, slug: "store-unavailable", title: "The store is unavailable" },
  ReadModelStoreError: {
    status: 503,
    slug: "read-model-unavailable",
    title: "The read models are unavailable",
  },
  CollectionNotFound: {
    status: 503,
    slug: "read-model-unavailable",
    title: "The read models are unavailable",
  },
  ProjectionFailed: { status: 503, slug: "projection-failed", title: "A projection has stopped on an error" },
  ReadModelBehind: {
    status: 503,
    slug: "read-model-behind",
    title: "The read models have not reached the requested position yet",
  },
  ServiceUnavailable: { status: 503, slug: "service-unavailable", title: "The service is unavailable" },
} as const satisfies { readonly [Tag in ApiFailure["_tag"]]: ProblemType }

export type ProblemTag = keyof typeof problemTypes

/** The problem type of a tag, or undefined for a tag the table does not know. */
export const problemTypeOf = (tag: string): ProblemType | undefined =>
  Object.hasOwn(problemTypes, tag) ? problemTypes[tag as ProblemTag] : undefined

/** The problem+json document (RFC 9457) with Relata's extension members. */
export const ProblemDocument = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Number,
  detail: Schema.optionalKey(Schema.String),
  /** The request path the problem occurred on. */
  instance: Schema.optionalKey(Schema.String),
  /** The id of the request in the server's log. */
  requestId: Schema.optionalKey(Schema.String),
  /** For invalid input: every issue found, with where it is. */
  errors: Schema.optionalKey(Schema.Array(InputIssue)),
}).annotate({
  identifier: "Problem",
  description:
    "An RFC 9457 problem document. Other members carry the error's fields (for example `candidates`, `stage`, `actual`).",
})
export type ProblemDocument = typeof ProblemDocument.Type

/** What to answer for a failure: status, headers and the problem document. */
export interface ProblemResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: ProblemDocument & Record<string, unknown>
}

// Fields an error carries that are not for clients: internals, or already in the document.
const hiddenFields = new Set(["_tag", "cause"])

/** What a 5xx problem says: enough to act on, nothing about the internals (the log has those). */
const serverSideDetail = (failure: ApiFailure): string => {
  switch (failure._tag) {
    case "StoreUnavailable":
    case "ReadModelStoreError":
    case "CollectionNotFound":
      return "The store cannot be reached right now; retry shortly"
    case "ProjectionFailed":
      return `The read model ${failure.projection} has stopped; operators see why in /ready and the log`
    case "ReadModelBehind":
    case "ServiceUnavailable":
      return failure.message
    default:
      return "An unexpected error occurred; quote the request id when reporting it"
  }
}

/** Seconds a client should wait before retrying a 503. */
const retryAfterSeconds = 1

/**
 * The response for a failure. 4xx problems carry the error's own fields (they describe the
 * client's request); 5xx problems carry nothing but a generic detail and the request id.
 */
export const problemFor = (
  failure: ApiFailure,
  context: { readonly instance?: string; readonly requestId?: string },
): ProblemResponse => {
  const problem = problemTypes[failure._tag]
  const serverSide = problem.status >= 500
  const body: Record<string, unknown> = {
    type: `${problemTypePrefix}${problem.slug}`,
    title: problem.title,
    status: problem.status,
  }
  if (serverSide) {
    body.detail = serverSideDetail(failure)
  } else {
    body.detail = failure.message
    // Only the fields the error's schema declares: never whatever else was attached to it on the way.
    const declared = (failure.constructor as { readonly fields?: object }).fields ?? {}
    for (const key of Object.keys(declared)) {
      if (!hiddenFields.has(key) && !(key in body))
        body[key] = (failure as unknown as Record<string, unknown>)[key]
    }
  }
  if (failure._tag === "ReadModelBehind") {
    body.minPosition = failure.minPosition
    body.position = failure.position
  }
  if (context.instance !== undefined) body.instance = context.instance
  if (context.requestId !== undefined) body.requestId = context.requestId
  const headers: Record<string, string> = { "content-type": "application/problem+json; charset=utf-8" }
  if (failure._tag === "Unauthenticated") headers["www-authenticate"] = 'Bearer realm="relata"'
  if (failure._tag === "RateLimited") headers["retry-after"] = String(failure.retryAfterSeconds)
  if (problem.status === 503) headers["retry-after"] = String(retryAfterSeconds)
  return { status: problem.status, headers, body: body as ProblemDocument & Record<string, unknown> }
}
