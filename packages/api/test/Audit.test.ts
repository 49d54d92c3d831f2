import { EventStore, makeInMemoryEventStore } from "@relata/domain"
import { AuditEntry } from "@relata/projections"
import { Effect, Layer, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, conforms, json, lead, makeTestApp, type TestApp, type TokenName } from "./support/testApp.ts"

type Entry = typeof AuditEntry.Type

describe("audit routes", () => {
  const store = makeInMemoryEventStore()
  let t: TestApp
  let position = "0"
  let acme = ""
  let beta = ""

  const command = async (method: "POST" | "PUT", url: string, who: TokenName, payload?: unknown) => {
    const response = await t.app.inject({
      method,
      url,
      headers: auth(who),
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    })
    expect(response.statusCode, response.body).toBeLessThan(300)
    position = String(response.headers["relata-position"])
    return json<{ customerId: string }>(response)
  }
  const get = (url: string, who: TokenName = "auditor") => t.app.inject({ url, headers: auth(who) })

  beforeAll(async () => {
    t = await makeTestApp({ eventStore: Layer.succeed(EventStore, store) })
    acme = (await command("POST", "/v1/customers", "rep", lead("Acme"))).customerId
    await command("PUT", `/v1/customers/${acme}/tier`, "rep", { to: "B", reason: "Bigger orders" })
    await command("PUT", `/v1/customers/${acme}/tier`, "manager", { to: "A", reason: "Strategic" })
    beta = (await command("POST", "/v1/customers", "rep2", lead("Beta"))).customerId
    await command("PUT", `/v1/customers/${beta}/tier`, "rep2", { to: "C", reason: "Small" })
  })
  afterAll(async () => t.close())

  it("lists the global trail with field-level changes, filtered", async () => {
    const all = json<{ entries: Array<Entry> }>(await get(`/v1/audit?minPosition=${position}`))
    conforms(Schema.Array(AuditEntry), all.entries)
    expect(all.entries.map((entry) => entry.eventType)).toEqual([
      "LeadRegistered",
      "TierChanged",
      "TierChanged",
      "LeadRegistered",
      "TierChanged",
    ])
    const tiers = json<{ entries: Array<Entry> }>(await get("/v1/audit?eventType=TierChanged&actor=rep-1"))
    expect(tiers.entries).toHaveLength(1)
    expect(tiers.entries[0]).toMatchObject({ reason: "Bigger orders", actor: { id: "rep-1", role: "rep" } })
    expect(tiers.entries[0]?.changes).toContainEqual({ field: "tier", before: "D", after: "B" })
    const one = json<{ entries: Array<Entry> }>(await get(`/v1/audit?customerId=${beta}`))
    expect(one.entries.map((entry) => entry.customerId)).toEqual([beta, beta])
    const newest = json<{ entries: Array<Entry>; next?: string }>(await get("/v1/audit?order=desc&limit=1"))
    expect(newest.entries[0]?.customerId).toBe(beta)
    expect(newest.next).toBeDefined()
    expect((await get("/v1/audit?eventType=Nope")).statusCode).toBe(400)
  })

  it("shows a manager their own and their reps' actions only", async () => {
    const team = json<{ entries: Array<Entry> }>(await get("/v1/audit?eventType=TierChanged", "manager"))
    expect(team.entries.map((entry) => entry.actor?.id)).toEqual(["rep-1", "manager-1"])
    expect((await get("/v1/audit?actor=rep-2", "manager")).statusCode).toBe(403)
    expect((await get("/v1/audit", "rep")).statusCode).toBe(403)
  })

  it("exports the trail as JSON Lines and CSV", async () => {
    const jsonl = await get("/v1/audit/export")
    expect(jsonl.statusCode).toBe(200)
    expect(jsonl.headers["content-type"]).toContain("application/jsonl")
    const lines = jsonl.body.trimEnd().split("\n")
    expect(lines).toHaveLength(5)
    conforms(AuditEntry, JSON.parse(lines[0] as string))
    const csv = await get(`/v1/audit/export?format=csv&customerId=${acme}`)
    expect(csv.headers["content-type"]).toContain("text/csv")
    const rows = csv.body.trimEnd().split("\r\n")
    expect(rows).toHaveLength(1 + 3)
    expect(rows[0]).toContain("position")
  })

  it("verifies the chains and takes the heads digest; both see an edit made behind the store's back", async () => {
    const clean = json<{ ok: boolean; streams: number; events: number }>(await get("/v1/audit/verify"))
    expect(clean).toMatchObject({ ok: true, streams: 2, events: 5 })
    const digest = json<{ digest: string; atPosition: string }>(await get("/v1/audit/digest"))
    expect(digest.digest).toMatch(/^[0-9a-f]{64}$/)
    expect(
      json<{ digest: string }>(await get(`/v1/audit/digest?atPosition=${digest.atPosition}`)).digest,
    ).toBe(digest.digest)

    await Effect.runPromise(
      store.tamper(
        { streamId: `customer-${acme}`, version: 2 },
        {
          data: {
            customerId: acme,
            occurredAt: "2024-01-01T00:00:00.000Z",
            from: "D",
            to: "A",
            reason: "Edited",
          },
        },
      ),
    )
    const broken = json<{ ok: boolean; broken: Array<{ streamId: string; version: number }> }>(
      await get("/v1/audit/verify"),
    )
    expect(broken.ok).toBe(false)
    expect(broken.broken).toEqual([expect.objectContaining({ streamId: `customer-${acme}`, version: 2 })])
    const one = json<{ ok: boolean }>(await get(`/v1/audit/verify?customerId=${acme}`))
    expect(one.ok).toBe(false)
    expect(json<{ ok: boolean }>(await get(`/v1/audit/verify?customerId=${beta}`)).ok).toBe(true)
    const after = json<{ digest: string }>(await get(`/v1/audit/digest?atPosition=${digest.atPosition}`))
    expect(after.digest).not.toBe(digest.digest)
  })
})
