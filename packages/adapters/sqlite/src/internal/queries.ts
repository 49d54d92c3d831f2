/**
 * The SQL the store runs, prepared once per connection, and the mapping from rows to events.
 *
 * Query plans (EXPLAIN QUERY PLAN; `explainQueryPlans` in ../testing shows them and a test pins them):
 * - streamVersion, readStreamForwards/Backwards: SEARCH events USING INDEX
 *   sqlite_autoindex_events_2 (stream_id=? AND version>?|<?): one seek on UNIQUE (stream_id, version).
 * - head: SEARCH events (the max(rowid) optimisation: one step to the last row).
 * - readWindow (every filter shape): SEARCH events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?),
 *   no temporary B-tree; an event-type filter adds a LIST SUBQUERY over json_each, built once per
 *   query. The stream prefix is compared with substr(), which no index can serve, so
 *   the planner cannot be tempted into the stream index plus a sort; a window of positions bounds the
 *   rows each batch examines, however selective the filter.
 * - loadSnapshot: SEARCH snapshots USING INDEX sqlite_autoindex_snapshots_1 (stream_id=? AND
 *   state_schema_version=?): one seek on the primary key.
 */
import type { DatabaseSync, SQLOutputValue, StatementSync } from "node:sqlite"
import type { EventFilter, RecordedEvent } from "@relata/domain"

const eventColumns = "position, stream_id, version, event_id, type, schema_version, data, metadata"

/** Filters on a window of positions: (after, upTo], in order, at most `limit` rows. */
export const readWindowSql = (filter: { readonly prefix: boolean; readonly types: boolean }): string =>
  `SELECT ${eventColumns} FROM events WHERE position > :after AND position <= :upTo` +
  (filter.prefix ? " AND substr(stream_id, 1, length(:prefix)) = :prefix" : "") +
  (filter.types ? " AND type IN (SELECT value FROM json_each(:types))" : "") +
  " ORDER BY position LIMIT :limit"

export const sql = {
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  rollback: "ROLLBACK",
  // One per append inside a group commit's transaction (decision 0014).
  savepoint: "SAVEPOINT append",
  releaseSavepoint: "RELEASE append",
  rollbackToSavepoint: "ROLLBACK TO append",
  streamVersion: "SELECT version, position FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1",
  insert:
    "INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
  readStreamForwards: `SELECT ${eventColumns} FROM events WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`,
  readStreamBackwards: `SELECT ${eventColumns} FROM events WHERE stream_id = ? AND version <= ? ORDER BY version DESC LIMIT ?`,
  head: "SELECT max(position) AS head FROM events",
} as const

/** A stream's last event: its version and global position. */
export interface StreamHead {
  readonly version: number
  readonly position: number
}

export interface Statements {
  readonly begin: StatementSync
  readonly commit: StatementSync
  readonly rollback: StatementSync
  readonly savepoint: StatementSync
  readonly releaseSavepoint: StatementSync
  readonly rollbackToSavepoint: StatementSync
  /** The stream's last event, or undefined for a stream with none. */
  readonly streamHead: (streamId: string) => StreamHead | undefined
  readonly insert: StatementSync
  readonly readStreamForwards: StatementSync
  readonly readStreamBackwards: StatementSync
  readonly head: StatementSync
  /** One per filter shape: none, prefix, types, both. */
  readonly readWindow: (filter: EventFilter | undefined) => StatementSync
  /** Maps the rows of the event reads (readStream*, readWindow). */
  readonly toRecordedEvents: RowsToEvents
}

export const prepareStatements = (db: DatabaseSync): Statements => {
  const all = db.prepare(readWindowSql({ prefix: false, types: false }))
  const byPrefix = db.prepare(readWindowSql({ prefix: true, types: false }))
  const byTypes = db.prepare(readWindowSql({ prefix: false, types: true }))
  const byBoth = db.prepare(readWindowSql({ prefix: true, types: true }))
  const readStreamForwards = db.prepare(sql.readStreamForwards)
  const readStreamBackwards = db.prepare(sql.readStreamBackwards)
  const streamVersion = db.prepare(sql.streamVersion)
  const toRecordedEvents = returnArrays([
    readStreamForwards,
    readStreamBackwards,
    all,
    byPrefix,
    byTypes,
    byBoth,
  ])
  return {
    begin: db.prepare(sql.begin),
    commit: db.prepare(sql.commit),
    rollback: db.prepare(sql.rollback),
    savepoint: db.prepare(sql.savepoint),
    releaseSavepoint: db.prepare(sql.releaseSavepoint),
    rollbackToSavepoint: db.prepare(sql.rollbackToSavepoint),
    streamHead: (streamId) => streamVersion.get(streamId) as StreamHead | undefined,
    insert: db.prepare(sql.insert),
    readStreamForwards,
    readStreamBackwards,
    head: db.prepare(sql.head),
    readWindow: (filter) =>
      filter?.streamPrefix === undefined
        ? filter?.eventTypes === undefined
          ? all
          : byTypes
        : filter.eventTypes === undefined
          ? byPrefix
          : byBoth,
    toRecordedEvents,
  }
}

