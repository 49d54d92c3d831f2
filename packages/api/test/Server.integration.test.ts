/**
 * The server around the app: it opens the stores before listening (and refuses to start when it
 * cannot), a close lets in-flight commands finish before the stores close, and a card read again
 * from the SQLite file is never older than the last change.
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

  it("reads a card again without a stale moment: each change shows at the next read", async () => {
    const server = await startServer({
      ...config,
      eventStore: StoreUrl.make(`sqlite:${join(folder, "cards.sqlite")}`),
    })
    try {
      const send = async (method: string, path: string, body: unknown) => {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${tokens.manager}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        })
        expect(response.status, await response.clone().text()).toBeLessThan(300)
        return (await response.json()) as { customerId: string; position: string }
      }
      const read = async (path: string, who: keyof typeof tokens = "manager") => {
        const response = await fetch(`${server.url}${path}`, {
          headers: { authorization: `Bearer ${tokens[who]}` },
        })
        expect(response.status).toBe(200)
        return { etag: response.headers.get("etag"), body: await response.text() }
      }
      const { customerId, position } = await send("POST", "/v1/customers", lead("Kept Card Ltd"))
      const card = `/v1/customers/${customerId}`
      const first = await read(`${card}?minPosition=${position}`)
      expect(await read(card)).toEqual(first)
      expect(JSON.parse((await read(card, "viewer")).body)).toMatchObject({ stage: "lead" })

      // Each change shows at once to a read that waits for its position, and to every read after it:
      // the projection commits on the server's own connection, which moves no data_version.
      const steps: ReadonlyArray<readonly [string, string, unknown, Record<string, unknown>]> = [
        ["POST", "qualify", {}, { stage: "prospect", version: 2 }],
        ["PUT", "tier", { to: "A", reason: "Key account" }, { tier: "A", version: 3 }],
        ["POST", "freeze", { reason: "Audit" }, { frozen: expect.objectContaining({ reason: "Audit" }) }],
      ]
      for (const [method, command, body, expected] of steps) {
        const { position } = await send(method, `${card}/${command}`, body)
        // A read right after the command may come before the projection's commit and keep that card;
        // the read that waits for the position must not get it.
        await read(card)
        const waited = await read(`${card}?minPosition=${position}`)
        expect(JSON.parse(waited.body)).toMatchObject({ ...expected, position })
        expect(waited.etag).toBe(`"${JSON.parse(waited.body).version}"`)
        expect(await read(card)).toEqual(waited)
        expect(JSON.parse((await read(card, "viewer")).body)).toMatchObject({ ...expected, position })
      }
    } finally {
      await server.close()
    }
  })
})
