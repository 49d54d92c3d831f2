/**
 * The query routes: customer cards (now, as of a moment, or once the read models include a write),
 * card lists, a customer's history and raw events, and overdue follow-ups. Viewers get cards with
 * personal data masked; history and events are for the roles that may see everything.
 */
import {
  ActorId,
  type ActorRole,
  CreditLevel,
  customerStreamId,
  Department,
  EventStore,
  Industry,
  InstantFromString,
  instantFromMillis,
  LifecycleStage,
  Region,
  Tier,
} from "@relata/domain"
import {
  AuditEntry,
  type CustomerCardAsOf,
  type CustomerCardSort,
  CustomerCardView,
  customerAuditTrailFromStore,
  customerCardAsOf,
  listCustomerCards,
  overdueFollowUps,
  storedCustomerCard,
  viewOf,
} from "@relata/projections"
import { Clock, Effect, type ManagedRuntime, Schema } from "effect"
import type { FastifyInstance } from "fastify"
import { Forbidden, NotFound } from "../ApiError.ts"
import type { ApiServices } from "../ApiLayer.ts"
import type { Principal } from "../Auth.ts"
import { CustomerPath, etagOf, RecordedEventView, recordedEventView } from "../HttpSchemas.ts"
import { cardBody } from "../internal/cardBody.ts"
import { addRoute, jsonText } from "../internal/route.ts"
import { runEffect } from "../internal/runEffect.ts"
import { maskCard } from "../Masking.ts"
import { ProblemDocument } from "../Problem.ts"
import { Limit, Position, readYourWrites } from "./queryParameters.ts"

export interface CustomerQueriesOptions {
  readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
  /** How long a query with `minPosition` waits for the read models. Default 2 seconds. */
  readonly readYourWritesTimeoutMs?: number
}

const BooleanText = Schema.Literals(["true", "false"])

const minPosition = Schema.optionalKey(Position).annotate({
  description:
    "A position a command returned (Relata-Position): wait briefly until the read models include it. Never answers with older data: 503 when they do not catch up in time.",
})

const CardQuery = Schema.Struct({
  asOf: Schema.optionalKey(InstantFromString).annotate({
    description: "The card as recorded by this instant (later corrections excluded).",
  }),
  atPosition: Schema.optionalKey(Position).annotate({ description: "The card as of this global position." }),
  effectiveAt: Schema.optionalKey(InstantFromString).annotate({
    description: "The card as effective at this business date (back-dated changes included).",
  }),
  minPosition,
})

const sorts = [
  "name",
  "registeredAt",
  "updatedAt",
  "nextFollowUpDue",
  "purchaseCount",
] as const satisfies ReadonlyArray<CustomerCardSort>

const ListQuery = Schema.Struct({
  stage: Schema.optionalKey(LifecycleStage),
  tier: Schema.optionalKey(Tier),
  owner: Schema.optionalKey(ActorId).annotate({ description: "An owner's actor id; `me` for the caller." }),
  department: Schema.optionalKey(Department),
  region: Schema.optionalKey(Region),
  industry: Schema.optionalKey(Industry),
  creditLevel: Schema.optionalKey(CreditLevel),
  frozen: Schema.optionalKey(BooleanText),
  overdue: Schema.optionalKey(BooleanText).annotate({
    description: "Whose next follow-up is overdue (or not).",
  }),
  q: Schema.optionalKey(
    Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)).annotate({
      description: "Words that must all occur in the name, e-mail address or company.",
    }),
  ),
  sort: Schema.optionalKey(Schema.Literals([...sorts, ...sorts.map((s) => `-${s}` as const)])).annotate({
    description: "The order; a leading `-` reverses it. Default `name`.",
  }),
  after: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1000))).annotate({
    description: "The `next` cursor of the previous page.",
  }),
  limit: Schema.optionalKey(Limit),
  minPosition,
})

const OverdueQuery = Schema.Struct({
  owner: Schema.optionalKey(ActorId).annotate({
    description:
      "Only this owner's customers. Reps see their own; managers their own and their reps'; auditors and admins anyone's (everyone's without it).",
  }),
  after: ListQuery.fields.after,
  limit: ListQuery.fields.limit,
  minPosition,
})

const EventsQuery = Schema.Struct({
  from: Schema.optionalKey(
    Schema.String.check(
      Schema.makeFilter((s: string) => /^\d{1,9}$/.test(s) && Number(s) >= 1, { expected: "a version >= 1" }),
    ),
  ).annotate({ description: "The first version to return (default 1)." }),
  limit: ListQuery.fields.limit,
})

/** A page of cards. */
export const CardPage = Schema.Struct({
  items: Schema.Array(CustomerCardView),
  next: Schema.optionalKey(Schema.String).annotate({
    description: "The cursor of the next page; absent on the last.",
  }),
}).annotate({ title: "CardPage" })

