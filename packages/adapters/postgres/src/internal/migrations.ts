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
  /** The function appending several appends in one transaction (group commit, decision 0015). */
  readonly appendBatchFunction: string
  /** The LISTEN/NOTIFY channel appends notify on. */
  readonly channel: string
  /** `pg_advisory_xact_lock(class, key)` serialising appends to this schema (decision 0007). */
  readonly appendLock: readonly [number, number]
  /** The lock serialising migrations of this schema. */
  readonly migrationLock: readonly [number, number]
}

/** The unique constraint a duplicate event id violates: per stream, since migration 4. */
export const eventIdConstraint = "events_stream_event_id_key"

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
    appendBatchFunction: `${q}.append_batch`,
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
  {
    version: 3,
    description: "the group-commit append function",
    // Group commit (decision 0015): appends issued together share one statement, one lock and one
    // commit. Under the same lock as append_events, each append is judged in order as if it ran
    // alone after the ones before it (an append sees the batch's earlier appends to its stream), and
    // gets its own row; a rejected expectation writes nothing of that append and does not affect the
    // others. The events of the accepted appends are written by one INSERT, in batch order, at
    // positions head + 1, head + 2, ...
    //
    // The batch's events are flattened: append i has p_counts[i] events, following those of the
    // appends before it. Duplicate event ids are left to the unique constraint, which fails the whole
    // statement; the adapter then runs the appends one by one to tell whose they are.
    sql: (n) => `
CREATE FUNCTION ${n.appendBatchFunction}(
  p_stream_ids         text[],
  p_expected_kinds     text[],
  p_expected_versions  integer[],
  p_counts             integer[],
  p_event_ids          text[],
  p_types              text[],
  p_schema_versions    integer[],
  p_data               json[],
  p_metadata           json[]
) RETURNS TABLE (ord integer, appended boolean, stream_version integer, last_position bigint)
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_appends   integer := coalesce(cardinality(p_stream_ids), 0);
  v_streams   text[];     -- the batch's distinct streams; a stream's index is its slot
  v_versions  integer[];  -- by slot: the stream's version so far, earlier appends of the batch included
  v_lasts     bigint[];   -- by slot: the position of the stream's last event so far
  v_changed   boolean[];  -- by slot: whether an append of the batch wrote to it
  v_slot_of   integer[];  -- by append: its stream's slot
  v_first     integer[];  -- by append: index of its first event in the flattened arrays
  v_version0  integer[];  -- by append, when accepted: the stream's version before it
  v_position0 bigint[];   -- by append, when accepted: the position before its first event
  v_ok        boolean[];  -- by append: whether its expectation held (the answer's rows, with the two below)
  v_out_version integer[];
  v_out_last    bigint[];
  v_head      bigint;
  v_start     bigint;
  v_next      integer := 1;
  v_slot      integer;
  v_current   integer;
  v_count     integer;
  v_kind      text;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'relata: appends must run at READ COMMITTED, not %', current_setting('transaction_isolation')
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF coalesce(cardinality(p_expected_kinds), 0) <> v_appends
     OR coalesce(cardinality(p_expected_versions), 0) <> v_appends
     OR coalesce(cardinality(p_counts), 0) <> v_appends THEN
    RAISE EXCEPTION 'relata: append_batch needs one expected kind, version and count per append'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- The same lock as append_events (decision 0007): positions become visible in the order handed out.
  PERFORM pg_advisory_xact_lock(${n.appendLock[0]}, ${n.appendLock[1]});

  SELECT coalesce(array_agg(d.stream_id ORDER BY d.stream_id), '{}'),
         coalesce(array_agg(coalesce(s.version, 0) ORDER BY d.stream_id), '{}'),
         coalesce(array_agg(coalesce(s.last_position, 0) ORDER BY d.stream_id), '{}'),
         coalesce(array_agg(false ORDER BY d.stream_id), '{}')
    INTO v_streams, v_versions, v_lasts, v_changed
    FROM (SELECT DISTINCT u.stream_id FROM unnest(p_stream_ids) AS u(stream_id)) d
    -- One primary-key lookup per stream of the batch, never a scan of the table, whatever size the
    -- cached plan was made for (the LIMIT keeps the planner from turning this into a plain join).
    LEFT JOIN LATERAL (
      SELECT t.version, t.last_position FROM ${n.streams} t WHERE t.stream_id = d.stream_id LIMIT 1
    ) s ON true;
  SELECT coalesce(array_agg(k.slot::integer ORDER BY a.ord), '{}') INTO v_slot_of
    FROM unnest(p_stream_ids) WITH ORDINALITY AS a(stream_id, ord)
    JOIN unnest(v_streams) WITH ORDINALITY AS k(stream_id, slot) ON k.stream_id = a.stream_id;

  SELECT coalesce(max(e.global_position), 0) INTO v_head FROM ${n.events} e;
  v_start := v_head;

  FOR i IN 1 .. v_appends LOOP
    v_slot := v_slot_of[i];
    v_current := v_versions[v_slot];
    v_count := p_counts[i];
    v_kind := p_expected_kinds[i];
    v_first[i] := v_next;
    v_next := v_next + v_count;
    IF (v_kind = 'no_stream' AND v_current <> 0)
       OR (v_kind = 'stream_exists' AND v_current = 0)
       OR (v_kind = 'exact' AND v_current IS DISTINCT FROM p_expected_versions[i]) THEN
      v_ok[i] := false;
      v_out_version[i] := v_current;
      v_out_last[i] := v_lasts[v_slot];
      CONTINUE;
    END IF;
    v_ok[i] := true;
    v_version0[i] := v_current;
    v_position0[i] := v_head;
    IF v_count > 0 THEN
      v_head := v_head + v_count;
      v_versions[v_slot] := v_current + v_count;
      v_lasts[v_slot] := v_head;
      v_changed[v_slot] := true;
    END IF;
    v_out_version[i] := v_versions[v_slot];
    v_out_last[i] := v_lasts[v_slot];
  END LOOP;
  IF v_next - 1 <> coalesce(cardinality(p_event_ids), 0) THEN
    RAISE EXCEPTION 'relata: append_batch counts % events, but % event ids were given',
      v_next - 1, coalesce(cardinality(p_event_ids), 0)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY SELECT r.ord::integer, r.appended, r.stream_version, r.last_position
    FROM unnest(v_ok, v_out_version, v_out_last) WITH ORDINALITY AS r(appended, stream_version, last_position, ord);
  IF v_head = v_start THEN
    RETURN;
  END IF;

  -- The events arrays are read in order (unnest), not by subscript: a subscript into an array of
  -- variable-length elements walks it from the start.
  INSERT INTO ${n.events} (global_position, stream_id, version, event_id, type, schema_version, data, metadata)
  SELECT a.position0 + m.k, a.stream_id, a.version0 + m.k,
         u.event_id, u.type, u.schema_version, u.data, u.metadata
    FROM unnest(p_event_ids, p_types, p_schema_versions, p_data, p_metadata)
         WITH ORDINALITY AS u(event_id, type, schema_version, data, metadata, n)
    JOIN (SELECT c.ord AS app, k, v_first[c.ord] + k - 1 AS n
            FROM unnest(p_counts) WITH ORDINALITY AS c(count, ord)
           CROSS JOIN LATERAL generate_series(1, c.count) AS k) m ON m.n = u.n
    JOIN unnest(p_stream_ids, v_ok, v_version0, v_position0)
         WITH ORDINALITY AS a(stream_id, ok, version0, position0, app) ON a.app = m.app
   WHERE a.ok
   ORDER BY 1;

  INSERT INTO ${n.streams} (stream_id, version, last_position)
  SELECT k.stream_id, v_versions[k.slot], v_lasts[k.slot]
    FROM unnest(v_streams) WITH ORDINALITY AS k(stream_id, slot)
   WHERE v_changed[k.slot]
  ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_position = excluded.last_position;

  -- Delivered at commit; wakes subscribers. The payload is the new head position.
  PERFORM pg_notify('${n.channel}', v_head::text);
END
$fn$;
`,
  },
  {
    version: 4,
    description: "event ids unique per stream",
    // Event ids are unique per stream, as in KurrentDB, no longer across the store: nothing looks an
    // event up by id alone, and the domain derives ids from the stream, the command and the event's
    // index, so a retried command still collides with its own first attempt. The global index on
    // random ids put every event on a random leaf of its own index, a page dirtied (and written to
    // the WAL in full after each checkpoint) per event; the new index sits beside (stream_id,
    // version), so a stream's events share leaves. Measured with 32 appends of 10 events in flight,
    // interleaved on one server: about 18% more events/s and 15% less server time per event.
    //
    // Cost on an existing table: ADD CONSTRAINT builds the index in this transaction, under an ACCESS
    // EXCLUSIVE lock on events, so appends and reads of this schema wait until start-up has read and
    // sorted every row: 1.2 s for a million events (625 MB) on the development machine. A store with
    // many millions of events can build the index beforehand without blocking,
    //   CREATE UNIQUE INDEX CONCURRENTLY events_stream_event_id_key ON <schema>.events (stream_id, event_id);
    // and this migration then adopts it as the constraint instead of building it again.
    sql: (n) => `
DO $mig$
BEGIN
  IF to_regclass('${n.schema}.events_stream_event_id_key') IS NULL THEN
    ALTER TABLE ${n.events} ADD CONSTRAINT events_stream_event_id_key UNIQUE (stream_id, event_id);
  ELSE
    ALTER TABLE ${n.events} ADD CONSTRAINT events_stream_event_id_key UNIQUE USING INDEX events_stream_event_id_key;
  END IF;
END
$mig$;
ALTER TABLE ${n.events} DROP CONSTRAINT events_event_id_key;
`,
  },
  {
    version: 5,
    description: "the group-commit append function, with less work under the lock",
    // The same function as migration 3, judging valid appends the same way (it also refuses NULL or
    // negative counts, and checks the counts before taking the lock), rewritten for the time it
    // holds the append lock, which bounds the throughput of every writer of the schema:
    // - what depends on the parameters alone (each event's append, the batch's distinct streams) is
    //   computed before taking the lock;
    // - the INSERT reads the events' arrays in one pass (set-returning functions in the select list,
    //   zipped) and finds its append's offsets by subscript, instead of joining three materialised
    //   unnests, hashing and sorting;
    // - its statements keep their generic plans: by default the server planned some of them again on
    //   every call, about 6% of its time per batch; no plan here depends on the arrays' sizes (the
    //   stream lookup is forced onto the primary key, the rest reads the arrays once).
    // Measured on the development machine, called in a loop of 16 appends of 10 events, one commit
    // per call, interleaved: 15.4 against 12.7 µs per event in the function (medians of four), of
    // which the INSERT of the 160 rows 2.0 against 1.6 ms.
    sql: (n) => `
CREATE OR REPLACE FUNCTION ${n.appendBatchFunction}(
  p_stream_ids         text[],
  p_expected_kinds     text[],
  p_expected_versions  integer[],
  p_counts             integer[],
  p_event_ids          text[],
  p_types              text[],
  p_schema_versions    integer[],
  p_data               json[],
  p_metadata           json[]
) RETURNS TABLE (ord integer, appended boolean, stream_version integer, last_position bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_appends   integer := coalesce(cardinality(p_stream_ids), 0);
  v_events    integer := coalesce(cardinality(p_event_ids), 0);
  v_app_of    integer[];  -- by event (flattened, from 1): the append it belongs to
  v_streams   text[];     -- the batch's distinct streams; a stream's index is its slot
  v_slot_of   integer[];  -- by append: its stream's slot
  v_versions  integer[];  -- by slot: the stream's version so far, earlier appends of the batch included
  v_lasts     bigint[];   -- by slot: the position of the stream's last event so far
  v_changed   boolean[];  -- by slot: whether an append of the batch wrote to it
  v_ok        boolean[];  -- by append: whether its expectation held (the answer's rows, with the two below)
  v_out_version integer[];
  v_out_last    bigint[];
  v_position_shift bigint[];   -- by append: event n of the batch gets position n + shift
  v_version_shift  integer[];  -- by append: and version n + shift
  v_head      bigint;
  v_start     bigint;
  v_next      integer := 1;  -- the batch index of the current append's first event
  v_slot      integer;
  v_current   integer;
  v_count     integer;
  v_kind      text;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'relata: appends must run at READ COMMITTED, not %', current_setting('transaction_isolation')
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF coalesce(cardinality(p_expected_kinds), 0) <> v_appends
     OR coalesce(cardinality(p_expected_versions), 0) <> v_appends
     OR coalesce(cardinality(p_counts), 0) <> v_appends
     OR array_position(p_counts, NULL) IS NOT NULL OR 0 > ANY (p_counts) THEN
    RAISE EXCEPTION 'relata: append_batch needs one expected kind, version and count (>= 0) per append'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- Before the lock: what depends on the parameters alone.
  v_app_of := ARRAY(SELECT c.ord::integer FROM unnest(p_counts) WITH ORDINALITY AS c(count, ord)
                    CROSS JOIN LATERAL generate_series(1, c.count) ORDER BY c.ord);
  IF cardinality(v_app_of) <> v_events THEN
    RAISE EXCEPTION 'relata: append_batch counts % events, but % event ids were given',
      cardinality(v_app_of), v_events
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_streams := ARRAY(SELECT DISTINCT u.stream_id FROM unnest(p_stream_ids) AS u(stream_id) ORDER BY 1);
  v_slot_of := ARRAY(SELECT k.slot::integer
                       FROM unnest(p_stream_ids) WITH ORDINALITY AS a(stream_id, ord)
                       JOIN unnest(v_streams) WITH ORDINALITY AS k(stream_id, slot) ON k.stream_id = a.stream_id
                      ORDER BY a.ord);
  v_changed := array_fill(false, ARRAY[cardinality(v_streams)]);

  -- The same lock as append_events (decision 0007): positions become visible in the order handed out.
  PERFORM pg_advisory_xact_lock(${n.appendLock[0]}, ${n.appendLock[1]});

  -- One primary-key lookup per stream of the batch, never a scan of the table, whatever size the
  -- cached plan was made for (the LIMIT keeps the planner from turning this into a plain join).
  SELECT coalesce(array_agg(coalesce(s.version, 0) ORDER BY k.slot), '{}'),
         coalesce(array_agg(coalesce(s.last_position, 0) ORDER BY k.slot), '{}')
    INTO v_versions, v_lasts
    FROM unnest(v_streams) WITH ORDINALITY AS k(stream_id, slot)
    LEFT JOIN LATERAL (
      SELECT t.version, t.last_position FROM ${n.streams} t WHERE t.stream_id = k.stream_id LIMIT 1
    ) s ON true;

  SELECT coalesce(max(e.global_position), 0) INTO v_head FROM ${n.events} e;
  v_start := v_head;

  FOR i IN 1 .. v_appends LOOP
    v_slot := v_slot_of[i];
    v_current := v_versions[v_slot];
    v_count := p_counts[i];
    v_kind := p_expected_kinds[i];
    IF (v_kind = 'no_stream' AND v_current <> 0)
       OR (v_kind = 'stream_exists' AND v_current = 0)
       OR (v_kind = 'exact' AND v_current IS DISTINCT FROM p_expected_versions[i]) THEN
      v_ok[i] := false;
      v_position_shift[i] := 0;
      v_version_shift[i] := 0;
    ELSE
      v_ok[i] := true;
      v_position_shift[i] := v_head - v_next + 1;
      v_version_shift[i] := v_current - v_next + 1;
      IF v_count > 0 THEN
        v_head := v_head + v_count;
        v_versions[v_slot] := v_current + v_count;
        v_lasts[v_slot] := v_head;
        v_changed[v_slot] := true;
      END IF;
    END IF;
    v_next := v_next + v_count;
    v_out_version[i] := v_versions[v_slot];
    v_out_last[i] := v_lasts[v_slot];
  END LOOP;
  RETURN QUERY SELECT r.ord::integer, r.appended, r.stream_version, r.last_position
    FROM unnest(v_ok, v_out_version, v_out_last) WITH ORDINALITY AS r(appended, stream_version, last_position, ord);
  IF v_head = v_start THEN
    RETURN;
  END IF;

  -- Rows come out in batch order, which is position order for the accepted appends: the heap gets
  -- them in the order readers read them. A subscript into the stream ids walks that array from its
  -- start; the adapter sends at most 256 appends a batch, so this stays cheap, where the events'
  -- arrays, much longer and larger, are read once, in order.
  INSERT INTO ${n.events} (global_position, stream_id, version, event_id, type, schema_version, data, metadata)
  SELECT u.n + v_position_shift[u.app], p_stream_ids[u.app], u.n + v_version_shift[u.app],
         u.event_id, u.type, u.schema_version, u.data, u.metadata
    FROM (SELECT generate_series(1, v_events) AS n, unnest(v_app_of) AS app,
                 unnest(p_event_ids) AS event_id, unnest(p_types) AS type,
                 unnest(p_schema_versions) AS schema_version, unnest(p_data) AS data,
                 unnest(p_metadata) AS metadata) u
   WHERE v_ok[u.app];

  INSERT INTO ${n.streams} (stream_id, version, last_position)
  SELECT k.stream_id, v_versions[k.slot], v_lasts[k.slot]
    FROM unnest(v_streams) WITH ORDINALITY AS k(stream_id, slot)
   WHERE v_changed[k.slot]
  ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, last_position = excluded.last_position;

  -- Delivered at commit; wakes subscribers. The payload is the new head position.
  PERFORM pg_notify('${n.channel}', v_head::text);
END
$fn$;
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
