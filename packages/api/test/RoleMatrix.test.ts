/**
 * Every role against every route: who gets through (any answer but 401/403) and who gets 403. The
 * expected table is written out here from the roles, not derived from the code under test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, json, lead, makeTestApp, type TestApp, type TokenName } from "./support/testApp.ts"

type Role = "viewer" | "rep" | "manager" | "auditor" | "admin"
const roles: ReadonlyArray<Role> = ["viewer", "rep", "manager", "auditor", "admin"]

interface RouteCase {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  /** The path, for a customer owned by rep-1 (`:id`), with contact `c-1`. */
  readonly path: string
  readonly body?: unknown
  readonly allowed: ReadonlyArray<Role>
  /** A command on one customer: rep-2 (not the owner) must get 403 even where reps may issue it. */
  readonly ownedCommand?: boolean
  /** An endless response (Server-Sent Events): read the status, then drop the stream. */
  readonly endless?: boolean
}

const writers: ReadonlyArray<Role> = ["rep", "manager", "admin"]
const runners: ReadonlyArray<Role> = ["manager", "admin"]
const everyone = roles
const staff: ReadonlyArray<Role> = ["rep", "manager", "auditor", "admin"]
const auditors: ReadonlyArray<Role> = ["auditor", "admin"]

const matrix: ReadonlyArray<RouteCase> = [
  { method: "POST", path: "/v1/customers", body: lead("Matrix Lead"), allowed: writers },
  { method: "POST", path: "/v1/customers/:id/qualify", allowed: writers, ownedCommand: true },
  {
    method: "POST",
    path: "/v1/customers/:id/lose",
    body: { reason: "No budget" },
    allowed: writers,
    ownedCommand: true,
  },
  { method: "POST", path: "/v1/customers/:id/reopen", allowed: writers, ownedCommand: true },
  {
    method: "POST",
    path: "/v1/customers/:id/convert",
    body: { firstPurchase: { amount: { amountMinor: 100, currency: "EUR" } } },
    allowed: writers,
    ownedCommand: true,
  },
  {
    method: "POST",
    path: "/v1/customers/:id/purchases",
    body: { amount: { amountMinor: 100, currency: "EUR" } },
    allowed: writers,
    ownedCommand: true,
  },
  {
    method: "POST",
    path: "/v1/customers/:id/promote",
    body: { reason: "Loyal" },
    allowed: writers,
    ownedCommand: true,
  },
  {
    method: "POST",
    path: "/v1/customers/:id/churn",
    body: { reason: "Gone" },
    allowed: writers,
    ownedCommand: true,
  },
  { method: "POST", path: "/v1/customers/:id/win-back", allowed: writers, ownedCommand: true },
  {
    method: "PUT",
    path: "/v1/customers/:id/tier",
    body: { to: "B", reason: "Growth" },
    allowed: writers,
    ownedCommand: true,
  },
  { method: "POST", path: "/v1/customers/:id/classify", allowed: writers, ownedCommand: true },
  {
    method: "POST",
    path: "/v1/customers/:id/freeze",
    body: { reason: "Dispute" },
    allowed: runners,
    ownedCommand: true,
  },
  {
    method: "POST",
    path: "/v1/customers/:id/unfreeze",
    body: { reason: "Settled" },
    allowed: runners,
    ownedCommand: true,
  },
  {
    method: "PUT",
    path: "/v1/customers/:id/owner",
    body: { to: "rep-2" },
    allowed: runners,
    ownedCommand: true,
  },
  {
    method: "POST",
    path: "/v1/customers/:id/contacts",
    body: { name: "Li Wei" },
    allowed: writers,
    ownedCommand: true,
  },
  {
    method: "PATCH",
    path: "/v1/customers/:id/contacts/c-1",
    body: { title: "CFO" },
    allowed: writers,
    ownedCommand: true,
  },
  { method: "DELETE", path: "/v1/customers/:id/contacts/c-1", allowed: writers, ownedCommand: true },
  {
    method: "POST",
    path: "/v1/customers/:id/follow-ups",
    body: { channel: "phone", summary: "Called", outcome: "Interested" },
    allowed: writers,
    ownedCommand: true,
  },
  {
    method: "PATCH",
    path: "/v1/customers/:id/profile",
    body: { region: "Europe" },
    allowed: writers,
    ownedCommand: true,
  },
  { method: "GET", path: "/v1/customers/:id", allowed: everyone },
  { method: "GET", path: "/v1/customers/:id?effectiveAt=2030-01-01", allowed: everyone },
  { method: "GET", path: "/v1/customers", allowed: everyone },
  { method: "GET", path: "/v1/customers/:id/history", allowed: staff },
  { method: "GET", path: "/v1/customers/:id/events", allowed: auditors },
  { method: "GET", path: "/v1/follow-ups/overdue", allowed: staff },
  { method: "GET", path: "/v1/events/stream", allowed: auditors, endless: true },
  { method: "GET", path: "/v1/audit", allowed: ["manager", "auditor", "admin"] },
  { method: "GET", path: "/v1/audit/export", allowed: auditors },
  { method: "GET", path: "/v1/audit/verify", allowed: auditors },
  { method: "GET", path: "/v1/audit/digest", allowed: auditors },
  ...[
    "report",
    "funnel",
    "lost-deals",
    "churn",
    "win-back",
    "cohorts",
    "tiers",
    "tier-migration",
    "distribution",
    "revenue",
    "follow-ups",
    "accounts",
  ].map(
    (section): RouteCase => ({
      method: "GET",
      path: `/v1/analytics/${section}`,
      allowed: ["manager", "auditor", "admin"],
    }),
  ),
  { method: "GET", path: "/v1/projections", allowed: auditors },
  { method: "POST", path: "/v1/projections/customer-cards/rebuild", allowed: ["admin"] },
]

