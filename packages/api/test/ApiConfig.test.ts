import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  defaultApiConfig,
  loadApiConfig,
  makeAuthenticator,
  parseStoreUrl,
  readModelsUrl,
  redactStoreUrl,
  StoreUrl,
} from "@relata/api"
import { ActorId } from "@relata/domain"
import { Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"

const folder = mkdtempSync(join(tmpdir(), "relata-config-"))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

const ok = (env: Record<string, string>) => {
  const result = loadApiConfig(env)
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success
}
const failure = (env: Record<string, string>): string => {
  const result = loadApiConfig(env)
  if (Result.isSuccess(result)) throw new Error("expected a configuration error")
  return result.failure.message
}

const tokens = JSON.stringify([{ token: "a-very-secret-token-1", actorId: "ana", role: "rep" }])

describe("ApiConfig", () => {
  it("defaults to one SQLite file under ./data and 127.0.0.1:3000", () => {
    expect(ok({})).toEqual(defaultApiConfig)
    expect(defaultApiConfig).toMatchObject({
      host: "127.0.0.1",
      port: 3000,
      eventStore: "sqlite:./data/relata.sqlite",
      corsOrigins: [],
    })
  })

  it("reads environment variables over a JSON file over the defaults", () => {
    const file = join(folder, "relata.json")
    writeFileSync(
      file,
      JSON.stringify({ port: 4000, host: "0.0.0.0", rateLimit: { max: 10, windowMs: 1000 } }),
    )
    const config = ok({
      RELATA_CONFIG: file,
      RELATA_PORT: "5000",
      RELATA_EVENT_STORE: "postgres://relata:secret@db:5432/relata",
      RELATA_CORS_ORIGINS: "https://a.example, https://b.example",
      RELATA_RATE_LIMIT_MAX: "0",
      RELATA_TRUST_PROXY: "true",
      RELATA_TOKENS: tokens,
    })
    expect(config).toMatchObject({
      host: "0.0.0.0",
      port: 5000,
      eventStore: "postgres://relata:secret@db:5432/relata",
      corsOrigins: ["https://a.example", "https://b.example"],
      rateLimit: { max: 0, windowMs: 1000 },
      trustProxy: true,
      tokens: [{ actorId: "ana", role: "rep" }],
    })
  })

  it("reads tokens from a file", () => {
    const file = join(folder, "tokens.json")
    writeFileSync(file, tokens)
    expect(ok({ RELATA_TOKENS_FILE: file }).tokens).toHaveLength(1)
  })

  it("names the bad setting, and never echoes a token", () => {
    expect(failure({ RELATA_PORT: "70000" })).toContain("port")
    expect(failure({ RELATA_EVENT_STORE: "mysql://x" })).toContain("eventStore")
    expect(failure({ RELATA_LOG_LEVEL: "loud" })).toContain("logLevel")
    expect(failure({ RELATA_CONFIG: join(folder, "missing.json") })).toContain("missing.json")
    const message = failure({
      RELATA_TOKENS: JSON.stringify([{ token: "short-secret", actorId: "ana", role: "rep" }]),
    })
    expect(message).toContain("tokens")
    expect(message).not.toContain("short-secret")
  })

  it("keeps read models beside the events unless told otherwise, and never in KurrentDB", () => {
    const sqlite = StoreUrl.make("sqlite:./data/relata.sqlite")
    expect(readModelsUrl(undefined, sqlite)).toBe(sqlite)
    const postgres = StoreUrl.make("postgres://relata@db/relata")
    expect(readModelsUrl(undefined, postgres)).toBe(postgres)
    expect(readModelsUrl(undefined, StoreUrl.make("kurrentdb://db:2113"))).toBe("memory:")
    expect(readModelsUrl(StoreUrl.make("sqlite:./rm.sqlite"), postgres)).toBe("sqlite:./rm.sqlite")
    expect(failure({ RELATA_READ_MODELS: "kurrentdb://db:2113" })).toContain("readModels")
    expect(ok({ RELATA_READ_MODELS: "memory:" }).readModels).toBe("memory:")
  })

  it("parses store URLs and redacts their passwords", () => {
    expect(parseStoreUrl(StoreUrl.make("sqlite:./data/x.sqlite"))).toEqual({
      kind: "sqlite",
      path: "./data/x.sqlite",
    })
    expect(parseStoreUrl(StoreUrl.make("sqlite:///var/x.sqlite"))).toEqual({
      kind: "sqlite",
      path: "/var/x.sqlite",
    })
    expect(parseStoreUrl(StoreUrl.make("postgresql://u:p@h/d")).kind).toBe("postgres")
    expect(parseStoreUrl(StoreUrl.make("kurrentdb://h:2113")).kind).toBe("kurrentdb")
    expect(redactStoreUrl("postgres://relata:secret@db/relata")).toBe("postgres://relata:***@db/relata")
  })
})

describe("bearer tokens", () => {
  const authenticate = makeAuthenticator([
    { token: "a-very-secret-token-1", actorId: ActorId.make("ana"), role: "rep" },
    {
      token: "another-secret-token",
      actorId: ActorId.make("li"),
      role: "manager",
      reps: [ActorId.make("ana")],
    },
  ])

  it("maps a known token to its actor and role", () => {
    expect(Result.getOrThrow(authenticate("Bearer a-very-secret-token-1"))).toEqual({
      actorId: "ana",
      role: "rep",
      reps: [],
    })
    expect(Result.getOrThrow(authenticate("bearer another-secret-token")).reps).toEqual(["ana"])
  })

  it("refuses a missing, malformed or unknown token", () => {
    for (const header of [
      undefined,
      "",
      "Basic abc",
      "Bearer",
      "Bearer wrong-token-0000000",
      "a-very-secret-token-1",
    ]) {
      expect(Result.isFailure(authenticate(header)), String(header)).toBe(true)
    }
  })

  it("refuses a token configured twice", () => {
    const grant = { token: "a-very-secret-token-1", actorId: ActorId.make("ana"), role: "rep" as const }
    expect(() => makeAuthenticator([grant, { ...grant, actorId: ActorId.make("bob") }])).toThrow(/twice/)
  })
})
