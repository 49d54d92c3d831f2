/**
 * The command routes: one per Customer command (CommandRoutes.ts lists them). Each builds the
 * command from the decoded body and the caller's token, runs it through the command handler, and
 * answers with the new version (ETag), the global position, the events and the customer's card.
 */
import { randomUUID } from "node:crypto"
import {
  CommandId,
  type CustomerCommand,
  type CustomerId,
  EventStore,
  encodeCustomerEvent,
  instantFromMillis,
} from "@relata/domain"
import { customerCardProjectionName, findDuplicateCandidates, viewOf } from "@relata/projections"
import { Clock, Effect, type ManagedRuntime } from "effect"
import type { FastifyInstance } from "fastify"
import { ApiCommandHandler } from "../ApiCommandHandler.ts"
import { DuplicateCandidatesFound, InternalError, StaleVersion } from "../ApiError.ts"
import type { ApiServices } from "../ApiLayer.ts"
import type { Principal } from "../Auth.ts"
import { type CommandRoute, commandRoutes, type RegisterLeadBody } from "../CommandRoutes.ts"
import { CommandHeaders, CommandResult, etagOf, versionFromIfMatch } from "../HttpSchemas.ts"
import { addRoute } from "../internal/route.ts"
import { runEffect } from "../internal/runEffect.ts"
import { LatestCards } from "../LatestCards.ts"
import type { Metrics } from "../Metrics.ts"
import { ProblemDocument } from "../Problem.ts"
import { ProjectionProgress } from "../ProjectionProgress.ts"

/** What the command routes need from the app. */
export interface CustomerCommandsOptions {
  readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
  readonly metrics: Metrics
}

const problem = (description: string) => ({
  description,
  schema: ProblemDocument,
  contentType: "application/problem+json",
})

/** The error responses every command route documents. */
export const commandProblems = {
  400: problem("Invalid input (with the field paths), or a business date in the future"),
  401: problem("No valid bearer token"),
  403: problem("The role may not issue this command, or a rep does not own the customer"),
  404: problem("The customer (or contact) does not exist"),
  409: problem(
    "A business rule forbids the command (lifecycle, frozen account, duplicate...), or conflicts persisted",
  ),
  412: problem("If-Match named a version the customer has moved past"),
  413: problem("The body is too large"),
  415: problem("The body is not JSON"),
  429: problem("Too many requests"),
  503: problem("The store is unavailable; retry after Retry-After seconds"),
} as const

const resultHeaders = {
  ETag: 'The customer\'s version after the command, such as "7"; send it back in If-Match.',
  "Relata-Position":
    "The global position of the command's last event; pass it as minPosition to read your write.",
}

const duplicateIndexWaitMs = 1_000

/**
 * Asks the duplicate index about a new lead: candidates stop the registration (409 listing them)
 * unless the client confirmed with `allowDuplicate`, in which case the first candidate and the
 * reason go into the event.
 */
const duplicateCheck = (input: Record<string, unknown>, customerId: CustomerId) =>
  Effect.gen(function* () {
    const body = input as RegisterLeadBody
    // Let the index catch up with what is already stored (briefly), so a lead registered a moment
    // ago is found; if it cannot, check against what it has rather than hold the registration.
    const head = yield* (yield* EventStore).headPosition
    yield* (yield* ProjectionProgress)
      .waitFor(head, { projections: [customerCardProjectionName] })
      .pipe(Effect.timeoutOption(duplicateIndexWaitMs), Effect.ignore)
    const candidates = yield* findDuplicateCandidates(body.profile, { excluding: customerId })
    const first = candidates[0]
    if (first === undefined) return {}
    if (body.allowDuplicate === undefined) {
      return yield* new DuplicateCandidatesFound({
        candidates: candidates.map((candidate) => ({
          customerId: candidate.customerId,
          name: candidate.card.profile.name,
          matchedOn: candidate.matchedOn,
        })),
      })
    }
    return { duplicateOf: first.customerId, allowDuplicateReason: body.allowDuplicate.reason }
  })

/** Registers one route per command. */
export const customerCommands = async (
  app: FastifyInstance,
  options: CustomerCommandsOptions,
): Promise<void> => {
  for (const route of commandRoutes) addCommandRoute(app, route, options)
}

