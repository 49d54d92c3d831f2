/**
 * The HTTP API as a fastify plugin that never listens: routes, validation from Effect Schemas, the
 * OpenAPI document and its page, auth, problem+json errors, security headers, CORS, rate limits and
 * metrics. `buildApp` makes a fastify instance around it; tests `inject()` into that instance,
 * server.ts makes it listen.
 */
import { randomUUID } from "node:crypto"
import cors from "@fastify/cors"
import rateLimit from "@fastify/rate-limit"
import swagger from "@fastify/swagger"
import swaggerUi from "@fastify/swagger-ui"
import { defaultCommandPermissions, makePermissionCheck } from "@relata/domain"
import { type ManagedRuntime, Result } from "effect"
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
  type onRequestHookHandler,
  type onResponseHookHandler,
  type RouteOptions,
} from "fastify"
import {
  Forbidden,
  InternalError,
  InvalidInput,
  NotFound,
  PayloadTooLarge,
  RateLimited,
  ServiceUnavailable,
  UnsupportedMediaType,
} from "./ApiError.ts"
import type { ApiServices } from "./ApiLayer.ts"
import { makeAuthenticator, type TokenGrant } from "./Auth.ts"
import type { Access } from "./internal/route.ts"
import { securityHeaders } from "./internal/securityHeaders.ts"
import { type Metrics, makeMetrics } from "./Metrics.ts"
import { type ApiFailure, problemFor, problemTypeOf } from "./Problem.ts"
import { analytics } from "./routes/analytics.ts"
import { audit } from "./routes/audit.ts"
import { customerCommands } from "./routes/customerCommands.ts"
import { customerQueries } from "./routes/customerQueries.ts"
import { events } from "./routes/events.ts"
import { operations } from "./routes/operations.ts"
import { projections } from "./routes/projections.ts"

/** What the app is built from. */
export interface AppOptions {
  /** Runs the routes' effects; its layer holds the stores, the command handler and the projections. */
  readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
  /** The bearer tokens the API accepts. */
  readonly tokens: ReadonlyArray<TokenGrant>
  /** Origins CORS allows; none (the default) leaves CORS off. */
  readonly corsOrigins?: ReadonlyArray<string>
  /** Requests per client (IP) per window; `max: 0` turns rate limiting off. */
  readonly rateLimit?: { readonly max: number; readonly windowMs: number }
  /** The body size limit the fastify instance was made with, for the 413 message. */
  readonly bodyLimitBytes?: number
  /** Where request and command counts go; a fresh set by default. */
  readonly metrics?: Metrics
  /** Projections more than this many positions behind make /ready answer 503. Default 10,000. */
  readonly readyMaxLag?: number
  /** The version the OpenAPI document shows. */
  readonly version?: string
  /** How often an idle event stream (`/v1/events/stream`) gets a heartbeat comment. Default 15 s. */
  readonly eventStreamHeartbeatMs?: number
}

const defaultBodyLimitBytes = 64 * 1024

/** A fastify error's (or any thrown value's) problem, or undefined when it is an internal failure. */
const failureOf = (
  error: unknown,
  request: FastifyRequest,
  bodyLimitBytes: number,
): ApiFailure | undefined => {
  const tag: unknown =
    error instanceof Error ? (error as Error & { readonly _tag?: unknown })._tag : undefined
  if (typeof tag === "string" && problemTypeOf(tag) !== undefined) return error as ApiFailure
  const fastifyError = error as Partial<FastifyError>
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new PayloadTooLarge({ limitBytes: bodyLimitBytes })
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new UnsupportedMediaType({ contentType: String(request.headers["content-type"] ?? "") })
  }
  const status = fastifyError.statusCode
  if (status === 429) return new RateLimited({ retryAfterSeconds: 1 })
  if (status === 413) return new PayloadTooLarge({ limitBytes: bodyLimitBytes })
  if (status === 415)
    return new UnsupportedMediaType({ contentType: String(request.headers["content-type"] ?? "") })
  if (status === 404) return new NotFound({ what: `${request.method} ${request.url.split("?")[0]}` })
  if (status === 503)
    return new ServiceUnavailable({ reason: "The server is not accepting requests right now" })
  if (status !== undefined && status >= 400 && status < 500) {
    // Malformed JSON, an empty JSON body, a bad Content-Length: fastify's messages name what is wrong.
    return new InvalidInput({ errors: [{ in: "body", path: "", message: String(fastifyError.message) }] })
  }
  return undefined
}

