import { type CommandResult, RecordedEventView } from "@relata/api"
import { AuditEntry, CustomerCardView } from "@relata/projections"
import { Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, conforms, json, lead, makeTestApp, type TestApp, type TokenName } from "./support/testApp.ts"

type Card = typeof CustomerCardView.Type
type Page = { items: Array<Card>; next?: string }

describe("query routes", () => {
  let t: TestApp
  let acme: typeof CommandResult.Type
  let registeredAt: string
  let lastPosition = "0"

  const command = async (method: "POST" | "PUT", url: string, who: TokenName, payload?: unknown) => {
    const response = await t.app.inject({
      method,
      url,
      headers: auth(who),
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    })
    expect(response.statusCode, response.body).toBeLessThan(300)
    const result = json<typeof CommandResult.Type>(response)
    lastPosition = result.position
    return result
  }

  const get = (url: string, who: TokenName = "rep") =>
    t.app.inject({ method: "GET", url, headers: auth(who) })

  beforeAll(async () => {
    t = await makeTestApp()
    // Acme: registered (back-dated) on 2024-01-01, a prospect from 2024-02-01, tier A from 2024-03-01.
    acme = await command("POST", "/v1/customers", "rep", {
      ...lead("Acme Trading", {
        profile: {
          name: "Acme Trading",
          email: "sales@acme.example",
          phone: "+8610 1234 5678",
          address: "1 Harbour Road",
          region: "East China",
        },
      }),
      effectiveAt: "2024-01-01",
    })
    registeredAt = acme.position
    await command("POST", `/v1/customers/${acme.customerId}/qualify`, "rep", { effectiveAt: "2024-02-01" })
    await command("PUT", `/v1/customers/${acme.customerId}/tier`, "manager", {
      to: "A",
      reason: "Key account",
      effectiveAt: "2024-03-01",
    })
    await command("POST", `/v1/customers/${acme.customerId}/contacts`, "rep", {
      contactId: "c-1",
      name: "Li Wei",
      email: "li.wei@acme.example",
      phone: "+86 139 0000 1111",
    })
    await command("POST", "/v1/customers", "rep", lead("Beta Logistics"))
    await command("POST", "/v1/customers", "rep2", lead("Gamma Retail", { tier: "B" }))
    await command("POST", "/v1/customers", "manager", { ...lead("Delta Foods"), owner: "rep-2" })
  })
  afterAll(async () => t.close())

  it("reads a card from the read model once it includes the write (minPosition)", async () => {
    const response = await get(`/v1/customers/${acme.customerId}?minPosition=${lastPosition}`)
    expect(response.statusCode, response.body).toBe(200)
    const card = conforms(CustomerCardView, json(response)) as Card
    expect(card).toMatchObject({ stage: "prospect", tier: "A", owner: "rep-1", version: 4 })
    expect(response.headers.etag).toBe('"4"')
    expect(card.profile.email).toBe("sales@acme.example")
  })

  it("masks personal data for viewers", async () => {
    const response = await get(`/v1/customers/${acme.customerId}?minPosition=${lastPosition}`, "viewer")
    const card = json<Card>(response)
    expect(card.profile).toMatchObject({
      name: "Acme Trading",
      email: "s***@acme.example",
      phone: "***5678",
      address: "***",
    })
    expect(card.contacts[0]).toMatchObject({ name: "Li Wei", email: "l***@acme.example", phone: "***1111" })
  })

  it("sends a card's body exactly as its view serialises, for viewers masked, read once or again", async () => {
    const url = `/v1/customers/${acme.customerId}`
    for (const who of ["rep", "viewer"] as const) {
      // The card rebuilt from the events at the last position: a view object, serialised by fastify.
      const rebuilt = await get(`${url}?atPosition=${lastPosition}`, who)
      expect(rebuilt.statusCode, rebuilt.body).toBe(200)
      for (const response of [await get(`${url}?minPosition=${lastPosition}`, who), await get(url, who)]) {
        expect(response.statusCode, response.body).toBe(200)
        expect(response.headers["content-type"]).toBe("application/json; charset=utf-8")
        expect(response.body).toBe(rebuilt.body)
      }
    }
    expect(json<Card>(await get(url, "viewer")).profile.email).toBe("s***@acme.example")
  })

  it("rebuilds the card at a position, a recorded instant or a business date", async () => {
    const atRegistration = json<Card>(
      await get(`/v1/customers/${acme.customerId}?atPosition=${registeredAt}`),
    )
    expect(atRegistration).toMatchObject({ stage: "lead", version: 1 })

    const midFebruary = json<Card>(await get(`/v1/customers/${acme.customerId}?effectiveAt=2024-02-15`))
    expect(midFebruary).toMatchObject({ stage: "prospect", tier: "D" })
    const april = json<Card>(await get(`/v1/customers/${acme.customerId}?effectiveAt=2024-04-01`))
    expect(april).toMatchObject({ stage: "prospect", tier: "A" })

    const now = json<Card>(await get(`/v1/customers/${acme.customerId}?asOf=${new Date().toISOString()}`))
    expect(now).toMatchObject({ tier: "A", version: 4 })
    const before = await get(`/v1/customers/${acme.customerId}?asOf=2000-01-01`)
    expect(before.statusCode).toBe(404)
  })

  it("answers 404 for an unknown customer and 400 for a bad id or moment", async () => {
    expect((await get("/v1/customers/nobody")).statusCode).toBe(404)
    const badId = await get("/v1/customers/-nobody")
    expect(badId.statusCode).toBe(400)
    expect(json(badId).errors).toEqual([expect.objectContaining({ in: "params", path: "/customerId" })])
    const badContact = await t.app.inject({
      method: "DELETE",
      url: `/v1/customers/${acme.customerId}/contacts/-c`,
      headers: auth("rep"),
    })
    expect(badContact.statusCode).toBe(400)
    expect(json(badContact).errors).toEqual([expect.objectContaining({ in: "params", path: "/contactId" })])
    expect((await get(`/v1/customers/${acme.customerId}?asOf=yesterday`)).statusCode).toBe(400)
    expect((await get(`/v1/customers/${acme.customerId}?atPosition=-1`)).statusCode).toBe(400)
  })

  it("reads a card with no query string or an empty one, and rejects an unknown query parameter", async () => {
    await get(`/v1/customers/${acme.customerId}?minPosition=${lastPosition}`)
    for (const url of [`/v1/customers/${acme.customerId}`, `/v1/customers/${acme.customerId}?`]) {
      const response = await get(url)
      expect(response.statusCode, url).toBe(200)
      expect(json<Card>(response).customerId).toBe(acme.customerId)
      expect(response.headers.etag).toBe(`"${json<Card>(response).version}"`)
    }
    const unknown = await get(`/v1/customers/${acme.customerId}?asof=2024-01-01`)
    expect(unknown.statusCode).toBe(400)
    expect(json(unknown).errors).toContainEqual(expect.objectContaining({ in: "query", path: "/asof" }))
  })

  it("refuses a minPosition that was never written, rather than wait", async () => {
    const response = await get(`/v1/customers/${acme.customerId}?minPosition=999999999`)
    expect(response.statusCode).toBe(400)
    expect(json(response).errors).toContainEqual(expect.objectContaining({ path: "/minPosition" }))
  })

  it("lists cards with filters, search, sorting and cursor pages", async () => {
    const all = json<Page>(await get(`/v1/customers?minPosition=${lastPosition}`))
    expect(all.items.map((card) => card.profile.name)).toEqual([
      "Acme Trading",
      "Beta Logistics",
      "Delta Foods",
      "Gamma Retail",
    ])
    conforms(Schema.Array(CustomerCardView), all.items)

    const prospects = json<Page>(await get("/v1/customers?stage=prospect"))
    expect(prospects.items.map((card) => card.customerId)).toEqual([acme.customerId])

    const mine = json<Page>(await get("/v1/customers?owner=me", "rep2"))
    expect(mine.items.map((card) => card.profile.name)).toEqual(["Delta Foods", "Gamma Retail"])

    const tierB = json<Page>(await get("/v1/customers?tier=B"))
    expect(tierB.items.map((card) => card.profile.name)).toEqual(["Gamma Retail"])

    const search = json<Page>(await get("/v1/customers?q=logistics"))
    expect(search.items.map((card) => card.profile.name)).toEqual(["Beta Logistics"])

    const reversed = json<Page>(await get("/v1/customers?sort=-name"))
    expect(reversed.items[0]?.profile.name).toBe("Gamma Retail")

    const names: Array<string> = []
    let url = "/v1/customers?limit=1"
    for (;;) {
      const page = json<Page>(await get(url))
      names.push(...page.items.map((card) => card.profile.name))
      if (page.next === undefined) break
      url = `/v1/customers?limit=1&after=${encodeURIComponent(page.next)}`
    }
    expect(names).toEqual(all.items.map((card) => card.profile.name))

    const viewer = json<Page>(await get("/v1/customers?q=acme", "viewer"))
    expect(viewer.items[0]?.profile.email).toBe("s***@acme.example")
  })

  it("rejects unknown filters, bad limits and bad cursors with 400", async () => {
    expect((await get("/v1/customers?stge=lead")).statusCode).toBe(400)
    expect((await get("/v1/customers?limit=0")).statusCode).toBe(400)
    expect((await get("/v1/customers?limit=5000")).statusCode).toBe(400)
    expect((await get("/v1/customers?after=garbage")).statusCode).toBe(400)
    expect((await get("/v1/customers?sort=colour")).statusCode).toBe(400)
  })

  it("shows a customer's history: what, when, by whom and why", async () => {
    const response = await get(`/v1/customers/${acme.customerId}/history`, "auditor")
    expect(response.statusCode).toBe(200)
    const { entries } = json<{ entries: Array<typeof AuditEntry.Type> }>(response)
    conforms(Schema.Array(AuditEntry), entries)
    expect(entries.map((entry) => entry.eventType)).toEqual([
      "LeadRegistered",
      "LeadQualified",
      "TierChanged",
      "ContactAdded",
    ])
    expect(entries[2]).toMatchObject({
      effectiveAt: "2024-03-01T00:00:00.000Z",
      actor: { id: "manager-1", role: "manager" },
      reason: "Key account",
      action: expect.stringContaining("D to A"),
    })
    expect(entries[2]?.changes).toContainEqual({ field: "tier", before: "D", after: "A" })
    expect((await get("/v1/customers/nobody/history", "auditor")).statusCode).toBe(404)
  })

  it("shows raw events, with their chain hashes, to auditors and admins only", async () => {
    const response = await get(`/v1/customers/${acme.customerId}/events`, "auditor")
    expect(response.statusCode).toBe(200)
    const { items } = json<{ items: Array<typeof RecordedEventView.Type> }>(response)
    conforms(Schema.Array(RecordedEventView), items)
    expect(items).toHaveLength(4)
    expect(typeof items[0]?.metadata.hash).toBe("string")
    const paged = json<{ items: Array<unknown> }>(
      await get(`/v1/customers/${acme.customerId}/events?from=3&limit=1`, "admin"),
    )
    expect(paged.items).toHaveLength(1)
    expect((await get(`/v1/customers/${acme.customerId}/events`, "rep")).statusCode).toBe(403)
    expect((await get(`/v1/customers/${acme.customerId}/events`, "manager")).statusCode).toBe(403)
  })

  it("lists overdue follow-ups: a rep's own, a manager's reps', anyone's for auditors", async () => {
    // Acme was registered (back-dated) in January 2024 and never followed up since: overdue now.
    const mine = json<Page>(await get(`/v1/follow-ups/overdue?minPosition=${lastPosition}`, "rep"))
    expect(mine.items.map((card) => card.customerId)).toEqual([acme.customerId])
    expect(mine.items[0]?.overdue).toBe(true)

    const managers = json<Page>(await get("/v1/follow-ups/overdue", "manager"))
    expect(managers.items.map((card) => card.customerId)).toEqual([acme.customerId])

    const rep2 = json<Page>(await get("/v1/follow-ups/overdue", "rep2"))
    expect(rep2.items).toEqual([])
    expect((await get("/v1/follow-ups/overdue?owner=rep-1", "rep2")).statusCode).toBe(403)
    expect((await get("/v1/follow-ups/overdue?owner=rep-1", "auditor")).statusCode).toBe(200)
    expect((await get("/v1/follow-ups/overdue", "viewer")).statusCode).toBe(403)

    const overdueFilter = json<Page>(await get("/v1/customers?overdue=true"))
    expect(overdueFilter.items.map((card) => card.customerId)).toEqual([acme.customerId])
  })
})
