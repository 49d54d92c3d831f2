import { readFileSync } from "node:fs"
import { defaultBehaviour } from "@relata/simulator"
import { describe, expect, it } from "vitest"

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")

describe("the simulator's README", () => {
  it("lists every behaviour figure with its default", () => {
    const start = readme.indexOf("<!-- behaviour-defaults:start -->")
    const end = readme.indexOf("<!-- behaviour-defaults:end -->")
    const rows = readme
      .slice(start, end)
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.split("|").map((cell) => cell.trim()))
      .map(([, name = "", value = ""]) => [name.replaceAll("`", ""), Number(value)] as const)
    expect(Object.fromEntries(rows)).toEqual(defaultBehaviour)
  })

  it("shows the example that the integration test runs, verbatim", () => {
    const source = readFileSync(new URL("./Simulation.integration.test.ts", import.meta.url), "utf8")
    const lines = source
      .slice(source.indexOf("// README:start\n") + 16, source.indexOf("// README:end"))
      .split("\n")
    const indent = Math.min(
      ...lines.filter((l) => l.trim() !== "").map((l) => l.length - l.trimStart().length),
    )
    const snippet = lines
      .map((line) => line.slice(indent))
      .join("\n")
      .trimEnd()
    expect(snippet.length).toBeGreaterThan(0)
    expect(readme).toContain(`\`\`\`ts\n${snippet}\n\`\`\``)
  })
})
