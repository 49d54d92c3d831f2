/**
 * docs/api.md against the code: every operation of the OpenAPI document, every problem type and
 * every configuration variable is documented, and the docs name nothing the code does not have.
 */
import { readFileSync } from "node:fs"
import { problemTypes } from "@relata/api"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { json, makeTestApp, type TestApp } from "./support/testApp.ts"

const doc = readFileSync(new URL("../../../docs/api.md", import.meta.url), "utf8")
const configSource = readFileSync(new URL("../src/ApiConfig.ts", import.meta.url), "utf8")

describe("docs/api.md", () => {
  let t: TestApp
  let operations: ReadonlyArray<string>
  beforeAll(async () => {
    t = await makeTestApp()
    const document = json<{ paths: Record<string, Record<string, unknown>> }>(
      await t.app.inject({ url: "/openapi.json" }),
    )
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    )
  })
  afterAll(async () => t.close())

  it("documents every operation of the OpenAPI document", () => {
    for (const operation of operations) expect(doc, operation).toContain(`\`${operation}`)
  })

  it("documents no route the API does not have", () => {
    const documented = [...doc.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s]*)/g)].map(
      ([, method, path]) => `${method} ${(path ?? "").split("?")[0]}`,
    )
    // The document leaves out its own route and the page that shows it.
    const known = [...operations, "GET /openapi.json", "GET /docs"]
    for (const route of documented) expect(known, route).toContain(route)
  })

  it("lists every problem type with its status", () => {
    const rows = new Set(
      [...doc.matchAll(/^\| (\d{3})\s+\| `([a-z-]+)`/gm)].map(([, status, slug]) => `${status} ${slug}`),
    )
    const expected = new Set(
      Object.values(problemTypes).map((problem) => `${problem.status} ${problem.slug}`),
    )
    expect([...rows].sort()).toEqual([...expected].sort())
  })

  it("documents every configuration variable", () => {
    const variables = new Set([...configSource.matchAll(/env\.(RELATA_[A-Z_]+)/g)].map(([, name]) => name))
    expect(variables.size).toBeGreaterThan(10)
    for (const variable of variables) expect(doc, variable).toContain(`\`${variable}\``)
  })
})
