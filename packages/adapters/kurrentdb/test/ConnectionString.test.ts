import { KurrentDBClient } from "@kurrent/kurrentdb-client"
import { ConnectionString } from "@relata/adapter-kurrentdb/testing"
import fc from "fast-check"
import { describe, expect, it } from "vitest"

const { parseConnectionString, redactConnectionString, scrub } = ConnectionString

const parsed = (value: string) => {
  const result = parseConnectionString(value)
  if (!result.ok) throw new Error(`expected ${value} to parse: ${result.problem}`)
  return result.target
}

const problemOf = (value: string) => {
  const result = parseConnectionString(value)
  if (result.ok) throw new Error(`expected ${value} to be refused`)
  return result
}

describe("ConnectionString", () => {
  it("reads hosts, user and TLS, and hides the password", () => {
    expect(parsed("kurrentdb://admin:changeit@localhost:2113?tls=false")).toEqual({
      scheme: "kurrentdb",
      hosts: ["localhost:2113"],
      user: "admin",
      tls: false,
      redacted: "kurrentdb://admin:***@localhost:2113?tls=false",
      secrets: ["changeit", "changeit", "changeit"],
    })
  })

  it("defaults the port to 2113 and TLS to on, as the server expects", () => {
    const target = parsed("kurrentdb://db.internal")
    expect(target.hosts).toEqual(["db.internal:2113"])
    expect(target.tls).toBe(true)
    expect(target.user).toBeUndefined()
  })

  it("lists every node of a cluster, and takes DNS discovery", () => {
    expect(
      parsed("kurrentdb://admin:pw@node1:2111,node2:2112,node3:2113?nodePreference=leader").hosts,
    ).toEqual(["node1:2111", "node2:2112", "node3:2113"])
    expect(parsed("kurrentdb+discover://admin:pw@cluster.dns.name:2113").scheme).toBe("kurrentdb+discover")
  })

  it("knows URL-encoded passwords in both forms, to scrub either", () => {
    const target = parsed("kurrentdb://admin:p%40ss%3Aw0rd@localhost:2113")
    expect(target.secrets).toContain("p%40ss%3Aw0rd")
    expect(target.secrets).toContain("p@ss:w0rd")
    expect(target.redacted).toBe("kurrentdb://admin:***@localhost:2113")
  })

  it("refuses the deprecated esdb:// scheme, saying what to write instead", () => {
    const refused = problemOf("esdb://admin:s3cret@localhost:2113?tls=false")
    expect(refused.problem).toContain("kurrentdb://")
    expect(refused.redacted).toBe("esdb://admin:***@localhost:2113?tls=false")
    expect(problemOf("esdb+discover://h:2113").problem).toContain("kurrentdb+discover://")
  })

  it("refuses what the client would warn about on the console with the password in it", () => {
    for (const [value, problem] of [
      ["kurrentdb://admin:s3cret@localhost:2113?tsl=false", 'unknown option "tsl"'],
      ["kurrentdb://admin:s3cret@localhost:2113?tls=maybe", "must be true or false"],
      ["kurrentdb://admin:s3cret@localhost:2113?defaultDeadline=soon", "whole number"],
      ["kurrentdb://admin:s3cret@localhost:2113?nodePreference=nearest", "leader, follower"],
      ["kurrentdb://admin:s3cret@localhost:99999", "not a port"],
      ["kurrentdb+discover://admin:s3cret@a:2113,b:2113", "takes one DNS name"],
      ["postgres://admin:s3cret@localhost:5432/db", "not a KurrentDB connection string"],
      ["", "empty"],
    ] as const) {
      const refused = problemOf(value)
      expect(refused.problem).toContain(problem)
      expect(refused.problem).not.toContain("s3cret")
      expect(refused.redacted).not.toContain("s3cret")
    }
  })

  it("does not quote parts of a password written with a raw @ in it", () => {
    const refused = problemOf("kurrentdb://admin:pa@ss?wo@rd@localhost:2113")
    expect(refused.problem).toContain("URL-encoded")
    for (const fragment of ["pa@ss", "ss?wo", "wo@rd"]) {
      expect(refused.problem).not.toContain(fragment)
      expect(refused.redacted).not.toContain(fragment)
    }
    expect(refused.redacted).toBe("kurrentdb://admin:***@localhost:2113")
  })

  it("redacts any password, parsable or not", () => {
    const password = fc
      .string({ minLength: 1, maxLength: 30 })
      .filter((text) => !text.includes("@"))
      .map((text) => `SECRET${text}`)
    fc.assert(
      fc.property(
        password,
        fc.constantFrom("kurrentdb", "esdb", "bogus"),
        fc.boolean(),
        (secret, scheme, query) => {
          const value = `${scheme}://admin:${secret}@localhost:2113${query ? "?tls=false" : ""}`
          expect(redactConnectionString(value)).not.toContain("SECRET")
          const result = parseConnectionString(value)
          const texts = result.ok ? [result.target.redacted] : [result.redacted, result.problem]
          for (const text of texts) expect(text).not.toContain("SECRET")
        },
      ),
    )
    expect(redactConnectionString("kurrentdb://localhost:2113")).toBe("kurrentdb://localhost:2113")
  })

  it("scrubs secrets from any text", () => {
    expect(scrub("failed for admin:hunter2 at host", ["hunter2"])).toBe("failed for admin:*** at host")
    expect(scrub("nothing here", ["", "x-y"])).toBe("nothing here")
  })

  it("accepts only strings the client itself accepts", () => {
    for (const value of [
      "kurrentdb://admin:changeit@localhost:2113?tls=false",
      "kurrentdb://localhost:2113,localhost:2114?tls=false&defaultDeadline=2000&keepAliveInterval=10000",
      "kurrentdb+discover://admin:changeit@cluster.local:2113?tls=false&nodePreference=follower",
      "kurrentdb://admin:changeit@localhost?tls=false&connectionName=relata&throwOnAppendFailure=true",
    ]) {
      expect(parseConnectionString(value).ok).toBe(true)
      // Creating a client parses the string and connects to nothing.
      const client = KurrentDBClient.connectionString(value)
      expect(client).toBeInstanceOf(KurrentDBClient)
    }
  })
})
