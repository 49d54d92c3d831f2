/**
 * The stores' schema, as numbered migrations applied in order on start. A migration never
 * changes once shipped; a change is a new migration. Each runs in the start-up transaction, under an
 * advisory lock, so two processes starting together do not race.
 */
import type pg from "pg"

/** Names of the schema's objects, quoted, and the lock keys derived from the schema name. */
export interface SchemaNames {
  /** The schema name as configured (already validated as a plain lower-case identifier). */
  readonly schema: string
  readonly events: string
  readonly streams: string
  readonly snapshots: string
  readonly migrations: string
  readonly appendFunction: string
  /** The LISTEN/NOTIFY channel appends notify on. */
  readonly channel: string
  /** `pg_advisory_xact_lock(class, key)` serialising appends to this schema (decision 0007). */
  readonly appendLock: readonly [number, number]
  /** The lock serialising migrations of this schema. */
  readonly migrationLock: readonly [number, number]
}

/** Letters, digits and underscores, starting with a letter or underscore; short enough for the channel name. */
export const schemaNamePattern = /^[a-z_][a-z0-9_]{0,47}$/

// Advisory lock classes: "RELA" and "RELM" in ASCII, so they are recognisable in pg_locks.
const appendLockClass = 0x52454c41
const migrationLockClass = 0x52454c4d

/** FNV-1a, as a signed 32-bit integer: a stable lock key per schema name. */
const hash32 = (text: string): number => {
  let hash = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193)
  }
  return hash | 0
}

export const schemaNames = (schema: string): SchemaNames => {
  const q = `"${schema}"`
  return {
    schema,
    events: `${q}.events`,
    streams: `${q}.streams`,
    snapshots: `${q}.snapshots`,
    migrations: `${q}.schema_migrations`,
    appendFunction: `${q}.append_events`,
    channel: `relata_${schema}`,
    appendLock: [appendLockClass, hash32(schema)],
    migrationLock: [migrationLockClass, hash32(schema)],
  }
}

interface Migration {
  readonly version: number
  readonly description: string
  readonly sql: (names: SchemaNames) => string
}

