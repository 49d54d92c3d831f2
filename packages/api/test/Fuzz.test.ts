/**
 * Fuzzing the HTTP surface: thousands of random and malformed requests (methods, paths, query
 * strings, headers, bodies), many of them near-valid so they reach the decider. Whatever comes in,
 * the answer is never a 5xx, and a request answered with an error never appends an event.
 */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, json, lead, makeTestApp, type TestApp, tokens } from "./support/testApp.ts"

const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
const headerText = fc.string({ unit: fc.constantFrom(...printable), maxLength: 60 })
const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  headerText,
)

/** A path segment: sometimes sane, sometimes encoded junk, sometimes raw malformed escapes. */
const segment = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("c-known", "nobody", "c-1", "customer-cards") },
  { weight: 2, arbitrary: anyText.map(encodeURIComponent) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("%", "%zz", "..", ".", "%00", "%2F", "a%20b", "x".repeat(300), ""),
  },
)

/** The real routes, as method and path template; `{id}` is filled with a fuzzed segment. */
const routeTemplates: ReadonlyArray<readonly [method: string, template: string]> = [
  ["POST", "/v1/customers"],
  ["GET", "/v1/customers"],
  ["GET", "/v1/customers/{id}"],
  ["POST", "/v1/customers/{id}/qualify"],
  ["POST", "/v1/customers/{id}/lose"],
  ["POST", "/v1/customers/{id}/reopen"],
  ["POST", "/v1/customers/{id}/convert"],
  ["POST", "/v1/customers/{id}/purchases"],
  ["POST", "/v1/customers/{id}/promote"],
  ["POST", "/v1/customers/{id}/churn"],
  ["POST", "/v1/customers/{id}/win-back"],
  ["PUT", "/v1/customers/{id}/tier"],
  ["POST", "/v1/customers/{id}/classify"],
  ["POST", "/v1/customers/{id}/freeze"],
  ["POST", "/v1/customers/{id}/unfreeze"],
  ["PUT", "/v1/customers/{id}/owner"],
  ["POST", "/v1/customers/{id}/contacts"],
  ["PATCH", "/v1/customers/{id}/contacts/{id}"],
  ["DELETE", "/v1/customers/{id}/contacts/{id}"],
  ["POST", "/v1/customers/{id}/follow-ups"],
  ["PATCH", "/v1/customers/{id}/profile"],
  ["GET", "/v1/customers/{id}/history"],
  ["GET", "/v1/customers/{id}/events"],
  ["GET", "/v1/follow-ups/overdue"],
  ["GET", "/v1/projections"],
  ["POST", "/v1/projections/{id}/rebuild"],
  ["GET", "/health"],
  ["GET", "/ready"],
  ["GET", "/metrics"],
  ["GET", "/openapi.json"],
  ["GET", "/docs"],
]

const anyMethod = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

/** A method and a path: mostly a real route with fuzzed ids, sometimes a wrong method or a random path. */
const target = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom(...routeTemplates), segment, segment)
      .map(([[method, template], a, b]) => ({
        method,
        path: template.replace("{id}", a).replace("{id}", b),
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(anyMethod, fc.constantFrom(...routeTemplates), segment)
      .map(([method, [, template], a]) => ({ method, path: template.replaceAll("{id}", a) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(anyMethod, fc.array(segment, { maxLength: 5 }))
      .map(([method, parts]) => ({ method, path: `/${parts.join("/")}` })),
  },
)

const queryKey = fc.oneof(
  fc.constantFrom(
    "asOf",
    "atPosition",
    "effectiveAt",
    "minPosition",
    "stage",
    "tier",
    "owner",
    "q",
    "sort",
    "after",
    "limit",
    "overdue",
    "frozen",
    "from",
    "reason",
  ),
  anyText,
)
const queryValue = fc.oneof(
  fc.constantFrom(
    "2024-01-01",
    "0",
    "1",
    "-1",
    "99999999999999999999",
    "me",
    "lead",
    "true",
    "-name",
    "A",
    "",
  ),
  fc.bigInt({ min: -10n, max: 10n ** 20n }).map(String),
  anyText,
)
const query = fc
  .array(fc.tuple(queryKey, queryValue), { maxLength: 4 })
  .map((pairs) =>
    pairs.length === 0
      ? ""
      : `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}`,
  )

/** Near-valid command bodies (so some get past validation) and garbage. */
const validBodies = [
  lead("Fuzz Co"),
  { reason: "Because" },
  { firstPurchase: { amount: { amountMinor: 100, currency: "EUR" } } },
  { amount: { amountMinor: 100, currency: "EUR" } },
  { to: "A", reason: "Growth" },
  { to: "rep-2" },
  { name: "Li Wei", email: "li@example.com" },
  { channel: "phone", summary: "Called", outcome: "Interested" },
  { region: "Europe", email: null },
  {},
]
const mutated = fc
  .tuple(
    fc.constantFrom(...validBodies),
    fc.dictionary(
      fc.oneof(
        fc.constantFrom("reason", "profile", "to", "amount", "effectiveAt", "actor", "customerId", "tier"),
        anyText,
      ),
      fc.jsonValue(),
      { maxKeys: 3 },
    ),
  )
  .map(([body, extra]) => JSON.stringify({ ...body, ...extra }))
const body = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...validBodies).map((b) => JSON.stringify(b)) },
  { weight: 3, arbitrary: mutated },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: anyText },
  { weight: 1, arbitrary: fc.constantFrom("{", "[1,", "null", '"x"', '{"a":', "\u0000", "x".repeat(70_000)) },
  { weight: 1, arbitrary: fc.constant(undefined) },
)

