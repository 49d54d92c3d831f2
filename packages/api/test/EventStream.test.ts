/**
 * GET /v1/events/stream over a real socket: live events, resuming with Last-Event-ID, one
 * customer's events, auth, and subscriptions that end with the connection or the server.
 */
import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { type RecordedEventView, recordedEventView } from "@relata/api"
import { customerStreamId, EventStore, InMemoryEventStore } from "@relata/domain"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, json, lead, makeTestApp, type TestApp, type TokenName } from "./support/testApp.ts"

/** The in-memory store, counting the subscriptions that are open right now. */
let activeSubscriptions = 0
const countingStore = Layer.effect(
  EventStore,
  Effect.map(InMemoryEventStore.make, (store) =>
    EventStore.of({
      ...store,
      subscribe: (options) =>
        Stream.unwrap(
          Effect.sync(() => {
            activeSubscriptions += 1
            return store.subscribe(options).pipe(
              Stream.ensuring(
                Effect.sync(() => {
                  activeSubscriptions -= 1
                }),
              ),
            )
          }),
        ),
    }),
  ),
)

interface SseMessage {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly comment?: string
}

/** An open event stream: the response, and every message (or comment) parsed so far. */
interface OpenStream {
  readonly response: IncomingMessage
  readonly messages: Array<SseMessage>
  readonly events: () => Array<RecordedEventView>
  readonly ended: Promise<void>
  readonly request: ClientRequest
  /** Waits until `predicate` holds for the messages (2 s at most). */
  readonly until: (predicate: (messages: ReadonlyArray<SseMessage>) => boolean) => Promise<void>
}

const parse = (block: string): SseMessage => {
  const message: Record<string, string> = {}
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) message.comment = line.slice(1).trim()
    const match = /^(id|event|data): (.*)$/.exec(line)
    if (match !== null) message[match[1] as string] = match[2] as string
  }
  return message
}