const quietPaths = new Set(["/health", "/ready", "/metrics"])

const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/

/** A route's hooks of one kind as a fresh array (the option takes one function or several). */
const hooksOf = <Hook>(given: Hook | ReadonlyArray<Hook> | undefined): Array<Hook> =>
  given === undefined ? [] : Array.isArray(given) ? [...given] : [given as Hook]

/** Every route, hook and plugin of the API. Registered without encapsulation (like fastify-plugin). */
export const relataApi: FastifyPluginAsync<AppOptions> = async (app, options) => {
  const metrics = options.metrics ?? makeMetrics()
  const bodyLimitBytes = options.bodyLimitBytes ?? defaultBodyLimitBytes
  const authenticate = makeAuthenticator(options.tokens)
  const mayIssue = makePermissionCheck(defaultCommandPermissions)

  app.setErrorHandler((error, request, reply) => {
    const failure = failureOf(error, request, bodyLimitBytes)
    if (failure === undefined) request.log.error({ err: error }, "unexpected error")
    const problem = problemFor(failure ?? new InternalError(), {
      instance: request.url.split("?")[0] as string,
      requestId: String(request.id),
    })
    if (problem.status >= 500 && failure !== undefined) request.log.warn({ err: error }, "request failed")
    return reply.code(problem.status).headers(problem.headers).send(JSON.stringify(problem.body))
  })
  app.setNotFoundHandler((request, reply) => {
    const problem = problemFor(new NotFound({ what: `${request.method} ${request.url.split("?")[0]}` }), {
      instance: request.url.split("?")[0] as string,
      requestId: String(request.id),
    })
    return reply.code(problem.status).headers(problem.headers).send(JSON.stringify(problem.body))
  })

  // Security headers (helmet's defaults) and the request id, on every answer including errors.
  // Swagger UI's page replaces the Content-Security-Policy with its own (staticCSP).
  const headers = await securityHeaders()
  app.addHook("onRequest", (request, reply, done) => {
    reply.headers(headers)
    reply.header("x-request-id", String(request.id))
    done()
  })
  // Each route records its own requests, its labels looked up once, at registration.
  app.addHook("onRoute", (route: RouteOptions) => {
    const { url } = route
    const only = typeof route.method === "string" ? metrics.requestRecorder(route.method, url) : undefined
    const onResponse: onResponseHookHandler = (request, reply, done) => {
      const record = only ?? metrics.requestRecorder(request.method, url)
      record(reply.statusCode, reply.elapsedTime / 1000)
      done()
    }
    route.onResponse = [...hooksOf(route.onResponse), onResponse]
  })
  app.addHook("onResponse", (request, reply, done) => {
    if (request.is404) {
      metrics.requestRecorder(request.method, "(unmatched)")(reply.statusCode, reply.elapsedTime / 1000)
    }
    done()
  })

  // Bodies are JSON: plain text gets 415 rather than a confusing 400 from the schema.
  app.removeContentTypeParser("text/plain")
  // JSON Merge Patch bodies (PATCH profile, contacts) are JSON.
  app.addContentTypeParser(
    "application/merge-patch+json",
    { parseAs: "string" },
    app.getDefaultJsonParser("error", "error"),
  )

  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...options.corsOrigins],
      exposedHeaders: ["etag", "location", "relata-position", "x-request-id", "retry-after"],
      allowedHeaders: ["authorization", "content-type", "if-match", "idempotency-key"],
    })
  }
  if (options.rateLimit === undefined || options.rateLimit.max > 0) {
    const limit = options.rateLimit ?? { max: 6000, windowMs: 60_000 }
    await app.register(rateLimit, {
      global: true,
      max: limit.max,
      timeWindow: limit.windowMs,
      errorResponseBuilder: (_request, context) =>
        new RateLimited({ retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) }),
    })
  }

  await app.register(swagger, {
    // Shared schemas (the named response schemas) are components under their own names.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === "string" ? json.$id : `def-${i}`,
    },
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Relata API",
        version: options.version ?? "0.1.0",
        description:
          "The HTTP API of Relata, an event-sourced CRM core. Commands change customers (each answers with the new version as ETag and the global position); queries read the customer cards. Errors are RFC 9457 problem documents.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
      tags: [
        { name: "Commands", description: "Change a customer: one route per command" },
        { name: "Queries", description: "Read customer cards, history and events" },
        {
          name: "Audit",
          description: "The audit trail, its export, hash-chain verification and the heads digest",
        },
        {
          name: "Analytics",
          description: "Funnel, churn, win-back, cohorts, tiers, distribution, revenue, follow-ups",
        },
        { name: "Operations", description: "Health, readiness, metrics, projections" },
      ],
    },
  })
  await app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true })

  await operations(app, { runtime: options.runtime, metrics, readyMaxLag: options.readyMaxLag ?? 10_000 })

  /** The hook that lets through only callers whom `access` admits; it sets `request.principal`. */
  const authorize =
    (access: Exclude<Access, { readonly kind: "public" }>): onRequestHookHandler =>
    (request, _reply, done) => {
      const principal = authenticate(request.headers.authorization)
      if (Result.isFailure(principal)) return done(principal.failure)
      request.principal = principal.success
      const { role } = principal.success
      if (access.kind === "roles" && !access.roles.includes(role)) {
        return done(new Forbidden({ role, action: access.action }))
      }
      if (access.kind === "command" && !mayIssue(role, access.command)) {
        return done(new Forbidden({ role, action: `issue ${access.command}` }))
      }
      done()
    }

  // The versioned API: every route here requires a bearer token. Each route gets its own hook for
  // its access rule, made at registration, so a request reads no route options to find it.
  await app.register(async (v1) => {
    v1.addHook("onRoute", (route: RouteOptions) => {
      const access = route.config?.access
      if (access === undefined || access.kind === "public") return
      route.onRequest = [...hooksOf(route.onRequest), authorize(access)]
    })
    await customerCommands(v1, { runtime: options.runtime, metrics })
    await customerQueries(v1, { runtime: options.runtime })
    await events(v1, {
      runtime: options.runtime,
      ...(options.eventStreamHeartbeatMs === undefined
        ? {}
        : { heartbeatIntervalMs: options.eventStreamHeartbeatMs }),
    })
    await projections(v1, { runtime: options.runtime })
    await audit(v1, { runtime: options.runtime })
    await analytics(v1, { runtime: options.runtime })
  })
}
// Registered like fastify-plugin does: the error handler, hooks and routes belong to the parent.
;(relataApi as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true

/** What `buildApp` needs besides the plugin's options: the instance-level settings. */
export interface BuildAppOptions extends AppOptions {
  /** fastify's logger option; off by default (tests). */
  readonly logger?: FastifyServerOptions["logger"]
  /** Trust X-Forwarded-* from a proxy in front. */
  readonly trustProxy?: boolean
}

/** A fastify instance with the API registered and ready; it does not listen. */
export const buildApp = async (options: BuildAppOptions): Promise<FastifyInstance> => {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes ?? defaultBodyLimitBytes,
    trustProxy: options.trustProxy ?? false,
    // A client's request id is kept when it is a sane token, so logs on both sides line up.
    genReqId: (request) => {
      const given = request.headers["x-request-id"]
      return typeof given === "string" && requestIdPattern.test(given) ? given : randomUUID()
    },
    // Probes and scrapes would drown the request log; everything else is logged with its request id.
    logController: new LogController({
      requestIdLogLabel: "requestId",
      disableRequestLogging: (request) => quietPaths.has(request.url ?? ""),
    }),
    // Idle keep-alive connections are closed at once on shutdown; busy ones finish their request.
    forceCloseConnections: "idle",
    // A URL fastify cannot even route (a malformed escape such as `/%`) is the client's mistake too.
    frameworkErrors: (error, request, rawReply) => {
      const reply = rawReply as unknown as FastifyReply
      const problem = problemFor(
        new InvalidInput({ errors: [{ in: "params", path: "", message: error.message }] }),
        { requestId: String(request.id) },
      )
      reply.code(problem.status).headers(problem.headers).header("x-request-id", String(request.id))
      reply.send(JSON.stringify(problem.body))
    },
    routerOptions: { maxParamLength: 200 },
  })
  await app.register(relataApi, options)
  await app.ready()
  return app
}
