/**
 * The SQL of the PostgreSQL read-model store: its registry (generations with their checkpoints,
 * collections with their layouts) in the store's schema, one table per collection and generation
 * with a real column and an index per indexed field, and the translation of a planned query into
 * one SELECT those indexes serve.
 *
 * A collection's table `rm_<collection>_g<generation>`:
 *   id text COLLATE "C" PRIMARY KEY, doc text (the JSON as written: no reparse, exact round trip),
 *   search text (normalised, searchable only), "f_<field>" text COLLATE "C" | double precision |
 *   boolean per indexed field; an index on ("f_<field>" NULLS FIRST, id) per field and on
 *   (fields..., id) per declared compound index. "C" compares text by code point and NULLS FIRST
 *   puts null before every value, as the port says; one index serves both directions.
 *   A searchable collection also gets a GIN index on search with pg_trgm's trigram operator class,
 *   when the extension is installed (decision 0017).
 *
 * Search: each word is a predicate on the search text that decides alone, `LIKE '%word%'` (escaped)
 * when the word has a run of three letters or digits, from which pg_trgm takes trigrams and the GIN
 * index finds candidates, `strpos` otherwise (a shorter word gives it nothing to look up; a LIKE the
 * index cannot narrow would make it read all of itself). The planner sees the patterns (queries are
 * planned with their values) and, from the column's statistics, reads the sort field's index in
 * order instead when a word is common.
 */
import {
  type CollectionLayout,
  type FieldType,
  type FieldValue,
  physicalName,
  type QueryPlan,
} from "@relata/projections"

