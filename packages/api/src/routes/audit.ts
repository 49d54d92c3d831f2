/**
 * What an auditor needs over HTTP: the global audit trail with filters, its export (JSON Lines or
 * CSV, streamed page by page), the hash-chain verification of one customer or the whole store, and
 * the digest over all stream heads to record outside the system. Verification and the digest read
 * the event store itself, never a read model.
 */
import { Readable } from "node:stream"
import {
  ActorId,
  ActorRole,
  CustomerId,
  customerCommandTypes,
  customerEventTypes,
  EventStore,
  InstantFromString,
} from "@relata/domain"
import {
  AuditEntry,
  type AuditExportFormat,
  type AuditTrailFilter,
  auditExportMediaType,
  exportAuditTrail,
  headsDigest,
  searchAuditTrail,
  verifyCustomer,
  verifyStore,
} from "@relata/projections"
import { Effect, type ManagedRuntime, Schema, Stream } from "effect"
import type { FastifyInstance } from "fastify"
import { Forbidden } from "../ApiError.ts"
import type { ApiServices } from "../ApiLayer.ts"
import type { Principal } from "../Auth.ts"
import { addRoute } from "../internal/route.ts"
import { runEffect } from "../internal/runEffect.ts"
import { ProblemDocument } from "../Problem.ts"
import { Limit, Position, readYourWrites } from "./queryParameters.ts"

const Identifier = Schema.String.check(
  Schema.makeFilter((s: string) => /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/.test(s), {
    expected: "an identifier",
  }),
)

const filterFields = {
  customerId: Schema.optionalKey(CustomerId),
  actor: Schema.optionalKey(ActorId).annotate({ description: "Who issued the commands." }),
  role: Schema.optionalKey(ActorRole).annotate({ description: "In which role." }),
  eventType: Schema.optionalKey(Schema.Literals(customerEventTypes)).annotate({
    description: "The kind of action, by event type (TierChanged...).",
  }),
  commandType: Schema.optionalKey(Schema.Literals(customerCommandTypes)).annotate({
    description: "The command that caused it (ChangeTier, ClassifyCustomer...).",
  }),
  correlationId: Schema.optionalKey(Identifier),
  from: Schema.optionalKey(InstantFromString).annotate({ description: "Recorded at or after this instant." }),
  before: Schema.optionalKey(InstantFromString).annotate({
    description: "Recorded strictly before this instant.",
  }),
}

const AuditQuery = Schema.Struct({
  ...filterFields,
  order: Schema.optionalKey(Schema.Literals(["asc", "desc"])).annotate({
    description: "By recorded time: asc (default, oldest first) or desc.",
  }),
  after: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1000))).annotate({
    description: "The `next` cursor of the previous page.",
  }),
  limit: Schema.optionalKey(Limit),
  minPosition: Schema.optionalKey(Position).annotate({
    description: "Wait briefly until the trail includes this position (a command's Relata-Position).",
  }),
})
type AuditQuery = typeof AuditQuery.Type

const ExportQuery = Schema.Struct({
  ...filterFields,
  format: Schema.optionalKey(Schema.Literals(["jsonl", "csv"])).annotate({
    description: "JSON Lines (default) or CSV (RFC 4180).",
  }),
})

const VerifyQuery = Schema.Struct({
  customerId: Schema.optionalKey(CustomerId).annotate({
    description: "Verify one customer; without it, every stream.",
  }),
})

const DigestQuery = Schema.Struct({
  atPosition: Schema.optionalKey(Position).annotate({ description: "Default: the store's head." }),
})

const AuditPage = Schema.Struct({
  entries: Schema.Array(AuditEntry),
  next: Schema.optionalKey(Schema.String),
}).annotate({ title: "AuditPage" })

const BrokenLinkView = Schema.Struct({
  streamId: Schema.String,
  version: Schema.Int,
  position: Schema.String,
  /** The hash recomputed from the chain. */
  expected: Schema.String,
  /** The hash the stored event carries (null: none). */
  actual: Schema.NullOr(Schema.String),
})

