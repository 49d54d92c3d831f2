/**
 * Live updates: the event store's subscription as Server-Sent Events, for every customer or one.
 * Each message is one recorded event (`id` = its global position, `event` = its type, `data` = the
 * event as the raw events route shows it), so a client that reconnects with `Last-Event-ID` resumes
 * exactly after the last event it saw. The subscription lives as long as the connection: a client
 * that hangs up, or the server closing, interrupts it.
 */
import { PassThrough } from "node:stream"
import { type ActorRole, CustomerId, customerStreamId, EventStore, type RecordedEvent } from "@relata/domain"
import { Cause, Effect, Exit, type Fiber, type ManagedRuntime, Schema, Stream } from "effect"
import type { FastifyInstance } from "fastify"
import type { ApiServices } from "../ApiLayer.ts"
import { recordedEventView } from "../HttpSchemas.ts"
import { addRoute } from "../internal/route.ts"
import { runEffect } from "../internal/runEffect.ts"
import { ProblemDocument } from "../Problem.ts"
import { Position } from "./queryParameters.ts"

export interface EventStreamOptions {
  readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
  /** How often an idle stream gets a comment, so proxies and clients keep it open. Default 15 s. */
  readonly heartbeatIntervalMs?: number
}

const StreamQuery = Schema.Struct({
  customerId: Schema.optionalKey(CustomerId).annotate({
    description: "Only this customer's events; without it, every event in the store.",
  }),
  after: Schema.optionalKey(Position).annotate({
    description:
      "Deliver the events after this global position (`0`: from the first event). Without it (and without `Last-Event-ID`), only events appended from now on.",
  }),
})

const StreamHeaders = Schema.Struct({
  "last-event-id": Schema.optionalKey(Position).annotate({
    description:
      "The `id` of the last message received: the stream resumes right after it. Wins over `after`, because a browser reconnects with the URL it first used.",
  }),
})

const problem = (description: string) => ({
  description,
  schema: ProblemDocument,
  contentType: "application/problem+json",
})

/**
 * Raw events carry unmasked personal data and every event's metadata (actors, correlations, chain
 * hashes): the stream is for the roles that may read raw events, so there is nothing to mask.
 */
const readers: ReadonlyArray<ActorRole> = ["auditor", "admin"]

/** One SSE message per event; JSON.stringify never writes a line break, so `data` is one line. */
const message = (event: RecordedEvent): string =>
  `id: ${event.position}\nevent: ${event.type}\ndata: ${JSON.stringify(recordedEventView(event))}\n\n`

const heartbeat = ": heartbeat\n\n"

/** Writes a chunk, waiting for the socket to drain when the client reads slower than events arrive. */
const write = (out: PassThrough, chunk: string): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (out.destroyed || out.write(chunk)) return resume(Effect.void)
    const done = () => {
      out.off("drain", done)
      out.off("close", done)
      resume(Effect.void)
    }
    out.on("drain", done)
    out.on("close", done)
  })

/** Registers the event stream route. */
export const events = async (app: FastifyInstance, options: EventStreamOptions): Promise<void> => {
  const { runtime } = options
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 15_000
  // Every open stream's subscription, so the server's close can end them instead of waiting for clients.
  const open = new Set<Fiber.Fiber<void, unknown>>()
  app.addHook("preClose", async () => {
    for (const fiber of open) fiber.interruptUnsafe()
  })

  addRoute<unknown, typeof StreamQuery.Type, unknown, typeof StreamHeaders.Type>(app, {
    method: "GET",
    url: "/v1/events/stream",
    operationId: "streamEvents",
    summary: "Live updates: recorded events as Server-Sent Events, for every customer or one",
    description:
      "Each message has `id` (the global position), `event` (the event type) and `data` (the event as `GET /v1/customers/{customerId}/events` shows it). Catches up from `Last-Event-ID` or `after`, then goes live; a comment every 15 s keeps idle connections open. The stream ends when the client disconnects or the server shuts down.",
    tags: ["Queries"],
    access: { kind: "roles", roles: readers, action: "stream raw events" },
    query: StreamQuery,
    headers: StreamHeaders,
    responses: {
      200: {
        description: "An endless text/event-stream of recorded events",
        contentType: "text/event-stream",
        schema: Schema.String,
      },
      400: problem("Invalid query or Last-Event-ID"),
      401: problem("No valid bearer token"),
      403: problem("The role may not read raw events"),
      503: problem("The event store is unavailable"),
    },
    handler: async ({ query, headers, request, reply }) => {
      const resumeAt = headers["last-event-id"] ?? query.after
      // Fixed before the first byte goes out: whatever is appended once the client sees the response arrives.
      const after =
        resumeAt === undefined
          ? await runEffect(
              runtime,
              request,
              EventStore.use((store) => store.headPosition),
            )
          : BigInt(resumeAt)
      const streamId = query.customerId === undefined ? undefined : customerStreamId(query.customerId)

      const out = new PassThrough()
      const messages = Stream.unwrap(
        EventStore.use((store) =>
          Effect.succeed(
            store.subscribe({
              after,
              ...(streamId === undefined ? {} : { filter: { streamPrefix: streamId } }),
            }),
          ),
        ),
      ).pipe(
        // The prefix of `customer-ab` also matches `customer-abc`: keep the one stream asked for.
        Stream.filter((event) => streamId === undefined || event.streamId === streamId),
        Stream.map(message),
      )
      const beats = Stream.tick(heartbeatIntervalMs).pipe(
        Stream.drop(1),
        Stream.map(() => heartbeat),
      )
      const fiber = runtime.runFork(
        Stream.runForEach(Stream.merge(messages, beats, { haltStrategy: "left" }), (chunk) =>
          write(out, chunk),
        ),
      )
      open.add(fiber)
      fiber.addObserver((exit) => {
        open.delete(fiber)
        if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
          request.log.warn({ cause: Cause.pretty(exit.cause) }, "event stream stopped")
        }
        out.end()
      })
      // fastify destroys the body stream when the client goes away.
      out.on("close", () => fiber.interruptUnsafe())

      // `retry` tells EventSource clients how soon to reconnect; the comment flushes the headers.
      out.write(`retry: 2000\n: stream of events after position ${after}\n\n`)
      reply
        .type("text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        // Reverse proxies (nginx) would otherwise buffer the stream.
        .header("x-accel-buffering", "no")
      return reply.send(out)
    },
  })
}