const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    description: "events, streams and the append function",
    sql: (n) => `
CREATE TABLE ${n.streams} (
  stream_id     text    PRIMARY KEY,
  version       integer NOT NULL CHECK (version > 0),
  last_position bigint  NOT NULL
);

-- global_position is the primary key: reading in global order is an index range scan.
-- Positions are handed out under the append lock, in commit order, without gaps (decision 0007).
CREATE TABLE ${n.events} (
  global_position bigint      PRIMARY KEY CHECK (global_position > 0),
  stream_id       text        NOT NULL,
  version         integer     NOT NULL CHECK (version > 0),
  event_id        text        NOT NULL,
  type            text        NOT NULL,
  schema_version  integer     NOT NULL,
  -- json, not jsonb: kept as written (key order, number spelling, escaped NUL characters, which
  -- jsonb rejects), and cheaper to write and read back; events are read by position and stream,
  -- not searched by content.
  data            json        NOT NULL,
  metadata        json        NOT NULL,
  stored_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
  CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- Appends events to one stream in one statement: checks the expected version and writes the events,
-- the stream's new version and a notification, all or nothing. A rejected expectation writes nothing
-- and returns appended = false with the stream's real version.
-- p_expected_kind: 'any' | 'no_stream' | 'stream_exists' | 'exact' (then p_expected_version).
CREATE FUNCTION ${n.appendFunction}(
  p_stream_id          text,
  p_expected_kind      text,
  p_expected_version   integer,
  p_event_ids          text[],
  p_types              text[],
  p_schema_versions    integer[],
  p_data               json[],
  p_metadata           json[]
) RETURNS TABLE (appended boolean, stream_version integer, last_position bigint)
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_count   integer := coalesce(cardinality(p_event_ids), 0);
  v_current integer;
  v_last    bigint;
  v_head    bigint;
BEGIN
  -- Each statement below must see the commits of the appends before it (see the lock).
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'relata: appends must run at READ COMMITTED, not %', current_setting('transaction_isolation')
      USING ERRCODE = 'feature_not_supported';
  END IF;
  -- Held until commit: appends to this schema commit one at a time, so positions become visible
  -- in the order they are handed out and a reader never sees position n+1 before n.
  PERFORM pg_advisory_xact_lock(${n.appendLock[0]}, ${n.appendLock[1]});

  SELECT s.version, s.last_position INTO v_current, v_last
    FROM ${n.streams} s WHERE s.stream_id = p_stream_id;
  IF NOT FOUND THEN
    v_current := 0;
    v_last := 0;
  END IF;

  IF (p_expected_kind = 'no_stream' AND v_current <> 0)
     OR (p_expected_kind = 'stream_exists' AND v_current = 0)
     OR (p_expected_kind = 'exact' AND v_current IS DISTINCT FROM p_expected_version) THEN
    RETURN QUERY SELECT false, v_current, v_last;
    RETURN;
  END IF;
  IF v_count = 0 THEN
    RETURN QUERY SELECT true, v_current, v_last;
    RETURN;
  END IF;

  SELECT coalesce(max(e.global_position), 0) INTO v_head FROM ${n.events} e;

  INSERT INTO ${n.events} (global_position, stream_id, version, event_id, type, schema_version, data, metadata)
  SELECT v_head + u.n, p_stream_id, v_current + u.n::integer, u.event_id, u.type, u.schema_version, u.data, u.metadata
    FROM unnest(p_event_ids, p_types, p_schema_versions, p_data, p_metadata)
         WITH ORDINALITY AS u(event_id, type, schema_version, data, metadata, n);

  INSERT INTO ${n.streams} (stream_id, version, last_position)
  VALUES (p_stream_id, v_current + v_count, v_head + v_count)
  ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_position = excluded.last_position;

  -- Delivered at commit; wakes subscribers. The payload is the new head position.
  PERFORM pg_notify('${n.channel}', (v_head + v_count)::text);

  RETURN QUERY SELECT true, v_current + v_count, v_head + v_count;
END
$fn$;
`,
  },
  {
    version: 2,
    description: "snapshots",
    // In the events' schema, so a dump or a restore never pairs events with snapshots of another
    // history. One row per (stream, state schema version): a save replaces the row only with a newer
    // version (the upsert's WHERE), and a load is one lookup on the primary key. json, as for events:
    // kept as written, and states may hold strings with NUL characters, which jsonb rejects. The
    // CHECK holds what the port promises a load returns, whoever writes the row.
    sql: (n) => `
CREATE TABLE ${n.snapshots} (
  stream_id            text    NOT NULL,
  state_schema_version integer NOT NULL,
  version              integer NOT NULL CHECK (version >= 0),
  state                json    NOT NULL CHECK (json_typeof(state) = 'object'),
  PRIMARY KEY (stream_id, state_schema_version)
);
`,
  },
]

/** The newest schema version this code knows. */
export const latestVersion = migrations.reduce((latest, m) => Math.max(latest, m.version), 0)

/** The database holds a schema version this code does not know: an older release is running. */
export class NewerSchema extends Error {
  readonly found: number
  constructor(schema: string, found: number) {
    super(
      `schema "${schema}" is at version ${found}, but this release knows versions up to ${latestVersion}; ` +
        "run a newer release of Relata",
    )
    this.found = found
  }
}

/**
 * Brings the schema to the latest version in one transaction on the given client. Returns the
 * versions it applied (empty when the schema was up to date).
 */
export const migrate = async (client: pg.ClientBase, names: SchemaNames): Promise<ReadonlyArray<number>> => {
  await client.query("BEGIN")
  try {
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", [...names.migrationLock])
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${names.schema}"`)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${names.migrations} (
         version     integer     PRIMARY KEY,
         description text        NOT NULL,
         applied_at  timestamptz NOT NULL DEFAULT now()
       )`,
    )
    const result = await client.query<{ version: number }>(`SELECT version FROM ${names.migrations}`)
    const applied = new Set(result.rows.map((row) => row.version))
    const newest = Math.max(0, ...applied)
    if (newest > latestVersion) throw new NewerSchema(names.schema, newest)
    const pending = migrations.filter((m) => !applied.has(m.version))
    for (const migration of pending) {
      await client.query(migration.sql(names))
      await client.query(`INSERT INTO ${names.migrations} (version, description) VALUES ($1, $2)`, [
        migration.version,
        migration.description,
      ])
    }
    await client.query("COMMIT")
    return pending.map((m) => m.version)
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined)
    throw error
  }
}