/** The named parameters of a window read for a filter. */
export const windowParams = (
  filter: EventFilter | undefined,
  after: number,
  upTo: number,
  limit: number,
): Record<string, string | number> => {
  const params: Record<string, string | number> = { after, upTo, limit }
  if (filter?.streamPrefix !== undefined) params.prefix = filter.streamPrefix
  if (filter?.eventTypes !== undefined) params.types = JSON.stringify(filter.eventTypes)
  return params
}

/** The snapshot store's SQL. */
export const snapshotSql = {
  loadSnapshot: "SELECT version, state FROM snapshots WHERE stream_id = ? AND state_schema_version = ?",
  // Keeps the newest version in one statement: no read-then-write for two writers to race through.
  saveSnapshot:
    "INSERT INTO snapshots (stream_id, state_schema_version, version, state) VALUES (?, ?, ?, ?) " +
    "ON CONFLICT (stream_id, state_schema_version) DO UPDATE SET version = excluded.version, state = excluded.state " +
    "WHERE excluded.version > snapshots.version",
} as const

export interface SnapshotStatements {
  readonly loadSnapshot: StatementSync
  readonly saveSnapshot: StatementSync
}

export const prepareSnapshotStatements = (db: DatabaseSync): SnapshotStatements => ({
  loadSnapshot: db.prepare(snapshotSql.loadSnapshot),
  saveSnapshot: db.prepare(snapshotSql.saveSnapshot),
})

type Row = Record<string, SQLOutputValue> | ReadonlyArray<SQLOutputValue>

/** Rows as `[position, stream_id, version, event_id, type, schema_version, data, metadata]`. */
type EventTuple = readonly [number, string, number, string, string, number, string, string]

interface EventObject {
  readonly position: number
  readonly stream_id: string
  readonly version: number
  readonly event_id: string
  readonly type: string
  readonly schema_version: number
  readonly data: string
  readonly metadata: string
}

// The columns are fixed by the SELECTs above and typed by the STRICT table, hence the casts.
const fromTuple = (row: Row): RecordedEvent => {
  const [position, streamId, version, eventId, type, schemaVersion, data, metadata] =
    row as unknown as EventTuple
  return {
    position: BigInt(position),
    streamId,
    version,
    eventId,
    type,
    schemaVersion,
    data: JSON.parse(data),
    metadata: JSON.parse(metadata),
  }
}

const fromObject = (row: Row): RecordedEvent => {
  const r = row as unknown as EventObject
  return {
    position: BigInt(r.position),
    streamId: r.stream_id,
    version: r.version,
    eventId: r.event_id,
    type: r.type,
    schemaVersion: r.schema_version,
    data: JSON.parse(r.data),
    metadata: JSON.parse(r.metadata),
  }
}

/** Maps rows to events with a plain loop: no per-row Effect. */
export type RowsToEvents = (rows: ReadonlyArray<Row>) => Array<RecordedEvent>

const rowsToEvents =
  (fromRow: (row: Row) => RecordedEvent): RowsToEvents =>
  (rows) => {
    const events = new Array<RecordedEvent>(rows.length)
    for (let i = 0; i < rows.length; i++) events[i] = fromRow(rows[i] as Row)
    return events
  }

/**
 * Event reads return rows as arrays where node:sqlite can (Node >= 24): about a third less time per
 * row than objects with named keys. Node 22 reads objects.
 */
const returnArrays = (statements: ReadonlyArray<StatementSync>): RowsToEvents => {
  for (const statement of statements) {
    if (!("setReturnArrays" in statement) || typeof statement.setReturnArrays !== "function") {
      return rowsToEvents(fromObject)
    }
  }
  for (const statement of statements) statement.setReturnArrays(true)
  return rowsToEvents(fromTuple)
}