/** Double-quotes an identifier; ours are checked names, quoting keeps them case-sensitive. */
export const quote = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`

/** The schema's names for the read-model store. */
export interface ReadModelNames {
  readonly schema: string
  readonly generations: string
  readonly collections: string
  /** `pg_advisory_xact_lock(class, key)` serialising changes of the registry (new generations, drops). */
  readonly registryLock: readonly [number, number]
  readonly table: (collection: string, generation: number) => string
}

// "RELR" in ASCII, recognisable in pg_locks beside the event store's "RELA" and "RELM".
const registryLockClass = 0x52454c52

/** FNV-1a, as a signed 32-bit integer: a stable lock key per schema name. */
const hash32 = (text: string): number => {
  let hash = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193)
  }
  return hash | 0
}

export const readModelNames = (schema: string): ReadModelNames => {
  const q = quote(schema)
  return {
    schema,
    generations: `${q}.read_model_generations`,
    collections: `${q}.read_model_collections`,
    registryLock: [registryLockClass, hash32(schema)],
    table: (collection, generation) => `${q}.${quote(physicalName(collection, generation))}`,
  }
}

/** The registry, created on open under the registry lock (`IF NOT EXISTS`: beside the events' tables). */
export const registrySql = (n: ReadModelNames): string => `
  CREATE TABLE IF NOT EXISTS ${n.generations} (
    projection text    NOT NULL,
    generation integer NOT NULL CHECK (generation >= 1),
    version    integer NOT NULL,
    layout     text    NOT NULL,
    checkpoint bigint  NOT NULL DEFAULT 0,
    active     boolean NOT NULL DEFAULT false,
    -- A dropped generation keeps its row so that its number is never given out again.
    dropped    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (projection, generation)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS read_model_generations_active ON ${n.generations} (projection) WHERE active;
  CREATE TABLE IF NOT EXISTS ${n.collections} (
    collection text    NOT NULL,
    generation integer NOT NULL,
    projection text    NOT NULL,
    layout     text    NOT NULL,
    PRIMARY KEY (collection, generation)
  );
`

/** The column of an indexed field. */
export const fieldColumn = (field: string): string => quote(`f_${field}`)

const columnType = (type: FieldType): string =>
  type === "text" ? 'text COLLATE "C"' : type === "number" ? "double precision" : "boolean"

const arrayType = (type: FieldType): string =>
  type === "text" ? "text[]" : type === "number" ? "float8[]" : "boolean[]"

/** The statement that creates a collection's table in a generation, with only its primary key. */
export const createTableSql = (n: ReadModelNames, layout: CollectionLayout, generation: number): string => {
  const columns = [
    'id text COLLATE "C" PRIMARY KEY',
    "doc text NOT NULL",
    ...(layout.searchable ? ["search text"] : []),
    ...layout.fields.map((field) => `${fieldColumn(field.name)} ${columnType(field.type)}`),
  ]
  return `CREATE TABLE ${n.table(layout.name, generation)} (${columns.join(", ")})`
}

/**
 * The statements that create a collection's secondary indexes in a generation, those missing only.
 * `trigramOps` is pg_trgm's GIN operator class, schema-qualified, when the extension is installed.
 */
export const createIndexesSql = (
  n: ReadModelNames,
  layout: CollectionLayout,
  generation: number,
  trigramOps: string | undefined,
): ReadonlyArray<string> => {
  const table = n.table(layout.name, generation)
  const local = physicalName(layout.name, generation)
  return [
    ...layout.fields
      .filter((field) => field.ownIndex !== false)
      .map(
        (field) =>
          `CREATE INDEX IF NOT EXISTS ${quote(`${local}_${field.name}`)} ON ${table} (${fieldColumn(field.name)} NULLS FIRST, id)`,
      ),
    ...layout.indexes.map(
      (fields, i) =>
        `CREATE INDEX IF NOT EXISTS ${quote(`${local}_i${i}`)} ON ${table} (${[...fields.map((f) => `${fieldColumn(f)} NULLS FIRST`), "id"].join(", ")})`,
    ),
    // Field names have no underscore, so no field's index is called `<table>_search_trgm`.
    ...(layout.searchable && trigramOps !== undefined
      ? [
          `CREATE INDEX IF NOT EXISTS ${quote(`${local}_search_trgm`)} ON ${table} USING gin (search ${trigramOps})`,
        ]
      : []),
  ]
}

/** Whether pg_trgm can take a trigram from a word: a run of three letters or digits (its word characters). */
const hasTrigram = (term: string): boolean => /[\p{L}\p{N}]{3}/u.test(term)

/** A LIKE pattern matching any text that contains `term`: LIKE's escape character is the backslash. */
export const containsPattern = (term: string): string => `%${term.replace(/[\\%_]/g, "\\$&")}%`

/**
 * One statement that writes many documents of a collection: arrays per column, unnested into rows,
 * upserted on the id. Ids must be unique (the transaction buffer keeps one write per document).
 */
export const upsertSql = (n: ReadModelNames, layout: CollectionLayout, generation: number): string => {
  const columns = [
    "id",
    "doc",
    ...(layout.searchable ? ["search"] : []),
    ...layout.fields.map((f) => fieldColumn(f.name)),
  ]
  const types = [
    "text[]",
    "text[]",
    ...(layout.searchable ? ["text[]"] : []),
    ...layout.fields.map((f) => arrayType(f.type)),
  ]
  return (
    `INSERT INTO ${n.table(layout.name, generation)} (${columns.join(", ")}) ` +
    `SELECT * FROM unnest(${types.map((type, i) => `$${i + 1}::${type}`).join(", ")}) ` +
    `ON CONFLICT (id) DO UPDATE SET ${columns
      .slice(1)
      .map((column) => `${column} = excluded.${column}`)
      .join(", ")}`
  )
}

/** A planned query as one SELECT of id, doc and the sort value, at most `limit + 1` rows. */
export const selectSql = (
  n: ReadModelNames,
  plan: QueryPlan,
  generation: number,
  options: {
    /** Whether the collection's search text has a trigram index (pg_trgm installed). */
    readonly trigramIndex: boolean
  },
): { readonly text: string; readonly values: ReadonlyArray<unknown>; readonly outerOrder: string } => {
  const where: Array<string> = []
  const values: Array<unknown> = []
  const param = (value: unknown, cast = ""): string => {
    values.push(value)
    return `$${values.length}${cast}`
  }
  for (const condition of plan.conditions) {
    const column = fieldColumn(condition.field.name)
    switch (condition.kind) {
      case "eq":
        where.push(`${column} = ${param(condition.value)}`)
        break
      case "null":
        where.push(`${column} IS NULL`)
        break
      case "in":
        where.push(`${column} = ANY(${param(condition.values, `::${arrayType(condition.field.type)}`)})`)
        break
      case "range":
        where.push(
          `${column} ${{ lt: "<", lte: "<=", gt: ">", gte: ">=" }[condition.op]} ${param(condition.value)}`,
        )
        break
    }
  }
  // The words the trigram index can look up: what the candidates are counted by.
  const indexed: Array<string> = []
  for (const term of plan.terms) {
    const condition = hasTrigram(term)
      ? `search LIKE ${param(containsPattern(term), "::text")}`
      : `strpos(search, ${param(term, "::text")}) > 0`
    where.push(condition)
    if (hasTrigram(term)) indexed.push(condition)
  }
  const { field, direction } = plan.order
  const order = field === undefined ? undefined : fieldColumn(field.name)
  const after = plan.after
  if (after !== undefined) {
    const asc = direction === "asc"
    if (order === undefined) {
      where.push(`id ${asc ? ">" : "<"} ${param(after.id, "::text")}`)
    } else if (after.value === null) {
      // Null sorts first: ascending, every non-null value is still ahead; descending, only nulls are.
      const id = param(after.id, "::text")
      where.push(
        asc
          ? `((${order} IS NULL AND id > ${id}) OR ${order} IS NOT NULL)`
          : `(${order} IS NULL AND id < ${id})`,
      )
    } else {
      // A row comparison, which the (field, id) index serves as a range.
      const row = `(${param(after.value)}, ${param(after.id, "::text")})`
      where.push(asc ? `(${order}, id) > ${row}` : `((${order}, id) < ${row} OR ${order} IS NULL)`)
    }
  }
  const dir = direction === "asc" ? "ASC NULLS FIRST" : "DESC NULLS LAST"
  const idDir = direction === "asc" ? "ASC" : "DESC"
  const table = n.table(plan.collection, generation)
  const filter = where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`
  const limit = param(plan.limit + 1)
  const sorted = (alias: string) => `${order === undefined ? "" : `${alias}sort ${dir}, `}${alias}id ${idDir}`
  // The same order over the SELECT's own columns, for a statement that wraps it (`s` is its alias).
  const outerOrder = ` ORDER BY ${sorted("s.")}`
  const inOrder =
    `SELECT id, doc${order === undefined ? "" : `, ${order} AS sort`} FROM ${table}${filter}` +
    ` ORDER BY ${order === undefined ? "" : `${order} ${dir}, `}id ${idDir} LIMIT ${limit}`
  if (indexed.length === 0 || !options.trigramIndex) return { text: inOrder, values, outerOrder }
  // With a trigram index, a word's matches may all sit far down the sort order, where reading the
  // sort index in order and checking each row takes long; the planner cannot know (it assumes them
  // spread evenly). So the statement counts the index's candidates, up to a limit, and picks:
  // few, it fetches them all (OFFSET 0 keeps the planner from reading them in sort order), sorts
  // their keys and reads the page's documents; many, it reads in order, as without the index.
  // The branch not taken is not run: its one-time filter is false.
  const cap = param(searchCandidatesLimit)
  const candidates =
    `SELECT t.id, t.doc${order === undefined ? "" : ", m.sort"} FROM (` +
    `SELECT id${order === undefined ? "" : ", sort"} FROM (SELECT id${order === undefined ? "" : `, ${order} AS sort`} FROM ${table}${filter} OFFSET 0) AS c` +
    ` ORDER BY ${sorted("")} LIMIT ${limit}) AS m JOIN ${table} AS t ON t.id = m.id`
  const text =
    `WITH counted AS MATERIALIZED (SELECT count(*) AS n FROM (SELECT 1 FROM ${table} WHERE ${indexed.join(" AND ")} LIMIT ${cap}) AS x) ` +
    `SELECT * FROM (${candidates}) AS few WHERE (SELECT n FROM counted) < ${cap} ` +
    `UNION ALL SELECT * FROM (${inOrder}) AS many WHERE (SELECT n FROM counted) >= ${cap}`
  return { text, values, outerOrder }
}

/**
 * Up to this many candidates from the trigram index, a search fetches and sorts them all; from this
 * many on, a word is common enough that reading the sort field's index in order finds a page sooner.
 */
export const searchCandidatesLimit = 5_000

/** A document's row values in `upsertSql`'s column order, by column: one array per column. */
export const upsertColumns = (
  layout: CollectionLayout,
  rows: ReadonlyArray<{
    readonly id: string
    readonly doc: string
    readonly search: string | null
    readonly fields: ReadonlyArray<FieldValue>
  }>,
): ReadonlyArray<ReadonlyArray<unknown>> => [
  rows.map((row) => row.id),
  rows.map((row) => row.doc),
  ...(layout.searchable ? [rows.map((row) => row.search)] : []),
  ...layout.fields.map((_, i) => rows.map((row) => row.fields[i] ?? null)),
]