const addCommandRoute = (
  app: FastifyInstance,
  route: CommandRoute,
  options: CustomerCommandsOptions,
): void => {
  const { runtime, metrics } = options
  const success = route.creates === undefined ? 200 : 201
  addRoute<
    { customerId: never },
    Record<string, unknown> | undefined,
    Record<string, unknown> | undefined,
    CommandHeaders
  >(app, {
    method: route.method,
    url: route.path,
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    tags: ["Commands"],
    access: { kind: "command", command: route.command },
    params: route.params as never,
    ...(route.query === undefined ? {} : { query: route.query as never }),
    ...(route.body === undefined ? {} : { body: route.body as never }),
    ...(route.bodyOptional ? { bodyOptional: true } : {}),
    headers: CommandHeaders,
    responses: {
      [success]: {
        description: route.creates === undefined ? "The command was applied (or was a no-op)" : "Created",
        schema: CommandResult,
        headers:
          route.creates === undefined
            ? resultHeaders
            : { ...resultHeaders, Location: "The created resource's path" },
      },
      ...commandProblems,
    },
    handler: async ({ params, query, body, headers, principal, request, reply }) => {
      const caller = principal as Principal
      const idempotencyKey = headers["idempotency-key"]
      // A route without a body schema reads no body: whatever was sent is ignored, never half-used.
      const input = (route.body === undefined ? {} : (body ?? {})) as Record<string, unknown>
      const { customerId, fields } = route.toCommand({
        body: input,
        params: params as never,
        query: query ?? {},
        principal: caller,
        idempotencyKey,
      })
      const ifMatch = headers["if-match"]
      const expectedVersion = ifMatch === undefined ? undefined : versionFromIfMatch(ifMatch)
      const effectiveAt = input.effectiveAt

      const program = Effect.gen(function* () {
        const handler = yield* ApiCommandHandler
        const duplicate = route.command === "RegisterLead" ? yield* duplicateCheck(input, customerId) : {}
        const command = {
          _tag: route.command,
          commandId: CommandId.make(idempotencyKey ?? randomUUID()),
          customerId,
          actor: { id: caller.actorId, role: caller.role },
          issuedAt: instantFromMillis(yield* Clock.currentTimeMillis),
          ...(effectiveAt === undefined ? {} : { effectiveAt }),
          ...fields,
          ...duplicate,
        } as unknown as CustomerCommand
        return yield* handler
          .handle(command, expectedVersion === undefined ? {} : { expectedVersion })
          .pipe(
            Effect.catchTag("WrongExpectedVersion", (error) =>
              Effect.fail(
                expectedVersion === undefined
                  ? error
                  : new StaleVersion({ customerId, expected: expectedVersion, actual: error.actual }),
              ),
            ),
          )
      }).pipe(
        Effect.tapError((error) => Effect.sync(() => metrics.recordCommand(route.command, error._tag, 0))),
        // The card right after the command: the same fold the projection runs, at the command's position.
        Effect.flatMap((result) =>
          Effect.gen(function* () {
            const card = yield* (yield* LatestCards).atPosition(customerId, result.position)
            const now = instantFromMillis(yield* Clock.currentTimeMillis)
            return { result, card: card === undefined ? undefined : viewOf(card, now) }
          }),
        ),
      )

      const { result, card } = await runEffect(runtime, request, program)
      if (card === undefined) throw new InternalError()
      metrics.recordCommand(
        route.command,
        result.replayed ? "replayed" : "applied",
        result.replayed ? 0 : result.events.length,
      )
      reply.code(success)
      reply.header("etag", etagOf(result.streamVersion))
      reply.header("relata-position", String(result.position))
      if (route.creates === "customer") reply.header("location", `/v1/customers/${customerId}`)
      if (route.creates === "contact") {
        // From the event, not the request: a repeat answers with the contact the first run added.
        const added = result.events.find((event) => event._tag === "ContactAdded")
        const contactId =
          added?._tag === "ContactAdded"
            ? added.contact.contactId
            : (fields.contact as { readonly contactId: string }).contactId
        reply.header("location", `/v1/customers/${customerId}/contacts/${contactId}`)
      }
      return {
        customerId,
        version: result.streamVersion,
        position: String(result.position),
        replayed: result.replayed,
        events: result.events.map(encodeCustomerEvent),
        card,
      } satisfies CommandResult
    },
  })
}
