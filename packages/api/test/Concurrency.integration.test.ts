/**
 * Fifty commands at once on one customer: each is applied or answered 409/412 (never lost, never
 * doubled), and the customer's final version is one event per applied command on top of its
 * registration. Half send If-Match with the version they read first (at most one of those can
 * win); half let the server retry conflicts. Twice: over a real SQLite file, and over a store with
 * latency between reading and appending (as a networked store has), where conflicts really happen.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type ApiServices, apiLayer, buildApp, eventStoreLayer, StoreUrl } from "@relata/api"
import { EventStore, InMemoryEventStore, verifyStreamChain } from "@relata/domain"
import { InMemoryReadModelStore } from "@relata/projections"
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, grants, json, lead } from "./support/testApp.ts"

/** The in-memory store, with a pause after every read: the window in which another writer moves on. */
const slowStore = Layer.effect(
  EventStore,
  Effect.map(InMemoryEventStore.make, (store) =>
    EventStore.of({
      ...store,
      readStream: (streamId, options) =>
        Effect.tap(store.readStream(streamId, options), () => Effect.sleep("2 millis")),
    }),
  ),
)

const folder = mkdtempSync(join(tmpdir(), "relata-api-concurrency-"))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

describe.each([
  {
    name: "SQLite file",
    store: () => eventStoreLayer(StoreUrl.make(`sqlite:${join(folder, "events.sqlite")}`)),
  },
  { name: "store with latency", store: () => slowStore },
])("concurrent commands on one customer ($name)", ({ store }) => {
  let runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
  let app: Awaited<ReturnType<typeof buildApp>>

  beforeAll(async () => {
    runtime = ManagedRuntime.make(
      apiLayer({
        eventStore: store() as Layer.Layer<EventStore, unknown>,
        readModels: InMemoryReadModelStore.layer,
      }) as Layer.Layer<ApiServices, unknown>,
    )
    await runtime.context()
    app = await buildApp({ runtime, tokens: grants, rateLimit: { max: 0, windowMs: 1000 } })
  })
  afterAll(async () => {
    await app.close()
    await runtime.dispose()
  })

  it("applies each command once or answers 409/412; the final version counts the applied ones", async () => {
    const created = await app.inject({
      method: "POST",
      url: "/v1/customers",
      headers: auth("rep"),
      payload: lead("Busy Co"),
    })
    const { customerId, version } = json<{ customerId: string; version: number }>(created)
    expect(version).toBe(1)

    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        app.inject({
          method: "POST",
          url: `/v1/customers/${customerId}/follow-ups`,
          headers: {
            ...auth(i % 3 === 0 ? "manager" : "rep"),
            ...(i % 2 === 0 ? { "if-match": '"1"' } : {}),
          },
          payload: { channel: "phone", summary: `Call ${i}`, outcome: "Noted" },
        }),
      ),
    )
    const statuses = responses.map((response) => response.statusCode)
    for (const status of statuses) expect([200, 409, 412]).toContain(status)
    const applied = statuses.filter((status) => status === 200).length
    const withIfMatchApplied = responses.filter(
      (response, i) => i % 2 === 0 && response.statusCode === 200,
    ).length
    expect(withIfMatchApplied).toBeLessThanOrEqual(1)
    expect(applied).toBeGreaterThan(0)

    const versions = responses
      .filter((response) => response.statusCode === 200)
      .map((response) => json<{ version: number }>(response).version)
    expect(new Set(versions).size).toBe(applied)

    const events = await runtime.runPromise(
      EventStore.use((store) => store.readStream(`customer-${customerId}`)),
    )
    expect(events).toHaveLength(1 + applied)
    expect(events.map((event) => event.version)).toEqual(events.map((_, index) => index + 1))
    expect(verifyStreamChain(events).ok).toBe(true)
    const summaries = events.slice(1).map((event) => event.data.summary)
    expect(new Set(summaries).size).toBe(applied)
  }, 60_000)
})