const History = Schema.Struct({ customerId: Schema.String, entries: Schema.Array(AuditEntry) })

const EventsPage = Schema.Struct({ items: Schema.Array(RecordedEventView) })

const problem = (description: string) => ({
  description,
  schema: ProblemDocument,
  contentType: "application/problem+json",
})

const queryProblems = {
  400: problem("Invalid query"),
  401: problem("No valid bearer token"),
  403: problem("The role may not read this"),
  503: problem("The store is unavailable, or the read models did not reach minPosition in time"),
} as const

const everyone: ReadonlyArray<ActorRole> = ["viewer", "rep", "manager", "auditor", "admin"]

const nowInstant = Effect.map(Clock.currentTimeMillis, instantFromMillis)

/** Viewers read cards with personal data masked. */
const seesMasked = (principal: Principal | undefined): boolean => principal?.role === "viewer"

const visible = (principal: Principal | undefined) => (card: CustomerCardView) =>
  seesMasked(principal) ? maskCard(card) : card

/** Registers the query routes. */
export const customerQueries = async (
  app: FastifyInstance,
  options: CustomerQueriesOptions,
): Promise<void> => {
  const { runtime } = options
  const timeoutMs = options.readYourWritesTimeoutMs ?? 2_000

  addRoute<CustomerPath, typeof CardQuery.Type>(app, {
    method: "GET",
    url: "/v1/customers/:customerId",
    operationId: "getCustomer",
    summary: "A customer's card: now, as of a moment, or once a write is included",
    description:
      "Without parameters: the card from the read model. `asOf`, `atPosition` and `effectiveAt` rebuild the card from the customer's events at that moment (they combine). Viewers see personal data masked.",
    tags: ["Queries"],
    access: { kind: "roles", roles: everyone, action: "read customer cards" },
    params: CustomerPath,
    query: CardQuery,
    responses: {
      200: {
        description: "The card",
        schema: CustomerCardView,
        headers: { ETag: "The customer's version the card reflects" },
      },
      ...queryProblems,
      404: problem("No such customer (at that moment)"),
    },
    handler: async ({ params, query, principal, request, reply }) => {
      const { asOf, atPosition, effectiveAt } = query
      if (asOf === undefined && atPosition === undefined && effectiveAt === undefined) {
        // The hot path: the card as the read model holds it, its body made once per stored card.
        const read = storedCustomerCard(params.customerId)
        const stored = await runEffect(
          runtime,
          request,
          query.minPosition === undefined
            ? read
            : Effect.andThen(readYourWrites(query.minPosition, timeoutMs), read),
        )
        if (stored === undefined) throw new NotFound({ what: `Customer ${params.customerId}` })
        reply.header("etag", etagOf(stored.card.version))
        return jsonText(reply, cardBody(stored.card, stored.overdue, seesMasked(principal)))
      }
      const moment = {
        ...(atPosition === undefined ? {} : { position: BigInt(atPosition) }),
        ...(asOf === undefined ? {} : { recordedAt: asOf }),
        ...(effectiveAt === undefined ? {} : { effectiveAt }),
      } as CustomerCardAsOf
      const card = await runEffect(
        runtime,
        request,
        Effect.gen(function* () {
          const card = yield* customerCardAsOf(yield* EventStore, params.customerId, moment)
          return card === undefined ? undefined : viewOf(card, asOf ?? effectiveAt ?? (yield* nowInstant))
        }),
      )
      if (card === undefined) throw new NotFound({ what: `Customer ${params.customerId}` })
      reply.header("etag", etagOf(card.version))
      return visible(principal)(card)
    },
  })

  addRoute<unknown, typeof ListQuery.Type>(app, {
    method: "GET",
    url: "/v1/customers",
    operationId: "listCustomers",
    summary: "Customer cards: filters, text search, sorting, cursor pages",
    tags: ["Queries"],
    access: { kind: "roles", roles: everyone, action: "list customers" },
    query: ListQuery,
    responses: { 200: { description: "A page of cards", schema: CardPage }, ...queryProblems },
    handler: async ({ query, principal, request }) => {
      const caller = principal as Principal
      const sort = query.sort ?? "name"
      const descending = sort.startsWith("-")
      const program = Effect.gen(function* () {
        yield* readYourWrites(query.minPosition, timeoutMs)
        return yield* listCustomerCards({
          filter: {
            ...(query.stage === undefined ? {} : { stage: query.stage }),
            ...(query.tier === undefined ? {} : { tier: query.tier }),
            ...(query.owner === undefined
              ? {}
              : { owner: query.owner === "me" ? caller.actorId : query.owner }),
            ...(query.department === undefined ? {} : { department: query.department }),
            ...(query.region === undefined ? {} : { region: query.region }),
            ...(query.industry === undefined ? {} : { industry: query.industry }),
            ...(query.creditLevel === undefined ? {} : { creditLevel: query.creditLevel }),
            ...(query.frozen === undefined ? {} : { frozen: query.frozen === "true" }),
            ...(query.overdue === undefined ? {} : { overdue: query.overdue === "true" }),
          },
          ...(query.q === undefined ? {} : { search: query.q }),
          sort: {
            by: (descending ? sort.slice(1) : sort) as CustomerCardSort,
            direction: descending ? "desc" : "asc",
          },
          ...(query.after === undefined ? {} : { after: query.after }),
          ...(query.limit === undefined ? {} : { limit: Number(query.limit) }),
        })
      })
      const page = await runEffect(runtime, request, program)
      return {
        items: page.cards.map(visible(caller)),
        ...(page.next === undefined ? {} : { next: page.next }),
      }
    },
  })

  addRoute<CustomerPath>(app, {
    method: "GET",
    url: "/v1/customers/:customerId/history",
    operationId: "getCustomerHistory",
    summary: "Everything that happened to a customer: what, when, by whom, why, and which fields changed",
    description:
      "The customer's audit trail, replayed from its events in the event store (always complete, never behind).",
    tags: ["Queries"],
    access: { kind: "roles", roles: ["rep", "manager", "auditor", "admin"], action: "read customer history" },
    params: CustomerPath,
    responses: {
      200: { description: "The history, oldest first", schema: History },
      ...queryProblems,
      404: problem("No such customer"),
    },
    handler: async ({ params, request }) => {
      const entries = await runEffect(
        runtime,
        request,
        EventStore.use((store) => customerAuditTrailFromStore(store, params.customerId)),
      )
      if (entries.length === 0) throw new NotFound({ what: `Customer ${params.customerId}` })
      return { customerId: params.customerId, entries }
    },
  })

  addRoute<CustomerPath, typeof EventsQuery.Type>(app, {
    method: "GET",
    url: "/v1/customers/:customerId/events",
    operationId: "getCustomerEvents",
    summary: "A customer's raw stored events, with metadata and chain hashes",
    tags: ["Queries"],
    access: { kind: "roles", roles: ["auditor", "admin"], action: "read raw events" },
    params: CustomerPath,
    query: EventsQuery,
    responses: {
      200: { description: "The events, in stream order", schema: EventsPage },
      ...queryProblems,
      404: problem("No such customer"),
    },
    handler: async ({ params, query, request }) => {
      const streamId = customerStreamId(params.customerId)
      const events = await runEffect(
        runtime,
        request,
        EventStore.use((store) =>
          store.readStream(streamId, {
            from: query.from === undefined ? 1 : Number(query.from),
            ...(query.limit === undefined ? {} : { limit: Number(query.limit) }),
          }),
        ),
      )
      if (events.length === 0 && query.from === undefined)
        throw new NotFound({ what: `Customer ${params.customerId}` })
      return { items: events.map(recordedEventView) }
    },
  })

  addRoute<unknown, typeof OverdueQuery.Type>(app, {
    method: "GET",
    url: "/v1/follow-ups/overdue",
    operationId: "listOverdueFollowUps",
    summary: "Customers whose follow-up is overdue, the longest overdue first",
    tags: ["Queries"],
    access: {
      kind: "roles",
      roles: ["rep", "manager", "auditor", "admin"],
      action: "list overdue follow-ups",
    },
    query: OverdueQuery,
    responses: { 200: { description: "A page of cards", schema: CardPage }, ...queryProblems },
    handler: async ({ query, principal, request }) => {
      const caller = principal as Principal
      const mine = [caller.actorId, ...caller.reps]
      const everyoneVisible = caller.role === "auditor" || caller.role === "admin"
      if (query.owner !== undefined && !everyoneVisible && !mine.includes(query.owner)) {
        throw new Forbidden({ role: caller.role, action: `list the overdue follow-ups of ${query.owner}` })
      }
      const owners = query.owner !== undefined ? query.owner : everyoneVisible ? undefined : mine
      const paging = {
        ...(query.after === undefined ? {} : { after: query.after }),
        ...(query.limit === undefined ? {} : { limit: Number(query.limit) }),
      }
      const program = Effect.gen(function* () {
        yield* readYourWrites(query.minPosition, timeoutMs)
        return owners === undefined
          ? yield* listCustomerCards({
              ...paging,
              filter: { overdue: true },
              sort: { by: "nextFollowUpDue", direction: "asc" },
            })
          : yield* overdueFollowUps(owners, paging)
      })
      const page = await runEffect(runtime, request, program)
      return { items: page.cards, ...(page.next === undefined ? {} : { next: page.next }) }
    },
  })
}
