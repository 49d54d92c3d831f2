/**
 * Versioned schema migrations, applied in order when the store opens. Each runs in its own
 * `BEGIN IMMEDIATE` transaction together with its row in `schema_migrations`, so a crash leaves
 * the file at a whole version, and two processes opening a fresh file take turns instead of racing:
 * the second one waits for the write lock, then sees the version already applied and skips it.
 * A shipped migration never changes; a change is a new migration.
 */
import type { DatabaseSync } from "node:sqlite"

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    name: "events",
    // `position` is the rowid: the global order is the table's own B-tree, so reading in order is a
    // range seek on it, never a scan plus sort. Rows are only ever inserted, one writer at a time, so
    // rowid = max + 1 is strictly increasing in commit order and has no gaps.
    // UNIQUE (stream_id, version) serves twice: its index answers "what is this stream's version?"
    // with one seek (the expected-version check, hence no separate streams table that could drift
    // from the events), and it is the last line of defence against two events at one version.
    sql: `
      CREATE TABLE events (
        position       INTEGER PRIMARY KEY,
        stream_id      TEXT    NOT NULL,
        version        INTEGER NOT NULL CHECK (version >= 1),
        event_id       TEXT    NOT NULL UNIQUE,
        type           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        data           TEXT    NOT NULL,
        metadata       TEXT    NOT NULL,
        UNIQUE (stream_id, version)
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: "snapshots",
    // Snapshots live in the events' file, so a backup or a copy of the file never pairs events with
    // snapshots of another history. One row per (stream, state schema version): a save replaces the
    // row only with a newer version (the UPSERT's WHERE), and a load is one seek on the primary key.
    // A rowid table rather than WITHOUT ROWID: states run to tens of kilobytes, and a WITHOUT ROWID
    // B-tree works best with rows far smaller than a page.
    sql: `
      CREATE TABLE snapshots (
        stream_id            TEXT    NOT NULL,
        state_schema_version INTEGER NOT NULL,
        version              INTEGER NOT NULL CHECK (version >= 0),
        state                TEXT    NOT NULL,
        PRIMARY KEY (stream_id, state_schema_version)
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: "event ids unique per stream",
    // UNIQUE (event_id) over the whole store put every event in a random leaf of its index (event ids
    // are hashes or random UUIDs), so a commit of a few hundred events rewrote a few hundred pages of
    // it: three times the cost of the rest of a batched append. Unique per stream, the ids of one
    // append share their stream's pages, and a retried append is still recognised, as KurrentDB
    // recognises it: by its event ids within the stream (decision 0018). SQLite cannot drop a
    // table's constraint, so the table is copied (positions kept) in this migration's transaction:
    // a one-time cost proportional to the file. The constraints keep their order of index names, so
    // (stream_id, version) is still sqlite_autoindex_events_2.
    sql: `
      CREATE TABLE events_v3 (
        position       INTEGER PRIMARY KEY,
        stream_id      TEXT    NOT NULL,
        version        INTEGER NOT NULL CHECK (version >= 1),
        event_id       TEXT    NOT NULL,
        type           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        data           TEXT    NOT NULL,
        metadata       TEXT    NOT NULL,
        UNIQUE (stream_id, event_id),
        UNIQUE (stream_id, version)
      ) STRICT;
      INSERT INTO events_v3 (position, stream_id, version, event_id, type, schema_version, data, metadata)
        SELECT position, stream_id, version, event_id, type, schema_version, data, metadata
        FROM events ORDER BY position;
      DROP TABLE events;
      ALTER TABLE events_v3 RENAME TO events;
    `,
  },
]

export const latestVersion = migrations.reduce((max, m) => Math.max(max, m.version), 0)

/** The file was migrated by a newer release; this one must not write to it. */
export class NewerSchema extends Error {
  readonly found: number
  constructor(found: number) {
    super(`the file has schema version ${found}, newer than this release knows (${latestVersion})`)
    this.found = found
  }
}

const currentVersion = (db: DatabaseSync): number =>
  Number(db.prepare("SELECT coalesce(max(version), 0) AS version FROM schema_migrations").get()?.version ?? 0)

const inImmediateTransaction = <A>(db: DatabaseSync, body: () => A): A => {
  db.exec("BEGIN IMMEDIATE")
  try {
    const result = body()
    db.exec("COMMIT")
    return result
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK")
    throw error
  }
}

/** Brings the schema to the latest version. Throws node:sqlite's errors or `NewerSchema`. */
export const migrate = (db: DatabaseSync): void => {
  inImmediateTransaction(db, () =>
    db.exec(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at TEXT NOT NULL
      ) STRICT;
    `),
  )
  for (const migration of migrations) {
    inImmediateTransaction(db, () => {
      // Read inside the write transaction: another process may have applied it meanwhile.
      const current = currentVersion(db)
      if (current > latestVersion) throw new NewerSchema(current)
      if (current >= migration.version) return
      db.exec(migration.sql)
      db.prepare(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
      ).run(migration.version, migration.name)
    })
  }
}