/** The outcome of a verification: ok, or the first broken link of every broken stream. */
export const VerificationView = Schema.Struct({
  ok: Schema.Boolean,
  streams: Schema.Int,
  events: Schema.Int,
  atPosition: Schema.optionalKey(Schema.String),
  broken: Schema.Array(BrokenLinkView),
}).annotate({ title: "Verification" })

/** The digest over every stream's head, to record outside the system and compare later. */
export const DigestView = Schema.Struct({
  algorithm: Schema.String,
  atPosition: Schema.String,
  streams: Schema.Int,
  events: Schema.Int,
  digest: Schema.String,
  brokenStreams: Schema.Int,
}).annotate({ title: "HeadsDigest" })

const problem = (description: string) => ({
  description,
  schema: ProblemDocument,
  contentType: "application/problem+json",
})

const problems = {
  400: problem("Invalid query"),
  401: problem("No valid bearer token"),
  403: problem("The role may not read this"),
  503: problem("A store is unavailable, or the trail did not reach minPosition in time"),
} as const

const auditors: ReadonlyArray<ActorRole> = ["auditor", "admin"]

/**
 * The trail filter of a query, narrowed to what the caller may see: auditors and admins see every
 * actor; a manager sees their own and their reps' actions only.
 */
const filterFor = (query: Partial<typeof ExportQuery.Type>, caller: Principal): AuditTrailFilter => {
  const team = [caller.actorId, ...caller.reps]
  const restricted = caller.role === "manager"
  if (restricted && query.actor !== undefined && !team.includes(query.actor)) {
    throw new Forbidden({ role: caller.role, action: `read the actions of ${query.actor}` })
  }
  const actor = query.actor ?? (restricted ? team : undefined)
  return {
    ...(query.customerId === undefined ? {} : { customerId: query.customerId }),
    ...(actor === undefined ? {} : { actor }),
    ...(query.role === undefined ? {} : { actorRole: query.role }),
    ...(query.eventType === undefined ? {} : { eventType: query.eventType }),
    ...(query.commandType === undefined ? {} : { commandType: query.commandType }),
    ...(query.correlationId === undefined ? {} : { correlationId: query.correlationId }),
    ...(query.from === undefined ? {} : { recordedFrom: query.from }),
    ...(query.before === undefined ? {} : { recordedBefore: query.before }),
  }
}

const brokenLinkView = (link: {
  readonly streamId: string
  readonly version: number
  readonly position: bigint
  readonly expected: string
  readonly actual: string | null
}) => ({ ...link, position: String(link.position) })

