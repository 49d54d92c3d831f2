/**
 * The five-minute tour of docs/api.md, over a real socket against a real SQLite file: register,
 * qualify, convert, change the tier, freeze, get 409 for a command on the frozen account, unfreeze,
 * read the history and the card as of an earlier moment, read your own writes, and the analytics.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  defaultApiConfig,
  type RunningServer,
  StoreUrl,
  startServer,
  type TokenGrant,
  TokenGrants,
} from "@relata/api"
import { Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const tokens: ReadonlyArray<TokenGrant> = Schema.decodeUnknownSync(TokenGrants)([
  { token: "tour-rep-token-0000001", actorId: "ana", role: "rep" },
  { token: "tour-manager-token-001", actorId: "li", role: "manager", reps: ["ana"] },
  { token: "tour-auditor-token-001", actorId: "sam", role: "auditor" },
])

describe("the tour, over HTTP", () => {
  const folder = mkdtempSync(join(tmpdir(), "relata-tour-"))
  let server: RunningServer

  beforeAll(async () => {
    server = await startServer({
      ...defaultApiConfig,
      port: 0,
      eventStore: StoreUrl.make(`sqlite:${join(folder, "relata.sqlite")}`),
      tokens,
      logLevel: "silent",
      demo: "never",
    })
  })
  afterAll(async () => {
    await server.close()
    rmSync(folder, { recursive: true, force: true })
  })

  const call = async (
    method: string,
    path: string,
    token: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await response.text()
    return {
      status: response.status,
      headers: response.headers,
      // biome-ignore lint/suspicious/noExplicitAny: the tour reads JSON bodies by their documented shape
      body: (text === "" ? {} : JSON.parse(text)) as Record<string, any>,
    }
  }
  const rep = "tour-rep-token-0000001"
  const manager = "tour-manager-token-001"
  const auditor = "tour-auditor-token-001"

  it("walks a customer through its life and reads it back", async () => {
    // 1. A rep registers a lead.
    const registered = await call("POST", "/v1/customers", rep, {
      profile: { name: "Acme Trading", email: "sales@acme.example", region: "Europe" },
      source: "trade fair",
    })
    expect(registered.status).toBe(201)
    const id = registered.body.customerId as string
    expect(registered.headers.get("location")).toBe(`/v1/customers/${id}`)
    expect(registered.headers.get("etag")).toBe('"1"')

    // 2. Qualify it (with If-Match: the version we saw), then convert it with a first purchase.
    const qualified = await call(
      "POST",
      `/v1/customers/${id}/qualify`,
      rep,
      { reason: "Budget confirmed" },
      {
        "if-match": '"1"',
      },
    )
    expect(qualified.status).toBe(200)
    const afterQualify = qualified.headers.get("relata-position") as string
    const converted = await call("POST", `/v1/customers/${id}/convert`, rep, {
      firstPurchase: { amount: { amountMinor: 1_250_000, currency: "EUR" }, purchaseId: "SO-1001" },
    })
    expect(converted.body.card).toMatchObject({ stage: "customer", lifetimeValue: { EUR: 1_250_000 } })

    // 3. A manager makes it a key account, then freezes it over a payment dispute.
    const tier = await call("PUT", `/v1/customers/${id}/tier`, manager, {
      to: "A",
      reason: "Strategic account",
    })
    expect(tier.body.card.tier).toBe("A")
    const frozen = await call("POST", `/v1/customers/${id}/freeze`, manager, { reason: "Payment dispute" })
    expect(frozen.status).toBe(200)

    // 4. While frozen, a purchase is refused: 409 with the rule's problem type.
    const refused = await call("POST", `/v1/customers/${id}/purchases`, rep, {
      amount: { amountMinor: 5_000, currency: "EUR" },
    })
    expect(refused.status).toBe(409)
    expect(refused.headers.get("content-type")).toContain("application/problem+json")
    expect(refused.body).toMatchObject({ type: "urn:relata:problem:account-frozen", status: 409 })

    // 5. A stale If-Match gets 412.
    const stale = await call(
      "POST",
      `/v1/customers/${id}/unfreeze`,
      manager,
      { reason: "Settled" },
      {
        "if-match": '"2"',
      },
    )
    expect(stale.status).toBe(412)

    // 6. Unfreeze; read your write through the read model with minPosition.
    const unfrozen = await call("POST", `/v1/customers/${id}/unfreeze`, manager, { reason: "Settled" })
    expect(unfrozen.status).toBe(200)
    const position = unfrozen.headers.get("relata-position") as string
    const card = await call("GET", `/v1/customers/${id}?minPosition=${position}`, rep)
    expect(card.status).toBe(200)
    expect(card.body).toMatchObject({ stage: "customer", tier: "A", frozen: null, version: 6 })

    // 7. The history: every change, by whom and why.
    const history = await call("GET", `/v1/customers/${id}/history`, auditor)
    expect(history.body.entries.map((entry: { eventType: string }) => entry.eventType)).toEqual([
      "LeadRegistered",
      "LeadQualified",
      "CustomerConverted",
      "TierChanged",
      "AccountFrozen",
      "AccountUnfrozen",
    ])
    expect(history.body.entries[4]).toMatchObject({
      actor: { id: "li", role: "manager" },
      reason: "Payment dispute",
    })

    // 8. The card as it was right after qualification.
    const then = await call("GET", `/v1/customers/${id}?atPosition=${afterQualify}`, rep)
    expect(then.body).toMatchObject({ stage: "prospect", tier: "D", version: 2 })

    // 9. The list, filtered and searched.
    const list = await call("GET", `/v1/customers?tier=A&q=acme&minPosition=${position}`, manager)
    expect(list.body.items.map((item: { customerId: string }) => item.customerId)).toEqual([id])

    // 10. The numbers a manager decides from: the funnel (and the rest under /v1/analytics).
    const funnel = await call("GET", `/v1/analytics/funnel?minPosition=${position}`, manager)
    expect(funnel.status).toBe(200)
    expect(funnel.body.now).toMatchObject({ lead: 0, prospect: 0, customer: 1 })
    expect(funnel.body.funnel).toMatchObject({ lead: 1, prospect: 1, customer: 1 })
  })

  it("serves the OpenAPI document, the docs page and the operations routes", async () => {
    const openapi = await fetch(`${server.url}/openapi.json`)
    expect(openapi.status).toBe(200)
    expect(((await openapi.json()) as { openapi: string }).openapi).toBe("3.1.0")
    expect((await fetch(`${server.url}/docs`)).status).toBe(200)
    expect((await fetch(`${server.url}/ready`)).status).toBe(200)
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain("relata_http_requests_total")
  })
})
