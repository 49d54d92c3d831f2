/**
 * The analytics routes against the simulator: demo data seeded through the real command path, then
 * the figures read over HTTP must equal the simulator's own tally.
 */
import { seedDemo } from "@relata/api"
import { EventStore } from "@relata/domain"
import type { Tally } from "@relata/simulator"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, json, makeTestApp, type TestApp } from "./support/testApp.ts"

describe("analytics routes", () => {
  let t: TestApp
  let tally: Tally
  let head = "0"

  beforeAll(async () => {
    t = await makeTestApp()
    tally = await t.runtime.runPromise(seedDemo({ customers: 60, months: 6, seed: 7 }))
    head = String(await t.runtime.runPromise(EventStore.use((store) => store.headPosition)))
  }, 60_000)
  afterAll(async () => t.close())

  const period = () => `from=${tally.period.start.slice(0, 7)}&months=${tally.period.months.length}`

  it("answers the full report with the simulator's figures", async () => {
    const response = await t.app.inject({
      url: `/v1/analytics/report?${period()}&minPosition=${head}`,
      headers: auth("manager"),
    })
    expect(response.statusCode, response.body).toBe(200)
    const report = json<Record<string, unknown>>(response)
    expect(report.stages).toEqual(tally.stages)
    expect(report.churn).toEqual(tally.churn)
    expect(report.winBack).toEqual(tally.winBack)
    expect(report.lostDeals).toEqual(tally.lostDeals)
    expect(report.rates).toBeDefined()
  })

  it("answers each section on its own", async () => {
    for (const section of [
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
    ]) {
      const response = await t.app.inject({
        url: `/v1/analytics/${section}?${period()}`,
        headers: auth("auditor"),
      })
      expect(response.statusCode, `${section}: ${response.body}`).toBe(200)
    }
    const funnel = json<Record<string, unknown>>(
      await t.app.inject({ url: `/v1/analytics/funnel?${period()}`, headers: auth("admin") }),
    )
    expect(funnel).toEqual(tally.stages)
  })

  it("refuses a bad period with 400, and reps and viewers with 403", async () => {
    expect(
      (await t.app.inject({ url: "/v1/analytics/churn?from=2024-13", headers: auth("manager") })).statusCode,
    ).toBe(400)
    expect(
      (await t.app.inject({ url: "/v1/analytics/churn?months=0", headers: auth("manager") })).statusCode,
    ).toBe(400)
    expect((await t.app.inject({ url: "/v1/analytics/report", headers: auth("rep") })).statusCode).toBe(403)
    expect((await t.app.inject({ url: "/v1/analytics/report", headers: auth("viewer") })).statusCode).toBe(
      403,
    )
  })
})
