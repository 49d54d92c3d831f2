/**
 * The API on PostgreSQL, as configuration picks it (`RELATA_EVENT_STORE=postgres://...`): events,
 * snapshots and read models in one schema of a throwaway server; commands, read-your-writes, the
 * audit trail, and a restart that resumes from the stored checkpoints.
 */

import { describeWithPostgres } from "@relata/adapter-postgres/testing"
import { defaultApiConfig, StoreUrl, startServer } from "@relata/api"
import { expect, it } from "vitest"
import { grants, lead, tokens } from "./support/testApp.ts"

describeWithPostgres("the API on PostgreSQL", (server) => {
  it("serves commands and queries, and keeps everything across a restart", async () => {
    const config = {
      ...defaultApiConfig,
      port: 0,
      eventStore: StoreUrl.make(server().connectionString),
      tokens: grants,
      logLevel: "silent" as const,
      demo: "never" as const,
    }
    const call = async (base: string, method: string, path: string, token: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      return {
        status: response.status,
        position: response.headers.get("relata-position"),
        body: (await response.json()) as Record<string, unknown>,
      }
    }

    const first = await startServer(config)
    const created = await call(first.url, "POST", "/v1/customers", tokens.rep, lead("Postgres Co"))
    expect(created.status).toBe(201)
    const id = created.body.customerId as string
    const qualified = await call(first.url, "POST", `/v1/customers/${id}/qualify`, tokens.rep, {})
    expect(qualified.status).toBe(200)
    const card = await call(
      first.url,
      "GET",
      `/v1/customers/${id}?minPosition=${qualified.position}`,
      tokens.rep,
    )
    expect(card.body).toMatchObject({ stage: "prospect", version: 2 })
    const trail = await call(
      first.url,
      "GET",
      `/v1/audit?customerId=${id}&minPosition=${qualified.position}`,
      tokens.auditor,
    )
    expect((trail.body.entries as Array<unknown>).length).toBe(2)
    await first.close()

    const second = await startServer(config)
    const again = await call(second.url, "GET", `/v1/customers/${id}`, tokens.viewer)
    expect(again.body).toMatchObject({ stage: "prospect", version: 2 })
    const verified = await call(second.url, "GET", "/v1/audit/verify", tokens.auditor)
    expect(verified.body).toMatchObject({ ok: true, streams: 1, events: 2 })
    await second.close()
  }, 120_000)
})
