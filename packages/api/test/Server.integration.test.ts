/**
 * The server around the app: it opens the stores before listening (and refuses to start when it
 * cannot), and a close lets in-flight commands finish before the stores close.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type ApiServices, apiLayer, defaultApiConfig, StoreUrl, startServer } from "@relata/api"
import { EventStore, InMemoryEventStore } from "@relata/domain"
import { InMemoryReadModelStore } from "@relata/projections"
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { grants, lead, tokens } from "./support/testApp.ts"

const folder = mkdtempSync(join(tmpdir(), "relata-server-"))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

const config = {
  ...defaultApiConfig,
  port: 0,
  eventStore: StoreUrl.make(`sqlite:${join(folder, "relata.sqlite")}`),
  tokens: grants,
  logLevel: "silent" as const,
}

/** The in-memory store, with appends that take a while: a command is in flight for that long. */
const slowAppends = Layer.effect(
  EventStore,
  Effect.map(InMemoryEventStore.make, (store) =>
    EventStore.of({
      ...store,
      append: (streamId, events, expected) =>
        Effect.andThen(Effect.sleep("400 millis"), store.append(streamId, events, expected)),
    }),
  ),
)

describe("startServer", () => {
  it("refuses to start when the event store cannot be opened, naming why", async () => {
    await expect(
      startServer({ ...config, eventStore: StoreUrl.make("sqlite:/dev/null/relata.sqlite") }),
    ).rejects.toThrow(/SQLite event store/)
  })

  it("lets in-flight commands finish on close, then stops accepting and closes the stores", async () => {
    const runtime = ManagedRuntime.make(
      apiLayer({ eventStore: slowAppends, readModels: InMemoryReadModelStore.layer }) as Layer.Layer<
        ApiServices,
        unknown
      >,
    )
    const server = await startServer(config, { runtime })
    const inFlight = fetch(`${server.url}/v1/customers`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.rep}`, "content-type": "application/json" },
      body: JSON.stringify(lead("Late Co")),
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const closing = server.close()
    const response = await inFlight
    expect(response.status).toBe(201)
    await closing
    await expect(fetch(`${server.url}/health`)).rejects.toThrow()
    // The runtime, and with it the stores and the projections, is gone.
    await expect(runtime.runPromise(EventStore.use((store) => store.headPosition))).rejects.toThrow()
  })

  it("serves the configured SQLite file and closes it", async () => {
    const server = await startServer(config)
    const response = await fetch(`${server.url}/v1/customers`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.rep}`, "content-type": "application/json" },
      body: JSON.stringify(lead("Durable Co")),
    })
    expect(response.status).toBe(201)
    await server.close()
    const reopened = await startServer(config)
    const list = await fetch(
      `${reopened.url}/v1/customers/${((await response.json()) as { customerId: string }).customerId}/history`,
      {
        headers: { authorization: `Bearer ${tokens.auditor}` },
      },
    )
    expect(list.status).toBe(200)
    await reopened.close()
  })
})