/** Registers the audit routes. */
export const audit = async (
  app: FastifyInstance,
  options: {
    readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
    readonly readYourWritesTimeoutMs?: number
  },
): Promise<void> => {
  const { runtime } = options
  const timeoutMs = options.readYourWritesTimeoutMs ?? 2_000

  addRoute<unknown, AuditQuery>(app, {
    method: "GET",
    url: "/v1/audit",
    operationId: "searchAuditTrail",
    summary: "The global audit trail: who changed what, when and why, with field-level changes",
    description:
      "Filter by customer, actor, role, kind of action, command, correlation id and recorded time; cursor pages. Managers see their own and their reps' actions (for example their reps' tier changes: `eventType=TierChanged`).",
    tags: ["Audit"],
    access: { kind: "roles", roles: ["manager", "auditor", "admin"], action: "read the audit trail" },
    query: AuditQuery,
    responses: { 200: { description: "A page of entries", schema: AuditPage }, ...problems },
    handler: async ({ query, principal, request }) => {
      const filter = filterFor(query, principal as Principal)
      const page = await runEffect(
        runtime,
        request,
        Effect.gen(function* () {
          yield* readYourWrites(query.minPosition, timeoutMs)
          return yield* searchAuditTrail(filter, {
            ...(query.after === undefined ? {} : { after: query.after }),
            ...(query.limit === undefined ? {} : { limit: Number(query.limit) }),
            ...(query.order === undefined ? {} : { direction: query.order }),
          })
        }),
      )
      return { entries: page.entries, ...(page.next === undefined ? {} : { next: page.next }) }
    },
  })

  addRoute<unknown, typeof ExportQuery.Type>(app, {
    method: "GET",
    url: "/v1/audit/export",
    operationId: "exportAuditTrail",
    summary: "Export the audit trail as JSON Lines or CSV, streamed",
    description: "Same filters as /v1/audit. Streamed page by page: memory stays constant whatever the size.",
    tags: ["Audit"],
    access: { kind: "roles", roles: auditors, action: "export the audit trail" },
    query: ExportQuery,
    responses: {
      200: {
        description: "The entries, one per line (JSON Lines) or row (CSV)",
        contentType: "application/jsonl",
        schema: Schema.String,
      },
      ...problems,
    },
    handler: async ({ query, principal, request, reply }) => {
      const format: AuditExportFormat = query.format ?? "jsonl"
      const filter = filterFor(query, principal as Principal)
      const iterable = await runEffect(
        runtime,
        request,
        Stream.toAsyncIterableEffect(exportAuditTrail(format, filter)),
      )
      // Read the first chunk before answering, so a store that is down gets a problem, not a cut-off 200.
      const iterator = iterable[Symbol.asyncIterator]()
      const first = await iterator.next()
      const rest = async function* () {
        if (!first.done) yield first.value
        for (;;) {
          const next = await iterator.next()
          if (next.done) return
          yield next.value
        }
      }
      const stream = Readable.from(rest())
      stream.on("error", (error) => request.log.error({ err: error }, "audit export failed midway"))
      reply.type(auditExportMediaType[format])
      reply.header("content-disposition", `attachment; filename="relata-audit.${format}"`)
      return reply.send(stream)
    },
  })

  addRoute<unknown, typeof VerifyQuery.Type>(app, {
    method: "GET",
    url: "/v1/audit/verify",
    operationId: "verifyHashChains",
    summary: "Recompute hash chains from the event store: one customer's, or every stream's",
    tags: ["Audit"],
    access: { kind: "roles", roles: auditors, action: "verify the event store" },
    query: VerifyQuery,
    responses: {
      200: { description: "ok, or the first broken link of each broken stream", schema: VerificationView },
      ...problems,
    },
    handler: async ({ query, request }) => {
      if (query.customerId !== undefined) {
        const customerId = query.customerId
        const result = await runEffect(
          runtime,
          request,
          EventStore.use((store) => verifyCustomer(store, customerId)),
        )
        return {
          ok: result.ok,
          streams: 1,
          events: result.events,
          broken: result.ok ? [] : [brokenLinkView(result.brokenLink)],
        }
      }
      const result = await runEffect(runtime, request, EventStore.use(verifyStore))
      return {
        ok: result.ok,
        streams: result.streams,
        events: result.events,
        atPosition: String(result.atPosition),
        broken: result.broken.map(brokenLinkView),
      }
    },
  })

  addRoute<unknown, typeof DigestQuery.Type>(app, {
    method: "GET",
    url: "/v1/audit/digest",
    operationId: "headsDigest",
    summary: "A digest over every stream's head at a position, to record outside the system",
    description:
      "Recompute it later at the same position and compare: any change, deletion or insertion of an event at or before it changes the digest (algorithm relata-heads-v1, see docs/api.md).",
    tags: ["Audit"],
    access: { kind: "roles", roles: auditors, action: "compute the heads digest" },
    query: DigestQuery,
    responses: { 200: { description: "The digest", schema: DigestView }, ...problems },
    handler: async ({ query, request }) => {
      const digest = await runEffect(
        runtime,
        request,
        EventStore.use((store) =>
          headsDigest(store, query.atPosition === undefined ? {} : { atPosition: BigInt(query.atPosition) }),
        ),
      )
      return { ...digest, atPosition: String(digest.atPosition) }
    },
  })
}
