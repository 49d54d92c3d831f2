import { Writable } from "node:stream"
import { commandRoutes } from "@relata/api"
import { EventStore, InMemoryEventStore, StoreUnavailable } from "@relata/domain"
import { Effect, Layer, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, json, lead, makeTestApp, type TestApp } from "./support/testApp.ts"

/** An in-memory store whose reads of some streams die (a bug) or fail (the store is down). */
const faultyStore = Layer.effect(
  EventStore,
  Effect.map(InMemoryEventStore.make, (store) =>
    EventStore.of({
      ...store,
      readStream: (streamId, options) =>
        streamId.includes("explode")
          ? Effect.die(new Error("secret detail: /var/lib/relata/db is corrupt"))
          : streamId.includes("down")
            ? Effect.fail(new StoreUnavailable({ reason: "disk /var/lib/relata gone", retryable: false }))
            : store.readStream(streamId, options),
    }),
  ),
)

describe("operations and cross-cutting behaviour", () => {
  let t: TestApp
  const logLines: Array<string> = []
  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk))
        done()
      },
    })
    t = await makeTestApp({ eventStore: faultyStore, logger: { level: "info", stream } })
  })
  afterAll(async () => t.close())

  it("answers /health and /ready", async () => {
    const health = await t.app.inject({ url: "/health" })
    expect(health.statusCode).toBe(200)
    expect(json(health)).toEqual({ status: "ok" })
    const ready = await t.app.inject({ url: "/ready" })
    expect(ready.statusCode).toBe(200)
    expect(json(ready)).toMatchObject({
      status: "ready",
      eventStore: { reachable: true },
      readModels: { reachable: true },
      projections: expect.arrayContaining([
        expect.objectContaining({ name: "customer-cards", state: "running" }),
        expect.objectContaining({ name: "audit-trail", state: "running" }),
        expect.objectContaining({ name: "analytics", state: "running" }),
      ]),
    })
  })

  it("exposes Prometheus metrics: requests per route, latency, commands, appends, projection lag", async () => {
    await t.app.inject({
      method: "POST",
      url: "/v1/customers",
      headers: auth("rep"),
      payload: lead("Metrics Co"),
    })
    const response = await t.app.inject({ url: "/metrics" })
    expect(response.statusCode).toBe(200)
    expect(response.headers["content-type"]).toContain("text/plain; version=0.0.4")
    const text = response.body
    expect(text).toContain('relata_http_requests_total{method="POST",route="/v1/customers",status="201"} 1')
    expect(text).toMatch(
      /relata_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/customers",le="\+Inf"\} 1/,
    )
    expect(text).toContain('relata_commands_total{type="RegisterLead",outcome="applied"} 1')
    expect(text).toMatch(/relata_events_appended_total [1-9]/)
    expect(text).toMatch(/relata_projection_lag\{projection="customer-cards"\} \d+/)
    expect(text).toMatch(/relata_event_store_head_position [1-9]/)
  })

  it("counts refused and unmatched requests per route template and status", async () => {
    const id = "7a1f6a8e-1d2c-4c3b-9a0e-5f4d3c2b1a00"
    await t.app.inject({ url: `/v1/customers/${id}` })
    await t.app.inject({ url: `/v1/customers/${id}`, headers: auth("viewer") })
    await t.app.inject({ url: `/v1/customers/${id}`, headers: auth("viewer") })
    await t.app.inject({ method: "DELETE", url: "/no/such/path" })
    const text = (await t.app.inject({ url: "/metrics" })).body
    const route = 'method="GET",route="/v1/customers/:customerId"'
    expect(text).toContain(`relata_http_requests_total{${route},status="401"} 1`)
    expect(text).toContain(`relata_http_requests_total{${route},status="404"} 2`)
    expect(text).toMatch(
      /relata_http_request_duration_seconds_count\{method="GET",route="\/v1\/customers\/:customerId"\} 3/,
    )
    expect(text).toContain('relata_http_requests_total{method="DELETE",route="(unmatched)",status="404"} 1')
  })

  it("serves the OpenAPI 3.1 document, generated from the same schemas that validate", async () => {
    const response = await t.app.inject({ url: "/openapi.json" })
    expect(response.statusCode).toBe(200)
    const document = json<{
      openapi: string
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>
      >
    }>(response)
    expect(document.openapi).toBe("3.1.0")
    for (const route of commandRoutes) {
      const path = route.path.replace(/:(\w+)/g, "{$1}")
      const operation = document.paths[path]?.[route.method.toLowerCase()]
      expect(operation, `${route.method} ${path}`).toBeDefined()
      if (route.body !== undefined) {
        const generated = Schema.toJsonSchemaDocument(route.body, {
          referencePolicy: () => undefined,
          onExcessProperty: "error",
          generateDescriptions: true,
        }).schema
        expect(operation?.requestBody?.content["application/json"]?.schema).toEqual(generated)
      }
    }
    for (const path of [
      "/v1/customers/{customerId}",
      "/v1/customers/{customerId}/history",
      "/v1/customers/{customerId}/events",
      "/v1/follow-ups/overdue",
      "/v1/projections",
      "/health",
      "/ready",
      "/metrics",
    ]) {
      expect(document.paths[path], path).toBeDefined()
    }
    const docs = await t.app.inject({ url: "/docs" })
    expect(docs.statusCode).toBe(200)
    expect(docs.headers["content-type"]).toContain("text/html")
  })

  it("sets security headers and a request id; keeps a sane request id the client sent", async () => {
    const response = await t.app.inject({ url: "/health", headers: { "x-request-id": "client-abc-123" } })
    expect(response.headers["x-request-id"]).toBe("client-abc-123")
    expect(response.headers["x-content-type-options"]).toBe("nosniff")
    expect(response.headers["x-frame-options"]).toBe("SAMEORIGIN")
    expect(response.headers["content-security-policy"]).toBeDefined()
    const odd = await t.app.inject({ url: "/health", headers: { "x-request-id": "a b\tc" } })
    expect(odd.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/)
  })

  it("sets the security headers on refusals and unknown paths too; the docs page keeps its own policy", async () => {
    const api = await t.app.inject({ url: "/health" })
    const policy = api.headers["content-security-policy"]
    for (const response of [
      await t.app.inject({ url: "/v1/customers" }),
      await t.app.inject({
        url: "/v1/customers",
        headers: { authorization: "Bearer not-a-configured-token" },
      }),
      await t.app.inject({ url: "/no/such/path" }),
    ]) {
      expect(response.statusCode).toBeGreaterThanOrEqual(400)
      expect(response.headers["x-content-type-options"]).toBe("nosniff")
      expect(response.headers["strict-transport-security"]).toBe(api.headers["strict-transport-security"])
      expect(response.headers["content-security-policy"]).toBe(policy)
      expect(response.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/)
    }
    const docs = await t.app.inject({ url: "/docs" })
    expect(docs.statusCode).toBe(200)
    expect(docs.headers["x-frame-options"]).toBe("SAMEORIGIN")
    expect(docs.headers["content-security-policy"]).toContain("validator.swagger.io")
    expect(docs.headers["content-security-policy"]).not.toBe(policy)
  })

  it("leaves CORS off unless origins are configured", async () => {
    const preflight = {
      method: "OPTIONS" as const,
      url: "/v1/customers",
      headers: { origin: "https://crm.example", "access-control-request-method": "POST" },
    }
    const off = await t.app.inject(preflight)
    expect(off.headers["access-control-allow-origin"]).toBeUndefined()
    const withCors = await makeTestApp({ corsOrigins: ["https://crm.example"] })
    try {
      const on = await withCors.app.inject(preflight)
      expect(on.headers["access-control-allow-origin"]).toBe("https://crm.example")
      const other = await withCors.app.inject({
        ...preflight,
        headers: { ...preflight.headers, origin: "https://evil.example" },
      })
      expect(other.headers["access-control-allow-origin"]).toBeUndefined()
    } finally {
      await withCors.close()
    }
  })

  it("rate-limits per client with 429 problem+json and Retry-After", async () => {
    const limited = await makeTestApp({ rateLimit: { max: 3, windowMs: 60_000 } })
    try {
      const statuses: Array<number> = []
      let last: Awaited<ReturnType<typeof limited.app.inject>> | undefined
      for (let i = 0; i < 5; i++) {
        last = await limited.app.inject({ url: "/v1/customers", headers: auth("rep") })
        statuses.push(last.statusCode)
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429])
      expect(last?.headers["content-type"]).toContain("application/problem+json")
      expect(last?.headers["retry-after"]).toMatch(/^\d+$/)
      expect(json(last as never)).toMatchObject({ type: "urn:relata:problem:rate-limited", status: 429 })
    } finally {
      await limited.close()
    }
  })

  it("hides internals in a 500 while the log keeps them under the request id", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/v1/customers/explode-1/qualify",
      headers: { ...auth("rep"), "x-request-id": "req-explode-1" },
    })
    expect(response.statusCode).toBe(500)
    const body = json<Record<string, unknown>>(response)
    expect(body).toMatchObject({
      type: "urn:relata:problem:internal",
      status: 500,
      requestId: "req-explode-1",
    })
    expect(response.body).not.toContain("/var/lib")
    expect(response.body).not.toContain("secret")
    const logged = logLines.filter((line) => line.includes("req-explode-1")).join("\n")
    expect(logged).toContain("secret detail: /var/lib/relata/db is corrupt")
  })

  it("answers a store outage with 503 and Retry-After, without its details", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/v1/customers/down-1/qualify",
      headers: auth("rep"),
    })
    expect(response.statusCode).toBe(503)
    expect(response.headers["retry-after"]).toBe("1")
    expect(json(response)).toMatchObject({ type: "urn:relata:problem:store-unavailable" })
    expect(response.body).not.toContain("/var/lib")
  })

  it("lists projections for auditors and admins, and rebuilds for admins", async () => {
    const list = await t.app.inject({ url: "/v1/projections", headers: auth("auditor") })
    expect(list.statusCode).toBe(200)
    const names = json<{ projections: Array<{ name: string }> }>(list).projections.map((p) => p.name)
    expect(names).toEqual(["customer-cards", "audit-trail", "analytics"])
    expect((await t.app.inject({ url: "/v1/projections", headers: auth("rep") })).statusCode).toBe(403)
    const denied = await t.app.inject({
      method: "POST",
      url: "/v1/projections/customer-cards/rebuild",
      headers: auth("auditor"),
    })
    expect(denied.statusCode).toBe(403)
    const unknown = await t.app.inject({
      method: "POST",
      url: "/v1/projections/nope/rebuild",
      headers: auth("admin"),
    })
    expect(unknown.statusCode).toBe(404)
    const generation =
      json<{ projections: Array<{ generation: number }> }>(list).projections[0]?.generation ?? 0
    const started = await t.app.inject({
      method: "POST",
      url: "/v1/projections/customer-cards/rebuild",
      headers: auth("admin"),
    })
    expect(started.statusCode).toBe(202)
    expect(json(started)).toMatchObject({ name: "customer-cards" })
    await expect
      .poll(async () => {
        const statuses = json<{ projections: Array<{ generation: number }> }>(
          await t.app.inject({ url: "/v1/projections", headers: auth("admin") }),
        )
        return statuses.projections[0]?.generation
      })
      .toBeGreaterThan(generation)
  })
})
