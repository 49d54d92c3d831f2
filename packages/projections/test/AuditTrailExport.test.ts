import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { describe, expect, it } from "@effect/vitest"
import {
  ActorId,
  CurrencyCode,
  CustomerId,
  type Email,
  instantFromMillis,
  makeInMemoryEventStore,
} from "@relata/domain"
import {
  type AuditEntry,
  AuditEntry as AuditEntrySchema,
  auditCsvHeader,
  auditEntriesCollection,
  auditEntriesToCsv,
  auditEntriesToJsonLines,
  customerAuditTrailFromStore,
  exportAuditTrail,
  makeInMemoryReadModelStore,
  ReadModelStore,
  type ReadModelStoreService,
} from "@relata/projections"
import { Effect, Stream } from "effect"
import { customerCommands, eur, instant, source } from "./support/customers.ts"

/** Parses RFC 4180 CSV strictly: CRLF after every record, quotes only around whole fields. */
const parseCsv = (text: string): Array<Array<string>> => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = []
  let field = ""
  let quoted = false
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i += 2
      } else if (c === '"') {
        quoted = false
        i++
      } else {
        field += c
        i++
      }
    } else if (c === '"' && field === "") {
      quoted = true
      i++
    } else if (c === ",") {
      row.push(field)
      field = ""
      i++
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field)
      rows.push(row)
      row = []
      field = ""
      i += 2
    } else if (c === '"' || c === "\r" || c === "\n") {
      throw new Error(`unquoted ${JSON.stringify(c)} at ${i}`)
    } else {
      field += c
      i++
    }
  }
  if (quoted || field !== "" || row.length > 0) throw new Error("the last record is not terminated by CRLF")
  return rows
}

const columns = [
  "position",
  "recordedAt",
  "effectiveAt",
  "customerId",
  "streamId",
  "version",
  "eventId",
  "eventType",
  "schemaVersion",
  "actorId",
  "actorRole",
  "action",
  "changes",
  "reason",
  "commandType",
  "commandId",
  "correlationId",
  "causationId",
  "hash",
]

/** A real history: a lead with awkward text, through the command handler, replayed into entries. */
const realEntries = Effect.gen(function* () {
  const eventStore = makeInMemoryEventStore()
  const send = customerCommands(eventStore)
  const c = CustomerId.make("c1")
  yield* send(c, "2024-02-01T09:00:00.000Z", "RegisterLead", {
    profile: { name: 'Café "Lumière", Paris', email: "a@b.example" as Email },
    source,
    owner: ActorId.make("rep-1"),
  })
  yield* send(c, "2024-02-02T09:00:00.000Z", "MarkDealLost", { reason: 'said "no", twice\r\nthen hung up' })
  yield* send(c, "2024-02-03T09:00:00.000Z", "ReopenLead", {})
  yield* send(
    c,
    "2024-02-04T09:00:00.000Z",
    "QualifyLead",
    {},
    { effectiveAt: instant("2024-02-03T12:00:00.000Z") },
  )
  yield* send(c, "2024-02-05T09:00:00.000Z", "ConvertToCustomer", { firstPurchase: eur(1_999) })
  return yield* customerAuditTrailFromStore(eventStore, c)
})

const textOf = <E>(stream: Stream.Stream<string, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => chunks.join(""))

// ---------------------------------------------------------------------------------------------
// A read model of any size, made up page by page as it is read
// ---------------------------------------------------------------------------------------------

const hash = "ab".repeat(32)

const syntheticEntry = (i: number): AuditEntry => {
  const at = instantFromMillis(Date.UTC(2024, 0, 1) + i * 1_000)
  return {
    position: String(i + 1),
    customerId: CustomerId.make(`c${i % 1_000}`),
    streamId: `customer-c${i % 1_000}`,
    version: Math.floor(i / 1_000) + 1,
    eventId: `event-${i}`,
    eventType: "TierChanged",
    schemaVersion: 1,
    recordedAt: at,
    effectiveAt: at,
    actor: { id: ActorId.make(`rep-${i % 7}`), role: "rep" },
    action: "Tier changed from C to A",
    changes: [
      { field: "tier", before: "C", after: "A" },
      { field: "tierSince", before: null, after: at },
    ],
    reason: `entry ${i}: "bigger", orders\nexpected`,
    correlationId: `command-${i}`,
    causationId: `command-${i}`,
    commandId: `command-${i}`,
    commandType: "ChangeTier",
    hash,
  }
}

/**
 * A ReadModelStore whose audit entries are `count` synthetic entries, made when a page is asked for
 * and kept nowhere: the store itself holds no memory, so whatever the heap holds is the export's.
 */
const syntheticStore = (count: number) => {
  const reads = { pages: 0, lastEnd: 0 }
  const base = makeInMemoryReadModelStore()
  const store: ReadModelStoreService = {
    ...base,
    query: (collection, query) =>
      Effect.sync(() => {
        if (collection !== auditEntriesCollection) throw new Error(`unexpected collection ${collection}`)
        const start = query.after === undefined ? 0 : Number(query.after)
        const end = Math.min(count, start + (query.limit ?? 50))
        reads.pages++
        reads.lastEnd = end
        const items = []
        for (let i = start; i < end; i++) items.push({ id: String(i), document: syntheticEntry(i) as never })
        return end < count ? { items, next: String(end) } : { items }
      }),
  }
  return { store, reads }
}

/** `global.gc`, made available at run time (the test runner does not pass --expose-gc). */
const collectGarbage = (): (() => void) => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
}

