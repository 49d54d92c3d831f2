/**
 * One way to declare a route: its params, query, headers and body as Effect Schemas, its responses
 * per status, and who may call it. From that one declaration come fastify's validation (the Effect
 * decoder, which also normalises input), the JSON Schemas in the OpenAPI document, and the access
 * rule the auth hook enforces. Handlers receive decoded, typed input.
 */
import type { ActorRole, CustomerCommandType } from "@relata/domain"
import { Result, Schema, SchemaIssue } from "effect"
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from "fastify"
import { type InputIssue, type InputLocation, InvalidInput } from "../ApiError.ts"
import type { Principal } from "../Auth.ts"

/** Who may call a route. */
export type Access =
  /** Anyone, without a token (health, docs). */
  | { readonly kind: "public" }
  /** Callers in these roles; `action` completes "A <role> may not ..." in the 403. */
  | { readonly kind: "roles"; readonly roles: ReadonlyArray<ActorRole>; readonly action: string }
  /** Callers whose role may issue the command (the domain's CommandPermissions). */
  | { readonly kind: "command"; readonly command: CustomerCommandType }

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route; the auth hook reads it. Routes without it are public. */
    readonly access?: Access
  }
  interface FastifyRequest {
    /** The authenticated caller, set by the auth hook on non-public routes. */
    principal?: Principal
  }
}

/** A documented response of a route. */
export interface RouteResponse {
  readonly description: string
  readonly schema?: Schema.Constraint
  /** The media type of the body; application/json by default. */
  readonly contentType?: string
  /** Response headers worth documenting, name -> description. */
  readonly headers?: Readonly<Record<string, string>>
}

/** What a handler receives: the decoded parts of the request and the caller. */
export interface RouteInput<Params, Query, Body, Headers> {
  readonly params: Params
  readonly query: Query
  readonly body: Body
  readonly headers: Headers
  /** The caller; undefined only on public routes. */
  readonly principal: Principal | undefined
  readonly request: FastifyRequest
  readonly reply: FastifyReply
}

/** A route's declaration. */
export interface RouteSpec<Params, Query, Body, Headers> {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly url: string
  readonly operationId: string
  readonly summary: string
  readonly description?: string
  readonly tags: ReadonlyArray<string>
  readonly access: Access
  readonly params?: Schema.ConstraintDecoder<Params>
  readonly query?: Schema.ConstraintDecoder<Query>
  readonly headers?: Schema.ConstraintDecoder<Headers>
  readonly body?: Schema.ConstraintDecoder<Body>
  /** When the body may be left out entirely (every field optional): a missing body decodes as `{}`. */
  readonly bodyOptional?: boolean
  readonly responses: Readonly<Record<number, RouteResponse>>
  /** Returns the response body (fastify sends it; `jsonText` for one already serialised), or throws an ApiFailure. */
  readonly handler: (input: RouteInput<Params, Query, Body, Headers>) => Promise<unknown>
  /** Hide from the OpenAPI document (the document's own route). */
  readonly hidden?: boolean
}

/** A response body already serialised to JSON: sent as it is, as JSON (a bare string would go as text). */
export const jsonText = (reply: FastifyReply, json: string): string => {
  reply.type("application/json; charset=utf-8")
  return json
}

const toJsonSchema = (schema: Schema.Constraint, strict: boolean): Record<string, unknown> => {
  const document = Schema.toJsonSchemaDocument(schema, {
    // Inline everything: each input schema stands alone in fastify and in the OpenAPI document.
    referencePolicy: () => undefined,
    onExcessProperty: strict ? "error" : "ignore",
    generateDescriptions: true,
  })
  return document.schema as Record<string, unknown>
}

const definitionPrefix = "#/$defs/"

/** Turns the document's local references into references to the app's shared schemas, by name. */
const toSharedReferences = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(toSharedReferences)
  if (typeof value !== "object" || value === null) return value
  return Object.fromEntries(
    Object.entries(value).map(([key, member]) => [
      key,
      key === "$ref" && typeof member === "string" && member.startsWith(definitionPrefix)
        ? decodeURIComponent(member.slice(definitionPrefix.length))
            .replaceAll("~1", "/")
            .replaceAll("~0", "~")
        : toSharedReferences(member),
    ]),
  )
}

