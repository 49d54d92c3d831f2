/**
 * The audit trail as files an auditor takes away: JSON Lines and CSV, streamed. Each format turns a
 * stream of entries into a stream of text, one string per chunk of entries, so memory stays at
 * about one chunk (one read-model page) whatever the size of the trail; `Stream.encodeText` makes
 * bytes of it, and `exportAuditTrail` does both over the read model's pages.
 *
 * - JSON Lines: one entry per line as JSON, keys always in the order of `AuditEntry`, each line
 *   ending in "\n" (the JSON text escapes every newline inside a value).
 * - CSV (RFC 4180): a header line, then one line per entry, lines ending in CRLF; a field holding a
 *   comma, a double quote, CR or LF is enclosed in double quotes with its quotes doubled; null is an
 *   empty field; the changes column holds the changes as JSON text. Values are written as recorded:
 *   no prefix guards them against spreadsheet formulas, so that the file stays a faithful copy.
 */
import { Stream } from "effect"
import type { ReadModelStore } from "../ReadModelStore.ts"
import type { AuditEntry } from "./AuditEntry.ts"
import {
  type AuditTrailFilter,
  type AuditTrailOrder,
  type AuditTrailQueryError,
  streamAuditTrail,
} from "./AuditTrailQueries.ts"

/** An entry as one JSON Lines line, keys in the order of `AuditEntry`, whatever order the store kept. */
export const auditEntryJsonLine = (entry: AuditEntry): string =>
  `${JSON.stringify({
    position: entry.position,
    customerId: entry.customerId,
    streamId: entry.streamId,
    version: entry.version,
    eventId: entry.eventId,
    eventType: entry.eventType,
    schemaVersion: entry.schemaVersion,
    recordedAt: entry.recordedAt,
    effectiveAt: entry.effectiveAt,
    actor: entry.actor === null ? null : { id: entry.actor.id, role: entry.actor.role },
    action: entry.action,
    changes: entry.changes.map((change) => ({
      field: change.field,
      before: change.before,
      after: change.after,
    })),
    reason: entry.reason,
    correlationId: entry.correlationId,
    causationId: entry.causationId,
    commandId: entry.commandId,
    commandType: entry.commandType,
    hash: entry.hash,
  })}\n`

/** The CSV columns, in order: each with its header and how to read it from an entry. */
export const auditCsvColumns: ReadonlyArray<
  readonly [header: string, value: (entry: AuditEntry) => string | number | null]
> = [
  ["position", (e) => e.position],
  ["recordedAt", (e) => e.recordedAt],
  ["effectiveAt", (e) => e.effectiveAt],
  ["customerId", (e) => e.customerId],
  ["streamId", (e) => e.streamId],
  ["version", (e) => e.version],
  ["eventId", (e) => e.eventId],
  ["eventType", (e) => e.eventType],
  ["schemaVersion", (e) => e.schemaVersion],
  ["actorId", (e) => e.actor?.id ?? null],
  ["actorRole", (e) => e.actor?.role ?? null],
  ["action", (e) => e.action],
  ["changes", (e) => JSON.stringify(e.changes)],
  ["reason", (e) => e.reason],
  ["commandType", (e) => e.commandType],
  ["commandId", (e) => e.commandId],
  ["correlationId", (e) => e.correlationId],
  ["causationId", (e) => e.causationId],
  ["hash", (e) => e.hash],
]

const needsQuotes = /[",\r\n]/

/** One CSV field as RFC 4180 writes it: quoted (quotes doubled) only when it must be; null is empty. */
const csvField = (value: string | number | null): string => {
  if (value === null) return ""
  const text = String(value)
  return needsQuotes.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** The CSV header line, CRLF-terminated. */
export const auditCsvHeader = `${auditCsvColumns.map(([header]) => csvField(header)).join(",")}\r\n`

/** An entry as one CSV line, CRLF-terminated. */
export const auditEntryCsvLine = (entry: AuditEntry): string =>
  `${auditCsvColumns.map(([, value]) => csvField(value(entry))).join(",")}\r\n`

/** Entries as JSON Lines text: one string per chunk of entries. */
export const auditEntriesToJsonLines = <E, R>(
  entries: Stream.Stream<AuditEntry, E, R>,
): Stream.Stream<string, E, R> =>
  Stream.mapArray(entries, (chunk) => [chunk.map(auditEntryJsonLine).join("")] as const)

/** Entries as CSV text: the header, then one string per chunk of entries (a header alone when there are none). */
export const auditEntriesToCsv = <E, R>(
  entries: Stream.Stream<AuditEntry, E, R>,
): Stream.Stream<string, E, R> =>
  Stream.concat(
    Stream.succeed(auditCsvHeader),
    Stream.mapArray(entries, (chunk) => [chunk.map(auditEntryCsvLine).join("")] as const),
  )

/** An export's file format. */
export type AuditExportFormat = "jsonl" | "csv"

/** The media type of each format, for HTTP responses. */
export const auditExportMediaType: Record<AuditExportFormat, string> = {
  jsonl: "application/jsonl; charset=utf-8",
  csv: "text/csv; charset=utf-8; header=present",
}

/**
 * The matching entries of the audit trail as UTF-8 bytes in the given format, read one page at a
 * time as the consumer pulls (see `streamAuditTrail`).
 */
export const exportAuditTrail = (
  format: AuditExportFormat,
  filter: AuditTrailFilter = {},
  options: { readonly order?: AuditTrailOrder; readonly pageSize?: number } = {},
): Stream.Stream<Uint8Array, AuditTrailQueryError, ReadModelStore> => {
  const entries = streamAuditTrail(filter, options)
  return Stream.encodeText(format === "csv" ? auditEntriesToCsv(entries) : auditEntriesToJsonLines(entries))
}