describe("AuditExport", () => {
  it.effect("writes JSON Lines: one entry per line, keys in the entry's order, values as recorded", () =>
    Effect.gen(function* () {
      const entries = yield* realEntries
      const text = yield* textOf(auditEntriesToJsonLines(Stream.fromIterable(entries)))
      expect(text.endsWith("\n")).toBe(true)
      const lines = text.slice(0, -1).split("\n")
      expect(lines).toHaveLength(entries.length)
      for (const [i, line] of lines.entries()) {
        const parsed = JSON.parse(line)
        expect(parsed).toEqual(entries[i])
        expect(Object.keys(parsed)).toEqual(Object.keys(AuditEntrySchema.fields))
      }
      expect(yield* textOf(auditEntriesToJsonLines(Stream.empty))).toBe("")
    }),
  )

  it.effect("writes RFC 4180 CSV: a header, CRLF records, quoted fields where needed", () =>
    Effect.gen(function* () {
      const entries = yield* realEntries
      const text = yield* textOf(auditEntriesToCsv(Stream.fromIterable(entries)))
      expect(auditCsvHeader).toBe(`${columns.join(",")}\r\n`)
      expect(text.startsWith(auditCsvHeader)).toBe(true)
      const [header, ...rows] = parseCsv(text)
      expect(header).toEqual(columns)
      expect(rows).toHaveLength(entries.length)
      for (const [i, row] of rows.entries()) {
        const entry = entries[i] as AuditEntry
        expect(row).toHaveLength(columns.length)
        const cell = (name: string) => row[columns.indexOf(name)]
        expect(cell("position")).toBe(entry.position)
        expect(cell("version")).toBe(String(entry.version))
        expect(cell("action")).toBe(entry.action)
        expect(cell("reason")).toBe(entry.reason ?? "")
        expect(cell("effectiveAt")).toBe(entry.effectiveAt)
        expect(cell("actorId")).toBe(entry.actor?.id)
        expect(JSON.parse(cell("changes") as string)).toEqual(entry.changes)
      }
      // The awkward ones, as they appear in the file.
      expect(text).toContain('"said ""no"", twice\r\nthen hung up"')
      expect(text).toContain('"Lead ""Café \\""Lumière\\"", Paris"" registered')
      expect(rows[3]?.[columns.indexOf("effectiveAt")]).toBe("2024-02-03T12:00:00.000Z")
      expect(rows[3]?.[columns.indexOf("recordedAt")]).toBe("2024-02-04T09:00:00.000Z")
      expect(rows[4]?.[columns.indexOf("action")]).toBe(
        "Converted to a customer with a first purchase of 19.99 EUR",
      )
      expect(CurrencyCode.make("EUR")).toBe("EUR")
      expect(yield* textOf(auditEntriesToCsv(Stream.empty))).toBe(auditCsvHeader)
    }),
  )

  it.effect("exports the read model's trail as UTF-8 bytes, page by page", () =>
    Effect.gen(function* () {
      const { store, reads } = syntheticStore(2_500)
      const entries = Array.from({ length: 2_500 }, (_, i) => syntheticEntry(i))
      const decode = (stream: Stream.Stream<Uint8Array, unknown, ReadModelStore>) =>
        Effect.provideService(
          Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(chunks).toString("utf8")),
          ReadModelStore,
          store,
        )
      expect(yield* decode(exportAuditTrail("csv"))).toBe(
        yield* textOf(auditEntriesToCsv(Stream.fromIterable(entries))),
      )
      expect(reads.pages).toBe(3)
      expect(yield* decode(exportAuditTrail("jsonl", {}, { pageSize: 100 }))).toBe(
        yield* textOf(auditEntriesToJsonLines(Stream.fromIterable(entries))),
      )
      expect(reads.pages).toBe(3 + 25)
      // A consumer that stops early stops the reads.
      reads.pages = 0
      yield* Effect.provideService(
        Stream.runDrain(Stream.take(exportAuditTrail("jsonl"), 2)),
        ReadModelStore,
        store,
      )
      expect(reads.pages).toBe(2)
    }),
  )

  it.effect(
    "streams 200,000 entries in constant memory, reading a page only when the previous one is consumed",
    () =>
      Effect.gen(function* () {
        const count = 200_000
        const pageSize = 1_000
        const gc = collectGarbage()
        for (const format of ["csv", "jsonl"] as const) {
          const { store, reads } = syntheticStore(count)
          let consumed = 0
          let bytes = 0
          let maxLead = 0
          let samples = 0
          let maxGrowth = 0
          gc()
          const baseline = process.memoryUsage().heapUsed
          yield* exportAuditTrail(format, {}, { pageSize }).pipe(
            Stream.runForEach((chunk) =>
              Effect.sync(() => {
                // Every record ends in "\n" (CSV: CRLF; a newline inside a quoted CSV field is a bare LF).
                const text = Buffer.from(chunk).toString("utf8")
                consumed += format === "csv" ? text.split("\r\n").length - 1 : text.split("\n").length - 1
                bytes += chunk.byteLength
                maxLead = Math.max(maxLead, reads.lastEnd - (format === "csv" ? consumed - 1 : consumed))
                if (reads.pages % 25 === 0) {
                  gc()
                  samples++
                  maxGrowth = Math.max(maxGrowth, process.memoryUsage().heapUsed - baseline)
                }
              }),
            ),
            Effect.provideService(ReadModelStore, store),
          )
          expect(consumed).toBe(format === "csv" ? count + 1 : count)
          expect(reads.pages).toBe(count / pageSize)
          // Pages are read as they are consumed: never more than one page ahead of the consumer.
          expect(maxLead).toBeLessThanOrEqual(pageSize)
          // Far more text went through than the heap ever held: the export keeps about a page.
          expect(bytes).toBeGreaterThan(60_000_000)
          expect(samples).toBeGreaterThan(5)
          expect(maxGrowth).toBeLessThan(16_000_000)
        }
      }),
    120_000,
  )
})
