import { readFileSync } from "node:fs"
import {
  CustomerCommand,
  CustomerDecider,
  CustomerEventSchemas,
  decodeCustomerEvent,
  encodeCustomerEvent,
  foldEvents,
  lifecycleCommandTypes,
} from "@relata/domain"
import { Result, Schema, SchemaAST } from "effect"
import { describe, expect, it } from "vitest"
import { positions, transitions } from "./LifecycleReferenceModel.ts"

const docPath = new URL("../../../docs/domain.md", import.meta.url)
const doc = readFileSync(docPath, "utf8")
const thisFile = readFileSync(new URL(import.meta.url), "utf8")

/** The text of a `## title` section, up to the next `## `. */
const section = (title: string): string => {
  const start = doc.indexOf(`\n## ${title}\n`)
  expect(start, `section "${title}"`).toBeGreaterThanOrEqual(0)
  const end = doc.indexOf("\n## ", start + 1)
  return doc.slice(start, end === -1 ? undefined : end)
}

const cells = (row: string): ReadonlyArray<string> =>
  row
    .split("|")
    .slice(1, -1)
    .map((cell) => cell.trim())

interface CatalogueEntry {
  readonly schemaVersion: number
  readonly fields: ReadonlyArray<string>
}

const catalogue = (): ReadonlyMap<string, CatalogueEntry> => {
  const entries = new Map<string, CatalogueEntry>()
  for (const part of section("Event catalogue").split("\n### ").slice(1)) {
    const [heading = "", ...lines] = part.split("\n")
    const match = /^(\w+) \(schemaVersion (\d+)\)$/.exec(heading)
    expect(match, `catalogue heading "${heading}"`).not.toBeNull()
    const fields = lines
      .filter((line) => line.startsWith("| `"))
      .map((line) => (cells(line)[0] ?? "").replaceAll("`", ""))
    entries.set(match?.[1] ?? "", { schemaVersion: Number(match?.[2]), fields })
  }
  return entries
}

describe("docs/domain.md", () => {
  it("catalogues every event type of the union, and nothing else", () => {
    expect([...catalogue().keys()].sort()).toEqual(Object.keys(CustomerEventSchemas).sort())
  })

  it("gives each event its current schemaVersion and its fields, marking the optional ones", () => {
    for (const [type, entry] of catalogue()) {
      const schema = CustomerEventSchemas[type as keyof typeof CustomerEventSchemas]
      expect(entry.schemaVersion, type).toBe(schema.schemaVersion)
      const fields = Object.entries(schema.data.fields)
        .filter(([name]) => name !== "customerId" && name !== "occurredAt")
        .map(([name, field]) => (SchemaAST.isOptional(field.ast) ? `${name}?` : name))
      expect(entry.fields, type).toEqual(fields)
    }
  })

  it("shows the transition table the decider implements", () => {
    const lifecycle = section("The lifecycle")
    const start = lifecycle.indexOf("### Transition table")
    const table = lifecycle
      .slice(start, lifecycle.indexOf("\n### ", start + 1))
      .split("\n")
      .filter((line) => line.startsWith("| "))
    const header = cells(table[0] ?? "").slice(1)
    expect(header).toEqual(lifecycleCommandTypes)
    const rows = table
      .slice(1)
      .map(cells)
      .filter((row) => !row.every((cell) => /^:?-+:?$/.test(cell)))
    expect(rows.map((row) => row[0])).toEqual(positions)
    for (const [position, ...targets] of rows) {
      lifecycleCommandTypes.forEach((type, i) => {
        const documented = (targets[i] ?? "").replace("¹", "")
        const expected = transitions[type][position as (typeof positions)[number]] ?? "—"
        expect(documented, `${type} from ${position}`).toBe(expected)
      })
    }
  })

  it("draws every transition of the table in the state diagram", () => {
    const diagram = /```mermaid\n([\s\S]*?)```/.exec(doc)?.[1] ?? ""
    expect(diagram).toContain("stateDiagram-v2")
    const name = (state: string) => state.replace("_lost", " (lost)")
    const edges = new Set(
      [...diagram.matchAll(/^\s*(\S+) --> (\S+): (\w+)/gm)].map(([, from, to, command]) =>
        [name(from ?? ""), name(to ?? ""), command].join(" "),
      ),
    )
    for (const type of lifecycleCommandTypes) {
      for (const [from, to] of Object.entries(transitions[type]))
        expect(edges).toContain(`${from} ${to} ${type}`)
    }
  })

  it("shows the embedding example verbatim, and the example runs", () => {
    // docs:start
    const command = Schema.decodeUnknownSync(CustomerCommand)({
      _tag: "RegisterLead",
      commandId: "command-1",
      customerId: "customer-42",
      actor: { id: "rep-7", role: "rep" },
      issuedAt: "2024-05-01T09:30:00Z",
      profile: { name: "Acme Trading", email: " Sales@Acme.Example " },
      source: "trade fair",
      owner: "rep-7",
    })
    const decision = CustomerDecider.decide(command, CustomerDecider.initialState)
    const events = Result.getOrThrow(decision) // or handle the CustomerRuleViolation
    const stored = events.map(encodeCustomerEvent) // {type, schemaVersion, data} for the EventStore
    const replayed = stored.map((event) => Result.getOrThrow(decodeCustomerEvent(event)))
    const card = foldEvents(CustomerDecider, replayed)
    // docs:end
    expect(card).toMatchObject({
      status: "registered",
      stage: "lead",
      profile: { email: "sales@acme.example" },
    })
    const snippet = /\/\/ docs:start\n([\s\S]*?)\n\s*\/\/ docs:end/.exec(thisFile)?.[1] ?? ""
    const dedented = snippet
      .split("\n")
      .map((line) => line.slice(4))
      .join("\n")
    expect(dedented.length).toBeGreaterThan(100)
    expect(doc).toContain(`\`\`\`ts\n${dedented}\n\`\`\``)
  })
})