const authorization = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...Object.values(tokens)).map((token) => `Bearer ${token}`) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      headerText,
      headerText.map((s) => `Bearer ${s}`),
      fc.constant("Bearer"),
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
)
const contentType = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "application/merge-patch+json",
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "text/plain",
      "application/xml",
      "multipart/form-data",
      "application/x-www-form-urlencoded",
    ),
  },
  { weight: 1, arbitrary: headerText },
  { weight: 1, arbitrary: fc.constant(undefined) },
)
const optionalHeader = (value: fc.Arbitrary<string>) => fc.option(value, { nil: undefined, freq: 2 })

/** Anything at all, in every part of the request. */
const randomRequest = fc.record({
  target,
  query,
  authorization,
  contentType,
  ifMatch: optionalHeader(fc.oneof(fc.constantFrom('"1"', '"2"', "*", "1", 'W/"1"', '"99"'), headerText)),
  idempotencyKey: optionalHeader(fc.oneof(fc.constantFrom("key-1", "key-2"), headerText)),
  requestId: optionalHeader(headerText),
  extra: fc.dictionary(fc.stringMatching(/^x-[a-z]{1,10}$/), headerText, { maxKeys: 2 }),
  body,
})

/** A well-formed request to a real route by a role that may write: it reaches the decider and the stores. */
const nearValidRequest = fc.record({
  target: fc
    .tuple(
      fc.constantFrom(...routeTemplates),
      fc.constantFrom("c-known", "c-known", "c-new", "nobody"),
      fc.constantFrom("c-1", "c-2"),
    )
    .map(([[method, template], id, contact]) => ({
      method,
      path: template.replace("{id}", id).replace("{id}", contact),
    })),
  query: fc.constantFrom("", "", "?reason=Gone", "?limit=2", "?minPosition=1", "?effectiveAt=2024-01-01"),
  authorization: fc.constantFrom(tokens.rep, tokens.manager, tokens.admin).map((token) => `Bearer ${token}`),
  contentType: fc.constant("application/json"),
  ifMatch: optionalHeader(fc.constantFrom('"1"', '"2"', '"3"', "*")),
  idempotencyKey: optionalHeader(fc.constantFrom("key-1", "key-2", "key-3")),
  requestId: fc.constant(undefined),
  extra: fc.constant({}),
  body: fc.oneof(
    fc.constantFrom(...validBodies).map((b) => JSON.stringify(b)),
    mutated,
  ),
})

const request = fc.oneof(randomRequest, nearValidRequest)

describe("fuzzing the HTTP API", () => {
  let t: TestApp
  beforeAll(async () => {
    t = await makeTestApp({ bodyLimitBytes: 64 * 1024 })
    // A customer the fuzzed paths can hit ("c-known"), with a contact, so requests reach the decider.
    await t.app.inject({
      method: "POST",
      url: "/v1/customers",
      headers: auth("rep"),
      payload: { ...lead("Known"), customerId: "c-known" },
    })
    await t.app.inject({
      method: "POST",
      url: "/v1/customers/c-known/contacts",
      headers: auth("rep"),
      payload: { contactId: "c-1", name: "Contact" },
    })
  })
  afterAll(async () => t.close())

  it("never answers 5xx, and never appends on an error, over 2,500 random requests", async () => {
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const before = await t.eventCount()
        const headers: Record<string, string> = { ...r.extra }
        if (r.authorization !== undefined) headers.authorization = r.authorization
        if (r.contentType !== undefined) headers["content-type"] = r.contentType
        if (r.ifMatch !== undefined) headers["if-match"] = r.ifMatch
        if (r.idempotencyKey !== undefined) headers["idempotency-key"] = r.idempotencyKey
        if (r.requestId !== undefined) headers["x-request-id"] = r.requestId
        const method = r.target.method
        const url = `${r.target.path}${r.query}`
        const response = await t.app.inject({
          method: method as "GET",
          url,
          headers,
          ...(r.body === undefined || method === "GET" || method === "HEAD" ? {} : { payload: r.body }),
        })
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
        expect(response.statusCode, `${method} ${url} -> ${response.body.slice(0, 300)}`).toBeLessThan(500)
        if (response.statusCode >= 400) {
          expect(await t.eventCount(), `${method} ${url} appended despite ${response.statusCode}`).toBe(
            before,
          )
          if (method !== "HEAD") {
            expect(response.headers["content-type"], `${method} ${url}`).toContain("application/problem+json")
          }
        }
      }),
      { numRuns: 2_500 },
    )
    // The run reached past validation: some requests were applied, some refused by the rules.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0)
    expect([...statuses.keys()].some((status) => status < 300)).toBe(true)
  }, 120_000)

  it("the known customer is still consistent after the fuzzing", async () => {
    const events = json<{ items: Array<{ version: number }> }>(
      await t.app.inject({ url: "/v1/customers/c-known/events", headers: auth("auditor") }),
    )
    expect(events.items.map((event) => event.version)).toEqual(events.items.map((_, index) => index + 1))
  })
})