const publicRoutes = ["/health", "/ready", "/metrics", "/openapi.json", "/docs"]

describe("roles x routes", () => {
  let t: TestApp
  beforeAll(async () => {
    t = await makeTestApp()
  })
  afterAll(async () => t.close())

  /** A customer owned by rep-1 with a contact c-1, fresh for each request so earlier ones do not interfere. */
  const freshCustomer = async (): Promise<string> => {
    const created = await t.app.inject({
      method: "POST",
      url: "/v1/customers",
      headers: auth("rep"),
      payload: lead(`Matrix ${Math.random()}`, { allowDuplicate: { reason: "matrix" } }),
    })
    const id = json<{ customerId: string }>(created).customerId
    await t.app.inject({
      method: "POST",
      url: `/v1/customers/${id}/contacts`,
      headers: auth("rep"),
      payload: { contactId: "c-1", name: "Contact One" },
    })
    return id
  }

  const call = async (route: RouteCase, who: TokenName | undefined) => {
    const id = await freshCustomer()
    const body =
      route.path === "/v1/customers"
        ? lead(`Matrix ${Math.random()}`, { allowDuplicate: { reason: "matrix" } })
        : route.body
    const response = await t.app.inject({
      method: route.method,
      url: route.path.replace(":id", id),
      headers: who === undefined ? {} : auth(who),
      ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
      ...(route.endless ? { payloadAsStream: true } : {}),
    })
    if (route.endless) response.stream().destroy()
    return response.statusCode
  }

  for (const route of matrix) {
    it(`${route.method} ${route.path}`, async () => {
      expect(await call(route, undefined), "without a token").toBe(401)
      for (const role of roles) {
        const status = await call(route, role)
        if (route.allowed.includes(role)) {
          expect([401, 403], `${role} should get through (got ${status})`).not.toContain(status)
          expect(status, `${role}: no server error`).toBeLessThan(500)
        } else {
          expect(status, `${role} should be refused`).toBe(403)
        }
      }
      if (route.ownedCommand && route.allowed.includes("rep")) {
        expect(await call(route, "rep2"), "a rep on another rep's customer").toBe(403)
      }
    })
  }

  it("lets anyone reach the operations routes, with or without a token", async () => {
    for (const url of publicRoutes) {
      expect((await t.app.inject({ url })).statusCode, url).toBe(200)
      for (const role of roles)
        expect((await t.app.inject({ url, headers: auth(role) })).statusCode).toBe(200)
    }
  })

  it("covers every operation in the OpenAPI document", async () => {
    const document = json<{ paths: Record<string, Record<string, unknown>> }>(
      await t.app.inject({ url: "/openapi.json" }),
    )
    const covered = new Set(
      [...matrix.map((route) => `${route.method} ${route.path.split("?")[0]}`)].map((key) =>
        key
          .replace(":id", "{customerId}")
          .replace("/c-1", "/{contactId}")
          .replace("/customer-cards/", "/{name}/"),
      ),
    )
    for (const url of publicRoutes) covered.add(`GET ${url}`)
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations)) {
        expect(covered, `${method.toUpperCase()} ${path}`).toContain(`${method.toUpperCase()} ${path}`)
      }
    }
  })
})
