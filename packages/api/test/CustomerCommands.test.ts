import { CommandResult, ProblemDocument } from "@relata/api"
import { Schema } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { auth, conforms, json, lead, makeTestApp, type TestApp, type TokenName } from "./support/testApp.ts"

type Result = typeof CommandResult.Type

describe("command routes", () => {
  let t: TestApp
  beforeEach(async () => {
    t = await makeTestApp()
  })
  afterEach(async () => t.close())

  const send = (
    method: "POST" | "PUT" | "PATCH" | "DELETE",
    url: string,
    who: TokenName,
    payload?: unknown,
    headers: Record<string, string> = {},
  ) =>
    t.app.inject({
      method,
      url,
      headers: { ...auth(who), ...headers },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    })

  const register = async (
    name = "Acme Trading",
    who: TokenName = "rep",
    extra: Record<string, unknown> = {},
  ) => {
    const response = await send("POST", "/v1/customers", who, lead(name, extra))
    expect(response.statusCode, response.body).toBe(201)
    return conforms(CommandResult, json(response)) as Result
  }

  const problemOf = (response: { statusCode: number; headers: Record<string, unknown>; body: string }) => {
    expect(response.headers["content-type"]).toContain("application/problem+json")
    // Problems carry the error's own fields as extension members, so only the standard ones are checked.
    const body = JSON.parse(response.body) as typeof ProblemDocument.Type & Record<string, unknown>
    Schema.decodeUnknownSync(ProblemDocument)(body)
    expect(body.status).toBe(response.statusCode)
    return body
  }

  it("registers a lead: 201 with the card, Location, ETag and the global position", async () => {
    const response = await send("POST", "/v1/customers", "rep", lead("Acme Trading"))
    expect(response.statusCode).toBe(201)
    const body = conforms(CommandResult, json(response)) as Result
    expect(response.headers.location).toBe(`/v1/customers/${body.customerId}`)
    expect(response.headers.etag).toBe('"1"')
    expect(response.headers["relata-position"]).toBe(body.position)
    expect(body.events.map((e) => e.type)).toEqual(["LeadRegistered"])
    expect(body.card).toMatchObject({ stage: "lead", owner: "rep-1", version: 1, tier: "D" })
    expect(body.card.profile.email).toBe("acme.trading@example.com")
  })

  it("takes the actor from the token, never from the body", async () => {
    const response = await send("POST", "/v1/customers", "rep", {
      ...lead("Acme"),
      actor: { id: "admin-1", role: "admin" },
    })
    expect(response.statusCode).toBe(400)
    expect(problemOf(response).errors).toContainEqual(expect.objectContaining({ in: "body", path: "/actor" }))

    const ok = await register("Acme")
    const events = await t.app.inject({
      url: `/v1/customers/${ok.customerId}/events`,
      headers: auth("auditor"),
    })
    const [event] = json<{ items: Array<{ metadata: Record<string, unknown> }> }>(events).items
    expect(event?.metadata.actor).toEqual({ id: "rep-1", role: "rep" })
  })

  it("normalises input while decoding (e-mail, phone, dates)", async () => {
    const created = await register("Beta", "rep", {
      profile: { name: "Beta", email: "  Ana@Example.COM ", phone: "+86 (10) 1234-5678" },
    })
    expect(created.card.profile).toMatchObject({ email: "ana@example.com", phone: "+861012345678" })
    const followUp = await send("POST", `/v1/customers/${created.customerId}/follow-ups`, "rep", {
      channel: "phone",
      summary: "Called",
      outcome: "Interested",
      at: "2024-05-01",
    })
    expect(followUp.statusCode, followUp.body).toBe(200)
    expect(json<Result>(followUp).events[0]?.data.at).toBe("2024-05-01T00:00:00.000Z")
  })

  it("runs a customer through every lifecycle command", async () => {
    const { customerId } = await register()
    const base = `/v1/customers/${customerId}`
    const steps: Array<
      [method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body: unknown, events: Array<string>]
    > = [
      ["POST", "/lose", { reason: "No budget" }, ["DealLost"]],
      ["POST", "/reopen", undefined, ["LeadReopened"]],
      ["POST", "/qualify", { reason: "Budget approved" }, ["LeadQualified"]],
      [
        "POST",
        "/convert",
        { firstPurchase: { amount: { amountMinor: 120_000, currency: "EUR" } } },
        ["CustomerConverted"],
      ],
      [
        "POST",
        "/purchases",
        { amount: { amountMinor: 5_000, currency: "EUR" }, purchaseId: "inv-2" },
        ["PurchaseRecorded"],
      ],
      ["POST", "/promote", { reason: "Key account" }, ["CustomerBecameLoyal"]],
      ["PUT", "/tier", { to: "A", reason: "Top revenue" }, ["TierChanged"]],
      ["POST", "/classify", undefined, ["TierChanged"]],
      ["POST", "/contacts", { contactId: "c-1", name: "Li Wei", email: "li@example.com" }, ["ContactAdded"]],
      ["PATCH", "/contacts/c-1", { title: "CFO", email: null }, ["ContactUpdated"]],
      [
        "POST",
        "/follow-ups",
        { channel: "visit", summary: "Visited", outcome: "Happy", contactId: "c-1" },
        ["FollowUpRecorded"],
      ],
      ["DELETE", "/contacts/c-1?reason=Left%20the%20company", undefined, ["ContactRemoved"]],
      ["PATCH", "/profile", { website: "https://acme.example", company: "Acme Ltd" }, ["ProfileUpdated"]],
      ["POST", "/churn", { reason: "Moved to a competitor" }, ["CustomerChurned"]],
      ["POST", "/win-back", { reason: "New offer" }, ["CustomerWinBackStarted"]],
    ]
    let version = 1
    for (const [method, path, body, events] of steps) {
      const response = await send(method, `${base}${path}`, method === "PUT" ? "manager" : "rep", body)
      expect(response.statusCode, `${method} ${path}: ${response.body}`).toBe(
        path === "/contacts" ? 201 : 200,
      )
      const result = conforms(CommandResult, json(response)) as Result
      expect(result.events.map((e) => e.type)).toEqual(events)
      version += events.length
      expect(result.version).toBe(version)
      expect(response.headers.etag).toBe(`"${version}"`)
      expect(result.card.version).toBe(version)
    }
    const handover = await send("PUT", `${base}/owner`, "manager", {
      to: "rep-2",
      reason: "Territory change",
    })
    expect(json<Result>(handover).card.owner).toBe("rep-2")
    const freeze = await send("POST", `${base}/freeze`, "manager", { reason: "Payment dispute" })
    expect(json<Result>(freeze).card.frozen).toMatchObject({ reason: "Payment dispute" })
    const unfreeze = await send("POST", `${base}/unfreeze`, "manager", { reason: "Settled" })
    expect(json<Result>(unfreeze).card.frozen).toBeNull()
  })

  it("answers a no-op with 200, the same version and no events", async () => {
    const { customerId } = await register()
    const response = await send("PUT", `/v1/customers/${customerId}/tier`, "rep", {
      to: "D",
      reason: "Unchanged",
    })
    expect(response.statusCode).toBe(200)
    expect(json<Result>(response)).toMatchObject({ version: 1, events: [], replayed: false })
  })

  it("answers business rule violations with 409 and the rule's problem type", async () => {
    const { customerId } = await register()
    const convert = await send("POST", `/v1/customers/${customerId}/convert`, "rep", {
      firstPurchase: { amount: { amountMinor: 1, currency: "EUR" } },
    })
    expect(convert.statusCode).toBe(409)
    expect(problemOf(convert)).toMatchObject({
      type: "urn:relata:problem:invalid-lifecycle-transition",
      stage: "lead",
      command: "ConvertToCustomer",
    })

    await send("POST", `/v1/customers/${customerId}/freeze`, "manager", { reason: "Audit" })
    const frozen = await send("POST", `/v1/customers/${customerId}/qualify`, "rep")
    expect(frozen.statusCode).toBe(409)
    expect(problemOf(frozen).type).toBe("urn:relata:problem:account-frozen")

    const other = await register("Other")
    const again = await send("POST", "/v1/customers", "rep", {
      ...lead("Another"),
      customerId: other.customerId,
    })
    expect(again.statusCode).toBe(409)
    expect(problemOf(again).type).toBe("urn:relata:problem:customer-already-exists")
  })

  it("answers 404 for an unknown customer or contact, and for an unknown route", async () => {
    const missing = await send("POST", "/v1/customers/nobody/qualify", "rep")
    expect(missing.statusCode).toBe(404)
    expect(problemOf(missing).type).toBe("urn:relata:problem:customer-not-found")

    const { customerId } = await register()
    const contact = await send("PATCH", `/v1/customers/${customerId}/contacts/nobody`, "rep", {
      title: "CEO",
    })
    expect(contact.statusCode).toBe(404)
    expect(problemOf(contact).type).toBe("urn:relata:problem:contact-not-found")

    const route = await send("POST", "/v1/nothing-here", "rep", {})
    expect(route.statusCode).toBe(404)
    expect(problemOf(route).type).toBe("urn:relata:problem:not-found")
  })

  it("answers 400 with every field path from the schema", async () => {
    const response = await send("POST", "/v1/customers", "rep", {
      profile: { name: "", email: "not an address" },
      source: "x",
      tier: "Z",
    })
    expect(response.statusCode).toBe(400)
    const paths = (problemOf(response).errors ?? []).map((e) => e.path)
    expect(paths).toEqual(expect.arrayContaining(["/profile/name", "/profile/email", "/tier"]))
  })

  it("answers a business date in the future with 400", async () => {
    const { customerId } = await register()
    const response = await send("POST", `/v1/customers/${customerId}/qualify`, "rep", {
      effectiveAt: "2999-01-01",
    })
    expect(response.statusCode).toBe(400)
    expect(problemOf(response).type).toBe("urn:relata:problem:business-date-in-future")
  })

  it("enforces If-Match: the current version passes, a stale one gets 412 and appends nothing", async () => {
    const { customerId } = await register()
    const ok = await send("POST", `/v1/customers/${customerId}/qualify`, "rep", {}, { "if-match": '"1"' })
    expect(ok.statusCode).toBe(200)
    const before = await t.eventCount()
    const stale = await send(
      "POST",
      `/v1/customers/${customerId}/lose`,
      "rep",
      { reason: "x" },
      { "if-match": '"1"' },
    )
    expect(stale.statusCode).toBe(412)
    expect(problemOf(stale)).toMatchObject({
      type: "urn:relata:problem:stale-version",
      expected: 1,
      actual: 2,
    })
    expect(await t.eventCount()).toBe(before)
    const malformed = await send(
      "POST",
      `/v1/customers/${customerId}/lose`,
      "rep",
      { reason: "x" },
      { "if-match": "2" },
    )
    expect(malformed.statusCode).toBe(400)
  })

  it("makes a retried command with the same Idempotency-Key return the first result and append nothing", async () => {
    const key = "6b7a0a0e-3c41-4c0d-9a7e-1a1f1c7e0001"
    const first = await send("POST", "/v1/customers", "rep", lead("Gamma"), { "idempotency-key": key })
    const before = await t.eventCount()
    const second = await send("POST", "/v1/customers", "rep", lead("Gamma"), { "idempotency-key": key })
    expect(second.statusCode).toBe(201)
    expect(await t.eventCount()).toBe(before)
    const a = json<Result>(first)
    const b = json<Result>(second)
    expect(b).toMatchObject({
      customerId: a.customerId,
      version: a.version,
      position: a.position,
      replayed: true,
    })
    expect(b.events).toEqual(a.events)

    const qualifyKey = "qualify-gamma-1"
    const q1 = await send(
      "POST",
      `/v1/customers/${a.customerId}/qualify`,
      "rep",
      {},
      { "idempotency-key": qualifyKey },
    )
    const q2 = await send(
      "POST",
      `/v1/customers/${a.customerId}/qualify`,
      "rep",
      {},
      { "idempotency-key": qualifyKey },
    )
    expect(q1.statusCode).toBe(200)
    expect(q2.statusCode).toBe(200)
    expect(json<Result>(q2)).toMatchObject({ replayed: true, version: 2 })
  })

  it("finds duplicates through the index: 409 with the candidates, unless allowDuplicate gives a reason", async () => {
    const first = await register("Delta Trading", "rep", {
      profile: { name: "Delta Trading", email: "sales@delta.example" },
    })
    const duplicate = await send("POST", "/v1/customers", "rep", {
      profile: { name: "DELTA trading", email: "other@delta.example" },
      source: "web form",
    })
    expect(duplicate.statusCode).toBe(409)
    const problem = problemOf(duplicate)
    expect(problem.type).toBe("urn:relata:problem:possible-duplicate")
    expect(problem.candidates).toEqual([
      { customerId: first.customerId, name: "Delta Trading", matchedOn: ["name"] },
    ])

    const confirmed = await send("POST", "/v1/customers", "rep", {
      profile: { name: "DELTA trading", email: "other@delta.example" },
      source: "web form",
      allowDuplicate: { reason: "A different branch" },
    })
    expect(confirmed.statusCode).toBe(201)
    const data = json<Result>(confirmed).events[0]?.data
    expect(data).toMatchObject({ duplicateOf: first.customerId, allowDuplicateReason: "A different branch" })
  })

  it("lets a rep change only their own customers", async () => {
    const { customerId } = await register("Epsilon", "rep")
    const other = await send("POST", `/v1/customers/${customerId}/qualify`, "rep2")
    expect(other.statusCode).toBe(403)
    expect(problemOf(other).type).toBe("urn:relata:problem:not-customer-owner")
    const forSomeoneElse = await send("POST", "/v1/customers", "rep", { ...lead("Zeta"), owner: "rep-2" })
    expect(forSomeoneElse.statusCode).toBe(403)
    const byManager = await send("POST", `/v1/customers/${customerId}/qualify`, "manager")
    expect(byManager.statusCode).toBe(200)
  })

  it("answers 401 without a valid token and 403 for a role the command permissions exclude", async () => {
    const none = await t.app.inject({ method: "POST", url: "/v1/customers", payload: lead("Eta") })
    expect(none.statusCode).toBe(401)
    expect(none.headers["www-authenticate"]).toContain("Bearer")
    expect(problemOf(none).type).toBe("urn:relata:problem:unauthenticated")
    const wrong = await t.app.inject({
      method: "POST",
      url: "/v1/customers",
      headers: { authorization: "Bearer not-a-real-token-at-all" },
      payload: lead("Eta"),
    })
    expect(wrong.statusCode).toBe(401)
    const viewer = await send("POST", "/v1/customers", "viewer", lead("Eta"))
    expect(viewer.statusCode).toBe(403)
    const { customerId } = await register("Theta")
    const freeze = await send("POST", `/v1/customers/${customerId}/freeze`, "rep", { reason: "x" })
    expect(freeze.statusCode).toBe(403)
    expect(problemOf(freeze).type).toBe("urn:relata:problem:forbidden")
  })

  it("answers 413 for a body over the limit and 415 for a body that is not JSON", async () => {
    const small = await makeTestApp({ bodyLimitBytes: 1024 })
    try {
      const big = await small.app.inject({
        method: "POST",
        url: "/v1/customers",
        headers: auth("rep"),
        payload: { ...lead("Big"), profile: { name: "Big", address: "x".repeat(5000) } },
      })
      expect(big.statusCode).toBe(413)
      expect(problemOf(big).type).toBe("urn:relata:problem:payload-too-large")
      const text = await small.app.inject({
        method: "POST",
        url: "/v1/customers",
        headers: { ...auth("rep"), "content-type": "text/plain" },
        payload: "hello",
      })
      expect(text.statusCode).toBe(415)
      expect(problemOf(text).type).toBe("urn:relata:problem:unsupported-media-type")
      const broken = await small.app.inject({
        method: "POST",
        url: "/v1/customers",
        headers: { ...auth("rep"), "content-type": "application/json" },
        payload: "{not json",
      })
      expect(broken.statusCode).toBe(400)
      expect(problemOf(broken).type).toBe("urn:relata:problem:invalid-input")
    } finally {
      await small.close()
    }
  })

  it("accepts JSON Merge Patch bodies on PATCH", async () => {
    const { customerId } = await register()
    const response = await t.app.inject({
      method: "PATCH",
      url: `/v1/customers/${customerId}/profile`,
      headers: { ...auth("rep"), "content-type": "application/merge-patch+json" },
      payload: JSON.stringify({ region: "Europe" }),
    })
    expect(response.statusCode, response.body).toBe(200)
    expect(json<Result>(response).card.profile.region).toBe("Europe")
  })
})
