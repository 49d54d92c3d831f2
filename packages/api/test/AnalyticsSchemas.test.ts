/**
 * The analytics routes answer with the projections package's schemas: the OpenAPI document names
 * each figure as a component with its real properties, and what the routes send decodes with them.
 */
import { seedDemo } from "@relata/api"
import { EventStore } from "@relata/domain"
import {
  AccountFigures,
  AnalyticsReport,
  ChurnFigures,
  CohortRetention,
  DistributionFigures,
  FollowUpFigures,
  LifecycleFigures,
  LostDealFigures,
  lifecycleFigures,
  RevenueFigures,
  TierFigures,
  TierMigration,
  WinBackFigures,
} from "@relata/projections"
import type { Tally } from "@relata/simulator"
import { Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, conforms, json, makeTestApp, type TestApp } from "./support/testApp.ts"

interface JsonSchema {
  readonly $ref?: string
  readonly type?: string
  readonly properties?: Record<string, unknown>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: unknown
  readonly items?: unknown
  readonly description?: string
}

interface OpenApi {
  readonly paths: Record<
    string,
    { get: { responses: Record<string, { content: Record<string, { schema: JsonSchema }> }> } }
  >
  readonly components: { readonly schemas: Record<string, JsonSchema> }
}

const component = (name: string) => `#/components/schemas/${name}`

/** The sections whose figures are objects with fixed fields, and their schemas. */
const structSections = [
  ["report", "AnalyticsReport", AnalyticsReport],
  ["funnel", "LifecycleFigures", LifecycleFigures],
  ["lost-deals", "LostDealFigures", LostDealFigures],
  ["churn", "ChurnFigures", ChurnFigures],
  ["win-back", "WinBackFigures", WinBackFigures],
  ["tiers", "TierFigures", TierFigures],
  ["tier-migration", "TierMigration", TierMigration],
  ["distribution", "DistributionFigures", DistributionFigures],
  ["follow-ups", "FollowUpFigures", FollowUpFigures],
  ["accounts", "AccountFigures", AccountFigures],
] as const

