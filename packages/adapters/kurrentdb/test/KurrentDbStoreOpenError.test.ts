import { inspect } from "node:util"
import { AccessDeniedError, UnavailableError } from "@kurrent/kurrentdb-client"
import { KurrentDbStoreOpenError } from "@relata/adapter-kurrentdb"
import { ConnectionString, OpenClient } from "@relata/adapter-kurrentdb/testing"
import { describe, expect, it } from "vitest"

const secret = "s3cret-Pa55"

const target = (value: string) => {
  const parsed = ConnectionString.parseConnectionString(value)
  if (!parsed.ok) throw new Error(parsed.problem)
  return parsed.target
}

const local = target(`kurrentdb://admin:${secret}@127.0.0.1:2113?tls=false`)
const secure = target(`kurrentdb://admin:${secret}@db1:2113,db2:2113`)

/** Every way the error could reach a log: none may hold the password. */
const expectNoSecret = (error: KurrentDbStoreOpenError) => {
  for (const text of [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
    expect(text).not.toContain(secret)
  }
}

describe("KurrentDbStoreOpenError", () => {
  it("names the hosts and the redacted connection string, never the password", () => {
    const error = new KurrentDbStoreOpenError({
      hosts: "127.0.0.1:2113",
      connection: local.redacted,
      reason: "connection refused: nothing listens on 127.0.0.1:2113",
      retryable: true,
    })
    expect(error._tag).toBe("KurrentDbStoreOpenError")
    expect(error.message).toBe(
      "Cannot open the KurrentDB event store at 127.0.0.1:2113: connection refused: nothing listens on 127.0.0.1:2113 (connection string kurrentdb://admin:***@127.0.0.1:2113?tls=false)",
    )
    expectNoSecret(error)
  })

  it("says a refused connection is worth retrying", () => {
    const refused = new Error(
      "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2113.",
    )
    const error = OpenClient.openFailure(local, refused)
    expect(error).toMatchObject({
      hosts: "127.0.0.1:2113",
      reason: "connection refused: nothing listens on 127.0.0.1:2113",
      retryable: true,
      cause: refused,
    })
    expectNoSecret(error)
  })

  it("names every node of a cluster", () => {
    expect(OpenClient.openFailure(secure, new UnavailableError()).hosts).toBe("db1:2113,db2:2113")
  })

  it("points at TLS when the handshake fails, and at tls=false when a plain connection is dropped", () => {
    const handshake = OpenClient.openFailure(
      secure,
      new Error(
        "14 UNAVAILABLE: No connection established. Last error: Error: SSL routines::wrong version number",
      ),
    )
    expect(handshake.reason).toContain("add tls=false")
    expect(handshake.reason).toContain("tlsCAFile")
    expect(handshake.retryable).toBe(false)
    const dropped = OpenClient.openFailure(local, new Error("14 UNAVAILABLE: Connection dropped"))
    expect(dropped.reason).toContain("remove tls=false")
  })

  it("says wrong credentials are not worth retrying, naming the user only", () => {
    const error = OpenClient.openFailure(secure, new AccessDeniedError())
    expect(error.reason).toContain('refuses the credentials of user "admin"')
    expect(error.retryable).toBe(false)
    expectNoSecret(error)
  })

  it("reports a server that does not answer in time", () => {
    const error = OpenClient.openFailure(secure, new OpenClient.NoAnswer(750))
    expect(error.reason).toBe(
      "no answer from db1:2113,db2:2113 within 750 ms; if the server runs without TLS (--insecure), add tls=false to the connection string",
    )
    expect(error.retryable).toBe(true)
  })

  it("scrubs the password from any message it quotes", () => {
    const error = OpenClient.openFailure(local, new Error(`something echoed admin:${secret} back`))
    expect(error.reason).toBe("something echoed admin:*** back")
    expect(OpenClient.configurationError(`kurrentdb://admin:${secret}@h:2113`, `bad ${secret}`).reason).toBe(
      "bad ***",
    )
  })
})