/**
 * A response body's JSON Schema. Unlike inputs, a response schema keeps the schemas annotated with
 * an identifier as references and adds them to the app's shared schemas, so the OpenAPI document
 * lists each once, by name, under components.schemas. Two different schemas with one name are a
 * startup error.
 */
const toResponseJsonSchema = (app: FastifyInstance, schema: Schema.Constraint): Record<string, unknown> => {
  const document = Schema.toJsonSchemaDocument(schema, {
    onExcessProperty: "ignore",
    generateDescriptions: true,
  })
  for (const [name, definition] of Object.entries(document.definitions)) {
    const shared = { $id: name, ...(toSharedReferences(definition) as Record<string, unknown>) }
    const existing: unknown = app.getSchema(name)
    if (existing === undefined) app.addSchema(shared)
    else if (JSON.stringify(existing) !== JSON.stringify(shared)) {
      throw new Error(`Two different response schemas are named ${name}`)
    }
  }
  return toSharedReferences(document.schema) as Record<string, unknown>
}

type PathSegment = PropertyKey | { readonly key: PropertyKey }

const pointer = (path: ReadonlyArray<PathSegment> | undefined): string =>
  (path ?? [])
    .map((segment) => String(typeof segment === "object" ? segment.key : segment))
    .map((key) => `/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`)
    .join("")

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

// An issue message echoes the offending input; a huge input must not make a huge error.
const maxMessageLength = 300
const shorten = (message: string): string =>
  message.length <= maxMessageLength ? message : `${message.slice(0, maxMessageLength)}...`

/** Decodes one part of a request with its schema; issues become an InvalidInput with JSON Pointers. */
export const makeDecoder = <T>(
  schema: Schema.ConstraintDecoder<T>,
  location: InputLocation,
  strict: boolean,
): ((input: unknown) => Result.Result<T, InvalidInput>) => {
  const decode = Schema.decodeUnknownResult(schema, {
    errors: "all",
    onExcessProperty: strict ? "error" : "ignore",
  })
  return (input) => {
    const decoded = decode(input)
    if (Result.isSuccess(decoded)) return Result.succeed(decoded.success as T)
    const errors: Array<InputIssue> = formatter(decoded.failure.issue).issues.map((issue) => ({
      in: location,
      path: pointer(issue.path),
      message: shorten(issue.message),
    }))
    return Result.fail(new InvalidInput({ errors }))
  }
}

/**
 * Path parameters as the router gives them: one string per parameter of the URL and no other key.
 * Each is decoded with its own field's schema, which costs a third of decoding the struct (that
 * walks and checks the keys, through a generator, on every request); a failure is decoded again
 * whole, for its issues.
 */
const makeParamsDecoder = <T>(
  schema: Schema.ConstraintDecoder<T>,
): ((input: unknown) => Result.Result<T, InvalidInput>) => {
  const whole = makeDecoder(schema, "params", true)
  // A struct with checks of its own is decoded whole: they see every field at once.
  if (!Schema.isSchema(schema) || !("fields" in schema) || schema.ast.checks !== undefined) return whole
  const fields = Object.entries(schema.fields as Record<string, Schema.Top>).map(
    ([name, field]) => [name, Schema.decodeUnknownResult(field as Schema.Decoder<unknown>)] as const,
  )
  return (input) => {
    const params = input as Record<string, unknown>
    const decoded: Record<string, unknown> = {}
    for (const [name, decode] of fields) {
      const value = decode(params[name])
      if (Result.isFailure(value)) return whole(input)
      decoded[name] = value.success
    }
    return Result.succeed(decoded as T)
  }
}

const fastifyPart = { params: "params", querystring: "query", headers: "headers", body: "body" } as const

