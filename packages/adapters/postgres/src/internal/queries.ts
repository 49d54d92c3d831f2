/**
 * The stores' SQL, as named prepared statements (parsed and planned once per connection), and the
 * mapping from rows to `RecordedEvent`s.
 */
import type {
  EventFilter,
  EventToAppend,
  ExpectedVersion,
  JsonObject,
  RecordedEvent,
  Snapshot,
} from "@relata/domain"
import type pg from "pg"
import { int4Array, oids, stringArray } from "./binaryArrays.ts"
import type { SchemaNames } from "./migrations.ts"

const columns = "global_position, stream_id, version, event_id, type, schema_version, data, metadata"

/** A row of the events table; pg returns bigint as text and parses json. */
export interface EventRow {
  readonly global_position: string
  readonly stream_id: string
  readonly version: number
  readonly event_id: string
  readonly type: string
  readonly schema_version: number
  readonly data: RecordedEvent["data"]
  readonly metadata: RecordedEvent["metadata"]
}

export const toRecordedEvent = (row: EventRow): RecordedEvent => ({
  eventId: row.event_id,
  type: row.type,
  schemaVersion: row.schema_version,
  data: row.data,
  metadata: row.metadata,
  streamId: row.stream_id,
  version: row.version,
  position: BigInt(row.global_position),
})

export interface AppendRow {
  readonly appended: boolean
  readonly stream_version: number
  readonly last_position: string
}

/** One append of a group commit: the stream, what it expects, its events. */
export interface BatchedAppend {
  readonly streamId: string
  readonly events: ReadonlyArray<EventToAppend>
  readonly expected: ExpectedVersion
}

/** The answer for the `ord`-th append (from 1) of a group commit, shaped as an `AppendRow`. */
export interface BatchRow extends AppendRow {
  readonly ord: number
}

/** A page of a global read: the events, and the head position when the query reads it. */
export interface PageRow extends Partial<EventRow> {
  readonly head?: string
}

export interface Queries {
  readonly append: (
    streamId: string,
    events: ReadonlyArray<EventToAppend>,
    expected: ExpectedVersion,
  ) => pg.QueryConfig
  /** Several appends in one statement and one transaction, each judged on its own (group commit). */
  readonly appendBatch: (appends: ReadonlyArray<BatchedAppend>) => pg.QueryConfig
  readonly streamVersion: (streamId: string) => pg.QueryConfig
  readonly readStream: (
    streamId: string,
    direction: "forwards" | "backwards",
    from: number,
    limit: number | null,
  ) => pg.QueryConfig
  readonly head: pg.QueryConfig
  /** Events after `after`, in global order, at most `limit`. */
  readonly page: (after: bigint, limit: number) => pg.QueryConfig
  /**
   * Events matching `filter` in positions (after, min(after + window, head)], at most `limit`, and
   * the head: one row with `head` and null event columns when nothing in the window matches.
   */
  readonly filteredPage: (after: bigint, window: number, filter: EventFilter, limit: number) => pg.QueryConfig
}

const expectation = (expected: ExpectedVersion): readonly [string, number | null] => {
  switch (expected._tag) {
    case "Any":
      return ["any", null]
    case "NoStream":
      return ["no_stream", null]
    case "StreamExists":
      return ["stream_exists", null]
    case "Exact":
      return ["exact", expected.version]
  }
}

/**
 * The events' columns as the append functions take them: ids, types, schema versions, data and
 * metadata, one array each, in binary (see binaryArrays.ts).
 */
const eventColumns = (events: ReadonlyArray<EventToAppend>): ReadonlyArray<Buffer> => {
  const ids: Array<string> = []
  const types: Array<string> = []
  const schemaVersions: Array<number> = []
  const data: Array<string> = []
  const metadata: Array<string> = []
  for (const event of events) {
    ids.push(event.eventId)
    types.push(event.type)
    schemaVersions.push(event.schemaVersion)
    data.push(JSON.stringify(event.data))
    metadata.push(JSON.stringify(event.metadata))
  }
  return [
    stringArray(ids, oids.text),
    stringArray(types, oids.text),
    int4Array(schemaVersions),
    stringArray(data, oids.json),
    stringArray(metadata, oids.json),
  ]
}