describe("analytics schemas", () => {
  let t: TestApp
  let tally: Tally
  let document: OpenApi

  beforeAll(async () => {
    t = await makeTestApp()
    tally = await t.runtime.runPromise(seedDemo({ customers: 40, months: 6, seed: 11 }))
    document = json<OpenApi>(await t.app.inject({ url: "/openapi.json" }))
  }, 60_000)
  afterAll(async () => t.close())

  const period = () => `from=${tally.period.start.slice(0, 7)}&months=${tally.period.months.length}`
  const responseSchema = (section: string): JsonSchema | undefined =>
    document.paths[`/v1/analytics/${section}`]?.get.responses["200"]?.content["application/json"]?.schema

  it("names each section's figures as a component with their real properties", () => {
    for (const [section, name, schema] of structSections) {
      expect(responseSchema(section), section).toEqual({ $ref: component(name) })
      const figures = document.components.schemas[name]
      expect(figures?.type, name).toBe("object")
      expect(Object.keys(figures?.properties ?? {}).sort(), name).toEqual(Object.keys(schema.fields).sort())
      expect([...(figures?.required ?? [])].sort(), name).toEqual(Object.keys(schema.fields).sort())
      expect(figures?.description, name).toEqual(expect.any(String))
    }
    expect(responseSchema("cohorts")).toEqual({ $ref: component("CohortRetention") })
    expect(document.components.schemas.CohortRetention).toMatchObject({
      type: "array",
      items: { $ref: component("Cohort") },
    })
    expect(responseSchema("revenue")).toEqual({ $ref: component("RevenueFigures") })
    expect(document.components.schemas.RevenueFigures).toMatchObject({
      type: "object",
      additionalProperties: { $ref: component("CurrencyRevenue") },
    })
  })

  it("shows the figures' keys and counts, and shares the nested figures by reference", () => {
    const schemas = document.components.schemas
    expect(Object.keys(schemas.StageCounts?.properties ?? {})).toEqual([
      "lead",
      "prospect",
      "customer",
      "loyal",
      "churned",
    ])
    expect(Object.keys(schemas.TierCounts?.properties ?? {})).toEqual(["A", "B", "C", "D"])
    expect(schemas.AccountFigures?.properties?.frozenNow).toMatchObject({
      type: "integer",
      allOf: expect.arrayContaining([expect.objectContaining({ minimum: 0 })]),
    })
    expect(schemas.StageDurations?.properties?.medianMs).toMatchObject({
      anyOf: expect.arrayContaining([{ type: "null" }]),
    })
    expect(schemas.AnalyticsReport?.properties?.stages).toEqual({ $ref: component("LifecycleFigures") })
    // Every reference in the document resolves to a component.
    const references = [...JSON.stringify(document).matchAll(/"#\/components\/schemas\/([^"]+)"/g)]
    for (const [, name] of references) expect(schemas, name).toHaveProperty([name as string])
  })

  it("answers with bodies that decode with the schemas, and sends the figures unchanged", async () => {
    const head = String(await t.runtime.runPromise(EventStore.use((store) => store.headPosition)))
    const report = await t.app.inject({
      url: `/v1/analytics/report?${period()}&minPosition=${head}`,
      headers: auth("manager"),
    })
    expect(report.statusCode, report.body).toBe(200)
    const body = json(report)
    const decoded = conforms(AnalyticsReport, body)
    expect(Schema.encodeSync(AnalyticsReport)(decoded)).toEqual(body)
    expect(Object.keys(decoded.revenue).length).toBeGreaterThan(0)
    expect(Object.keys(decoded.distribution.byOwner).length).toBeGreaterThan(0)

    for (const [section, , schema] of structSections) {
      const response = await t.app.inject({
        url: `/v1/analytics/${section}?${period()}`,
        headers: auth("admin"),
      })
      expect(response.statusCode, `${section}: ${response.body}`).toBe(200)
      conforms(schema, json(response))
    }
    for (const [section, schema] of [
      ["cohorts", CohortRetention],
      ["revenue", RevenueFigures],
    ] as const) {
      const response = await t.app.inject({
        url: `/v1/analytics/${section}?${period()}`,
        headers: auth("admin"),
      })
      conforms(schema, response.json())
    }

    const funnel = await t.app.inject({ url: `/v1/analytics/funnel?${period()}`, headers: auth("auditor") })
    const start = tally.period.start
    const direct = await t.runtime.runPromise(lifecycleFigures({ start, months: tally.period.months.length }))
    expect(json(funnel)).toEqual(JSON.parse(JSON.stringify(direct)))
  })

  it("rejects figures the schemas do not describe", () => {
    const accounts = { frozenNow: 0, freezes: 1, unfreezes: 1, handovers: 2, duplicates: 0 }
    expect(() => conforms(AccountFigures, accounts)).not.toThrow()
    expect(() => conforms(AccountFigures, { ...accounts, frozenNow: -1 })).toThrow()
    expect(() => conforms(AccountFigures, { ...accounts, handovers: 1.5 })).toThrow()
    expect(() => conforms(AccountFigures, { ...accounts, extra: 1 })).toThrow()
    const followUps = {
      recorded: 1,
      byOwner: { "rep-1": { due: 1, onTime: 1, overdue: 0, late: 0, openOverdue: 0, unscheduled: 0 } },
    }
    expect(() => conforms(FollowUpFigures, followUps)).not.toThrow()
    const row = followUps.byOwner["rep-1"]
    expect(() => conforms(FollowUpFigures, { ...followUps, byOwner: { "not an id": row } })).toThrow()
    const nothing = { customers: 0, totalMinor: 0 }
    const euros = {
      purchases: 0,
      totalMinor: 0,
      buyers: 0,
      perCustomer: [],
      top20: { customers: 0, revenueMinor: 0 },
      pareto: [],
      lifetimeValueByTier: { A: nothing, B: nothing, C: nothing, D: nothing },
    }
    expect(() => conforms(RevenueFigures, { EUR: euros })).not.toThrow()
    expect(() => conforms(RevenueFigures, { eur: euros })).toThrow()
    expect(() =>
      conforms(RevenueFigures, { EUR: { ...euros, lifetimeValueByTier: { A: nothing } } }),
    ).toThrow()
  })
})
