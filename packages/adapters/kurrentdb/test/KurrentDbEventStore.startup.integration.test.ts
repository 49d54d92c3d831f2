/**
 * Start-up against the real client, with no server: the store must fail fast with a typed error
 * naming the host and never the password. Only loopback addresses are used: a port nothing listens
 * on, and a socket that accepts and never answers.
 */
import { createServer, type Server, type Socket } from "node:net"
import { inspect } from "node:util"
import { KurrentDbEventStore, KurrentDbStoreOpenError } from "@relata/adapter-kurrentdb"
import { Effect, Redacted, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const secret = "n0t-4-l0g"

const openError = (config: KurrentDbEventStore.KurrentDbEventStoreConfig) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const result = yield* Effect.result(KurrentDbEventStore.make(config))
        if (Result.isSuccess(result)) throw new Error("the store opened")
        return result.failure
      }),
    ),
  )

const expectNoSecret = (error: KurrentDbStoreOpenError) => {
  for (const text of [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
    expect(text).not.toContain(secret)
  }
}

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve(typeof address === "object" && address !== null ? address.port : 0)
    }),
  )

describe("KurrentDbEventStore start-up", () => {
  let closedPort = 0
  let silentPort = 0
  const silent = createServer()
  const sockets = new Set<Socket>()

  beforeAll(async () => {
    const probe = createServer()
    closedPort = await listen(probe)
    await new Promise((resolve) => probe.close(resolve))
    silent.on("connection", (socket) => {
      sockets.add(socket)
      socket.on("error", () => undefined)
    })
    silentPort = await listen(silent)
  })

  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })

  it("fails fast, naming the host, when nothing listens", async () => {
    const started = Date.now()
    const error = await openError({
      connectionString: Redacted.make(`kurrentdb://admin:${secret}@127.0.0.1:${closedPort}?tls=false`),
      connectTimeoutMs: 10_000,
    })
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(error).toBeInstanceOf(KurrentDbStoreOpenError)
    expect(error).toMatchObject({
      hosts: `127.0.0.1:${closedPort}`,
      connection: `kurrentdb://admin:***@127.0.0.1:${closedPort}?tls=false`,
      reason: `connection refused: nothing listens on 127.0.0.1:${closedPort}`,
      retryable: true,
    })
    expectNoSecret(error)
  })

  it("gives up after connectTimeoutMs when the host accepts but never answers", async () => {
    const started = Date.now()
    const error = await openError({
      connectionString: `kurrentdb://admin:${secret}@127.0.0.1:${silentPort}?tls=false`,
      connectTimeoutMs: 400,
    })
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(error).toMatchObject({
      hosts: `127.0.0.1:${silentPort}`,
      reason: `no answer from 127.0.0.1:${silentPort} within 400 ms`,
      retryable: true,
    })
    expectNoSecret(error)
  })

  it("refuses a configuration it cannot use before connecting to anything", async () => {
    for (const [config, reason] of [
      [{ connectionString: `esdb://admin:${secret}@127.0.0.1:${closedPort}` }, "deprecated"],
      [
        { connectionString: `kurrentdb://admin:${secret}@127.0.0.1:${closedPort}?tsl=false` },
        'unknown option "tsl"',
      ],
      [
        { connectionString: `kurrentdb://admin:${secret}@127.0.0.1:${closedPort}`, namespace: "no spaces" },
        "namespace",
      ],
    ] as const) {
      const error = await openError(config)
      expect(error.reason).toContain(reason)
      expect(error.retryable).toBe(false)
      expectNoSecret(error)
    }
  })
})