/** A parsed query string without parameters. */
const isEmptyObject = (data: unknown): boolean => {
  if (typeof data !== "object" || data === null) return false
  for (const _ in data) return false
  return true
}

const accessDescription = (access: Access): string | undefined => {
  switch (access.kind) {
    case "public":
      return undefined
    case "roles":
      return `Roles: ${access.roles.join(", ")}.`
    case "command":
      return `Roles: those the command permissions allow for ${access.command}.`
  }
}

/** Registers a route declared with Effect Schemas. */
export const addRoute = <Params = unknown, Query = unknown, Body = unknown, Headers = unknown>(
  app: FastifyInstance,
  spec: RouteSpec<Params, Query, Body, Headers>,
): void => {
  // Headers are open (clients and proxies add their own); everything else rejects unknown keys.
  const decoders = {
    params: spec.params && makeParamsDecoder(spec.params),
    query: spec.query && makeDecoder(spec.query, "query", true),
    headers: spec.headers && makeDecoder(spec.headers, "headers", false),
    body: spec.body && makeDecoder(spec.body, "body", true),
  }

  const response: Record<string, unknown> = {}
  for (const [status, declared] of Object.entries(spec.responses)) {
    const contentType = declared.contentType ?? "application/json"
    const headers =
      declared.headers === undefined
        ? undefined
        : Object.fromEntries(
            Object.entries(declared.headers).map(([name, description]) => [
              name,
              { type: "string", description },
            ]),
          )
    response[status] = {
      description: declared.description,
      ...(headers === undefined ? {} : { headers }),
      content: {
        [contentType]: {
          schema: declared.schema === undefined ? {} : toResponseJsonSchema(app, declared.schema),
        },
      },
    }
  }
  const roles = accessDescription(spec.access)
  const schema: FastifySchema & Record<string, unknown> = {
    operationId: spec.operationId,
    summary: spec.summary,
    description: [spec.description, roles].filter((s) => s !== undefined).join("\n\n"),
    tags: [...spec.tags],
    response,
    ...(spec.access.kind === "public" ? { security: [] } : { security: [{ bearerAuth: [] }] }),
    ...(spec.hidden ? { hide: true } : {}),
    ...(spec.params ? { params: toJsonSchema(spec.params, true) } : {}),
    ...(spec.query ? { querystring: toJsonSchema(spec.query, true) } : {}),
    ...(spec.headers ? { headers: toJsonSchema(spec.headers, false) } : {}),
    ...(spec.body ? { body: toJsonSchema(spec.body, true) } : {}),
  }

  app.route({
    method: spec.method,
    url: spec.url,
    schema,
    config: { access: spec.access },
    // The Effect decoder is the validator: the JSON Schemas above only document the route.
    validatorCompiler: ({ httpPart }) => {
      const part = fastifyPart[httpPart as keyof typeof fastifyPart]
      const decode: ((input: unknown) => Result.Result<unknown, InvalidInput>) | undefined =
        part === undefined ? undefined : decoders[part]
      // Most reads come without a query string, and decoding is pure: decode that case once.
      const emptyQuery = part === "query" && decode !== undefined ? decode({}) : undefined
      const noQuery =
        emptyQuery !== undefined && Result.isSuccess(emptyQuery)
          ? { value: Object.freeze(emptyQuery.success) }
          : undefined
      return (data: unknown) => {
        if (decode === undefined) return { value: data }
        if (noQuery !== undefined && isEmptyObject(data)) return noQuery
        const input =
          part === "body" && spec.bodyOptional && (data === null || data === undefined) ? {} : data
        const result = decode(input)
        return Result.isSuccess(result) ? { value: result.success } : { error: result.failure }
      }
    },
    // Bodies are already JSON-shaped values; JSON.stringify keeps every field the schema documents.
    serializerCompiler: () => (data) => JSON.stringify(data),
    handler: (request, reply) =>
      spec.handler({
        params: request.params as Params,
        query: request.query as Query,
        body: request.body as Body,
        headers: request.headers as Headers,
        principal: request.principal,
        request,
        reply,
      }),
  })
}