export const makeQueries = (names: SchemaNames): Queries => {
  // Statement names are per connection; a pool serves one schema, so fixed names do not clash.
  const prefix = `relata_${names.schema}`
  const appendText = `SELECT appended, stream_version, last_position
    FROM ${names.appendFunction}($1, $2, $3, $4::text[], $5::text[], $6::integer[], $7::json[], $8::json[])`
  const appendBatchText = `SELECT ord, appended, stream_version, last_position
    FROM ${names.appendBatchFunction}($1::text[], $2::text[], $3::integer[], $4::integer[],
      $5::text[], $6::text[], $7::integer[], $8::json[], $9::json[])`
  const streamVersionText = `SELECT version FROM ${names.streams} WHERE stream_id = $1`
  const forwardsText = `SELECT ${columns} FROM ${names.events}
    WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`
  const backwardsText = `SELECT ${columns} FROM ${names.events}
    WHERE stream_id = $1 AND version <= $2 ORDER BY version DESC LIMIT $3`
  const headText = `SELECT coalesce(max(global_position), 0)::text AS head FROM ${names.events}`
  const pageText = `SELECT ${columns} FROM ${names.events}
    WHERE global_position > $1 ORDER BY global_position LIMIT $2`

  // One statement per combination of filters, so each gets a plan that fits it.
  const filteredText = (byType: boolean, byPrefix: boolean): string => {
    const conditions = [
      "e.global_position > $1",
      "e.global_position <= least($1 + $2, h.head)",
      ...(byType ? ["e.type = ANY($4::text[])"] : []),
      ...(byPrefix ? [`starts_with(e.stream_id, $${byType ? 5 : 4})`] : []),
    ]
    return `WITH h AS (SELECT coalesce(max(global_position), 0) AS head FROM ${names.events})
      SELECT h.head::text AS head, p.* FROM h LEFT JOIN LATERAL (
        SELECT ${columns} FROM ${names.events} e
        WHERE ${conditions.join(" AND ")}
        ORDER BY e.global_position LIMIT $3
      ) p ON true`
  }

  return {
    append: (streamId, events, expected) => {
      const [kind, version] = expectation(expected)
      return {
        name: `${prefix}_append`,
        text: appendText,
        values: [streamId, kind, version, ...eventColumns(events)],
      }
    },
    appendBatch: (appends) => {
      const streamIds: Array<string> = []
      const kinds: Array<string> = []
      const versions: Array<number | null> = []
      const counts: Array<number> = []
      for (const { streamId, events, expected } of appends) {
        const [kind, version] = expectation(expected)
        streamIds.push(streamId)
        kinds.push(kind)
        versions.push(version)
        counts.push(events.length)
      }
      return {
        name: `${prefix}_append_batch`,
        text: appendBatchText,
        values: [
          stringArray(streamIds, oids.text),
          stringArray(kinds, oids.text),
          int4Array(versions),
          int4Array(counts),
          ...eventColumns(appends.flatMap((append) => append.events)),
        ],
      }
    },
    streamVersion: (streamId) => ({
      name: `${prefix}_stream_version`,
      text: streamVersionText,
      values: [streamId],
    }),
    readStream: (streamId, direction, from, limit) =>
      direction === "forwards"
        ? { name: `${prefix}_read_forwards`, text: forwardsText, values: [streamId, from, limit] }
        : { name: `${prefix}_read_backwards`, text: backwardsText, values: [streamId, from, limit] },
    head: { name: `${prefix}_head`, text: headText },
    page: (after, limit) => ({ name: `${prefix}_page`, text: pageText, values: [after.toString(), limit] }),
    filteredPage: (after, window, filter, limit) => {
      const byType = filter.eventTypes !== undefined
      const byPrefix = filter.streamPrefix !== undefined
      return {
        name: `${prefix}_page_${byType ? "t" : ""}${byPrefix ? "p" : ""}`,
        text: filteredText(byType, byPrefix),
        values: [
          after.toString(),
          window,
          limit,
          ...(byType ? [filter.eventTypes] : []),
          ...(byPrefix ? [filter.streamPrefix] : []),
        ],
      }
    },
  }
}

/** A row of the snapshots table, as a load reads it; pg parses json. */
export interface SnapshotRow {
  readonly version: number
  readonly state: JsonObject
}

export interface SnapshotQueries {
  /** One lookup on the primary key. */
  readonly load: (streamId: string, stateSchemaVersion: number) => pg.QueryConfig
  /** Writes the snapshot unless the row holds a version at least as new, in one statement. */
  readonly save: (snapshot: Snapshot) => pg.QueryConfig
}

export const makeSnapshotQueries = (names: SchemaNames): SnapshotQueries => {
  const prefix = `relata_${names.schema}`
  const loadText = `SELECT version, state FROM ${names.snapshots}
    WHERE stream_id = $1 AND state_schema_version = $2`
  // No read-then-write for two savers to race through: the row lock taken by the conflict orders them,
  // and the WHERE keeps whichever version is newer.
  const saveText = `INSERT INTO ${names.snapshots} AS snapshots (stream_id, state_schema_version, version, state)
    VALUES ($1, $2, $3, $4::json)
    ON CONFLICT (stream_id, state_schema_version)
    DO UPDATE SET version = excluded.version, state = excluded.state
    WHERE excluded.version > snapshots.version`
  return {
    load: (streamId, stateSchemaVersion) => ({
      name: `${prefix}_load_snapshot`,
      text: loadText,
      values: [streamId, stateSchemaVersion],
    }),
    save: (snapshot) => ({
      name: `${prefix}_save_snapshot`,
      text: saveText,
      values: [
        snapshot.streamId,
        snapshot.stateSchemaVersion,
        snapshot.version,
        JSON.stringify(snapshot.state),
      ],
    }),
  }
}