const eventually = async (check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe("GET /v1/events/stream", () => {
  let t: TestApp
  let port: number
  let projectionSubscriptions = 0
  const opened: Array<ClientRequest> = []

  beforeAll(async () => {
    t = await makeTestApp({ eventStore: countingStore, eventStreamHeartbeatMs: 100 })
    await eventually(() => activeSubscriptions > 0, "the projections to subscribe")
    projectionSubscriptions = activeSubscriptions
    await t.app.listen({ host: "127.0.0.1", port: 0 })
    port = (t.app.server.address() as AddressInfo).port
  })
  afterAll(async () => {
    for (const request of opened) request.destroy()
    await t.close()
  })

  /** Opens the stream and resolves once the response's headers (and first comment) arrived. */
  const connect = (query = "", headers: Record<string, string> = auth("auditor")): Promise<OpenStream> =>
    new Promise((resolve, reject) => {
      const request = httpRequest({
        host: "127.0.0.1",
        port,
        path: `/v1/events/stream${query}`,
        headers: { accept: "text/event-stream", ...headers },
      })
      opened.push(request)
      request.on("error", () => undefined)
      request.on("response", (response) => {
        const messages: Array<SseMessage> = []
        let buffer = ""
        response.setEncoding("utf8")
        const ended = new Promise<void>((done) => {
          response.on("end", done)
          response.on("close", done)
        })
        const stream: OpenStream = {
          response,
          messages,
          request,
          ended,
          events: () =>
            messages
              .filter((m) => m.data !== undefined)
              .map((m) => JSON.parse(m.data as string) as RecordedEventView),
          until: (predicate) => eventually(() => predicate(messages), "stream messages"),
        }
        response.on("data", (chunk: string) => {
          buffer += chunk
          let end = buffer.indexOf("\n\n")
          while (end >= 0) {
            messages.push(parse(buffer.slice(0, end)))
            buffer = buffer.slice(end + 2)
            end = buffer.indexOf("\n\n")
          }
        })
        if (response.statusCode !== 200) return resolve(stream)
        // The first comment is written once the starting position is fixed.
        stream.until((m) => m.length > 0).then(() => resolve(stream), reject)
      })
      request.end()
    })

  const register = async (name: string, who: TokenName = "rep"): Promise<string> => {
    const response = await t.app.inject({
      method: "POST",
      url: "/v1/customers",
      headers: auth(who),
      payload: lead(name, { allowDuplicate: { reason: "stream test" } }),
    })
    expect(response.statusCode, response.body).toBe(201)
    return json<{ customerId: string }>(response).customerId
  }

  const qualify = async (customerId: string) => {
    const response = await t.app.inject({
      method: "POST",
      url: `/v1/customers/${customerId}/qualify`,
      headers: auth("rep"),
    })
    expect(response.statusCode, response.body).toBe(200)
  }

  const storedEvents = () =>
    t.runtime.runPromise(
      EventStore.use((store) => Stream.runCollect(store.readAll())).pipe(
        Effect.map((events) => Array.from(events, recordedEventView)),
      ),
    )

  it("sends the events appended after connecting, as the raw events route shows them", async () => {
    await register("Before Co")
    const stream = await connect()
    expect(stream.response.statusCode).toBe(200)
    expect(stream.response.headers["content-type"]).toMatch(/^text\/event-stream/)
    const id = await register("Live Co")
    await qualify(id)
    await stream.until((m) => m.filter((x) => x.data !== undefined).length >= 2)
    const received = stream.events()
    expect(received.map((e) => e.type)).toEqual(["LeadRegistered", "LeadQualified"])
    const raw = json<{ items: Array<RecordedEventView> }>(
      await t.app.inject({ url: `/v1/customers/${id}/events`, headers: auth("auditor") }),
    ).items
    expect(received).toEqual(raw)
    const withData = stream.messages.filter((m) => m.data !== undefined)
    expect(withData.map((m) => m.id)).toEqual(raw.map((e) => e.position))
    expect(withData.map((m) => m.event)).toEqual(raw.map((e) => e.type))
    stream.request.destroy()
  })

  it("resumes after Last-Event-ID (or ?after=) without duplicates or gaps", async () => {
    for (const name of ["Resume A", "Resume B", "Resume C"]) await qualify(await register(name))
    const all = await storedEvents()
    const cut = all[Math.floor(all.length / 2)] as RecordedEventView
    const expected = all.filter((e) => BigInt(e.position) > BigInt(cut.position))

    const resumed = await connect("", { ...auth("auditor"), "last-event-id": cut.position })
    await resumed.until(() => resumed.events().length >= expected.length)
    const later = await register("Resume D")
    await resumed.until(() => resumed.events().some((e) => e.streamId === customerStreamId(later as never)))
    const received = resumed.events()
    expect(received.slice(0, expected.length)).toEqual(expected)
    const positions = received.map((e) => e.position)
    expect(new Set(positions).size).toBe(positions.length)
    expect(received).toEqual((await storedEvents()).filter((e) => BigInt(e.position) > BigInt(cut.position)))
    resumed.request.destroy()

    // Last-Event-ID wins over `after`: a browser reconnects with the URL it first used.
    const both = await connect("?after=0", { ...auth("auditor"), "last-event-id": cut.position })
    await both.until(() => both.events().length >= received.length)
    expect(both.events()[0]).toEqual(expected[0])
    both.request.destroy()

    const fromQuery = await connect(`?after=${cut.position}`)
    await fromQuery.until(() => fromQuery.events().length >= received.length)
    expect(fromQuery.events()).toEqual(received)
    fromQuery.request.destroy()
  })

  it("streams one customer's events only", async () => {
    const mine = await register("Filtered Co")
    const stream = await connect(`?customerId=${mine}&after=0`)
    await register("Other Co")
    await qualify(mine)
    await stream.until(() => stream.events().length >= 2)
    // Nothing else arrives: the next heartbeat comes after the other customer's event.
    const beats = stream.messages.filter((m) => m.comment === "heartbeat").length
    await stream.until((m) => m.filter((x) => x.comment === "heartbeat").length > beats)
    expect(stream.events().map((e) => [e.streamId, e.type])).toEqual([
      [`customer-${mine}`, "LeadRegistered"],
      [`customer-${mine}`, "LeadQualified"],
    ])
    stream.request.destroy()
  })

  it("answers 401 without a token, 403 to roles that may not read raw events, 400 for a bad Last-Event-ID", async () => {
    const anonymous = await connect("", {})
    expect(anonymous.response.statusCode).toBe(401)
    expect(anonymous.response.headers["content-type"]).toMatch(/^application\/problem\+json/)
    for (const role of ["viewer", "rep", "manager"] as const) {
      expect((await connect("", auth(role))).response.statusCode, role).toBe(403)
    }
    const bad = await connect("", { ...auth("admin"), "last-event-id": "not-a-position" })
    expect(bad.response.statusCode).toBe(400)
  })

  it("sends a heartbeat comment while nothing happens", async () => {
    const stream = await connect()
    await stream.until((m) => m.some((x) => x.comment === "heartbeat"))
    stream.request.destroy()
  })

  it("ends the subscription when the client disconnects", async () => {
    // The projections running in the server hold subscriptions of their own.
    await eventually(() => activeSubscriptions === projectionSubscriptions, "earlier streams to close")
    const stream = await connect()
    await eventually(() => activeSubscriptions === projectionSubscriptions + 1, "the subscription")
    stream.request.destroy()
    await eventually(() => activeSubscriptions === projectionSubscriptions, "the subscription to end")
  })

  it("ends open streams when the server closes", async () => {
    await eventually(() => activeSubscriptions === projectionSubscriptions, "earlier streams to close")
    const local = await makeTestApp({ eventStore: countingStore })
    await eventually(() => activeSubscriptions === 2 * projectionSubscriptions, "the projections to start")
    await local.app.listen({ host: "127.0.0.1", port: 0 })
    const previousPort = port
    port = (local.app.server.address() as AddressInfo).port
    try {
      const stream = await connect()
      await eventually(() => activeSubscriptions === 2 * projectionSubscriptions + 1, "the subscription")
      await local.close()
      await stream.ended
      expect(activeSubscriptions).toBe(projectionSubscriptions)
    } finally {
      port = previousPort
    }
  })
})
