/**
 * The SQL of the read-model store: its registry (generations with their checkpoints, collections
 * with their layouts), one table per collection and generation with a real column and an index per
 * indexed field, and the translation of a planned query into one SELECT those indexes serve.
 *
 * A collection's table `rm_<collection>_g<generation>`:
 *   id TEXT PRIMARY KEY, doc TEXT (the JSON document), "f_<field>" TEXT | REAL | INTEGER (booleans
 *   as 0/1) per indexed field; an index on ("f_<field>", id) per field and on (fields..., id) per
 *   declared compound index, so filtering on a field and paging in (field, id) order are index
 *   range scans. A searchable collection's table also has search TEXT (normalised) and, instead of
 *   the implicit rowid, rid INTEGER PRIMARY KEY with id TEXT UNIQUE (the same two B-trees): its
 *   search index `<table>_search_fts`, an FTS5 trigram index with the table as external content, refers
 *   to rows by rid, which VACUUM keeps (it may renumber an implicit rowid). Triggers keep it in step
 *   with the rows in the statement that changes them.
 * Text compares with SQLite's BINARY collation (UTF-8 bytes, i.e. code points), as the port says.
 *
 * Search (decision 0017): a word of three or more characters narrows the rows through the trigram
 * index; every word is then checked with instr on the row's search text, which alone decides (the
 * index only finds candidates). When the candidates are many, the index would fetch and sort them
 * all while the sort field's index finds a page of matches in a few rows, so the store first counts
 * them (up to `searchCandidatesLimit`) and picks the plan (`selectSql`'s `via`).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite"
import {
  type CollectionLayout,
  type FieldType,
  type FieldValue,
  physicalName,
  type QueryPlan,
} from "@relata/projections"

/** The registry, created when the store opens (`IF NOT EXISTS`: it lives beside the events, in their migrations' file). */
export const registrySql = `
  CREATE TABLE IF NOT EXISTS read_model_generations (
    projection TEXT    NOT NULL,
    generation INTEGER NOT NULL CHECK (generation >= 1),
    version    INTEGER NOT NULL,
    layout     TEXT    NOT NULL,
    checkpoint INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    -- A dropped generation keeps its row so that its number is never given out again.
    dropped    INTEGER NOT NULL DEFAULT 0 CHECK (dropped IN (0, 1)),
    PRIMARY KEY (projection, generation)
  ) STRICT;
  CREATE UNIQUE INDEX IF NOT EXISTS read_model_generations_active
    ON read_model_generations (projection) WHERE active = 1;
  CREATE TABLE IF NOT EXISTS read_model_collections (
    collection TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    projection TEXT    NOT NULL,
    layout     TEXT    NOT NULL,
    PRIMARY KEY (collection, generation)
  ) STRICT;
`

/** Double-quotes an identifier; ours are checked names, quoting keeps them case-sensitive. */
export const quote = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`

/** The column of an indexed field. */
export const fieldColumn = (field: string): string => quote(`f_${field}`)

const columnType = (type: FieldType): string =>
  type === "text" ? "TEXT" : type === "number" ? "REAL" : "INTEGER"

/** The statement that creates a collection's table in a generation, with only its primary key. */
export const createTableSql = (layout: CollectionLayout, generation: number): string => {
  const table = physicalName(layout.name, generation)
  const columns = [
    ...(layout.searchable
      ? ["rid INTEGER PRIMARY KEY", "id TEXT NOT NULL UNIQUE", "doc TEXT NOT NULL", "search TEXT"]
      : ["id TEXT PRIMARY KEY NOT NULL", "doc TEXT NOT NULL"]),
    ...layout.fields.map((field) => `${fieldColumn(field.name)} ${columnType(field.type)}`),
  ]
  return `CREATE TABLE ${quote(table)} (${columns.join(", ")}) STRICT`
}

/** The statements that create a collection's secondary indexes in a generation, those missing only. */
export const createIndexesSql = (layout: CollectionLayout, generation: number): ReadonlyArray<string> => {
  const table = physicalName(layout.name, generation)
  return [
    ...layout.fields
      .filter((field) => field.ownIndex !== false)
      .map(
        (field) =>
          `CREATE INDEX IF NOT EXISTS ${quote(`${table}_${field.name}`)} ON ${quote(table)} (${fieldColumn(field.name)}, id)`,
      ),
    ...layout.indexes.map(
      (fields, i) =>
        `CREATE INDEX IF NOT EXISTS ${quote(`${table}_i${i}`)} ON ${quote(table)} (${[...fields.map(fieldColumn), "id"].join(", ")})`,
    ),
  ]
}

/** The name of a collection's search index in a generation; field names have no underscore, so no field's index has it. */
export const searchIndexName = (collection: string, generation: number): string =>
  `${physicalName(collection, generation)}_search_fts`

/**
 * The statements that create a searchable collection's search index, fill it from the rows there
 * are and add the triggers that keep it in step; run them in one transaction, so the index exists
 * whole or not at all. Trigram tokens, case-sensitive (the text is normalised already; folding again
 * could only add candidates); detail=none and no column sizes: the index only finds rows, it ranks
 * nothing, which makes it a fraction of the size.
 */
export const createSearchIndexSql = (collection: string, generation: number): string => {
  const table = quote(physicalName(collection, generation))
  const index = searchIndexName(collection, generation)
  const fts = quote(index)
  // The 'delete' command must be given the values the row was indexed with: old.search.
  const remove = `INSERT INTO ${fts} (${fts}, rowid, search) VALUES ('delete', old.rid, old.search);`
  const add = `INSERT INTO ${fts} (rowid, search) VALUES (new.rid, new.search);`
  return `
    CREATE VIRTUAL TABLE ${fts} USING fts5(search, content=${table}, content_rowid=rid,
      tokenize='trigram case_sensitive 1', detail=none, columnsize=0);
    INSERT INTO ${fts} (${fts}) VALUES ('rebuild');
    CREATE TRIGGER ${quote(`${index}_insert`)} AFTER INSERT ON ${table} BEGIN ${add} END;
    CREATE TRIGGER ${quote(`${index}_update`)} AFTER UPDATE OF search ON ${table} BEGIN ${remove} ${add} END;
    CREATE TRIGGER ${quote(`${index}_delete`)} AFTER DELETE ON ${table} BEGIN ${remove} END;
  `
}

/**
 * The FTS5 query that finds the candidates for the words of three or more characters: every
 * trigram of each such word (detail=none answers no phrase queries; the instr check makes up for
 * the order the trigrams lose), each a quoted string, so nothing the user typed is FTS syntax.
 * Undefined when no word is long enough: a trigram index finds nothing shorter.
 */
export const searchMatch = (terms: ReadonlyArray<string>): string | undefined => {
  const trigrams = new Set<string>()
  for (const term of terms) {
    // Code points, as the tokenizer counts them: "𝒜b" is two characters, not three.
    const chars = [...term]
    for (let i = 0; i + 3 <= chars.length; i++) trigrams.add(chars.slice(i, i + 3).join(""))
  }
  if (trigrams.size === 0) return undefined
  // Each trigram narrows the candidates less than the one before; a dozen bound the work of a long word.
  const all = [...trigrams]
  const chosen =
    all.length <= maxSearchTrigrams
      ? all
      : Array.from(
          { length: maxSearchTrigrams },
          (_, i) => all[Math.floor((i * all.length) / maxSearchTrigrams)],
        )
  return chosen.map((trigram) => `"${String(trigram).replaceAll('"', '""')}"`).join(" ")
}

const maxSearchTrigrams = 12

/**
 * Up to this many candidates from the search index, the index drives the query (fetch them, check,
 * sort, page: a few microseconds each); from this many on, a word is common enough that reading the
 * sort field's index in order and checking each row finds a page sooner, as without the index. Set
 * high because that order can put every match far down: "phoenix" in company names sorted by name
 * (3% of 100,000 cards) took 150 ms read in name order at 2,000, 19 ms through the index.
 */
export const searchCandidatesLimit = 5_000

/** Counts the search index's candidates for a `searchMatch`, up to `limit`. */
export const countCandidatesSql = (collection: string, generation: number): string => {
  const fts = quote(searchIndexName(collection, generation))
  return `SELECT count(*) AS n FROM (SELECT 1 FROM ${fts} WHERE ${fts} MATCH ? LIMIT ?)`
}

/** A value as SQLite binds it: booleans as 0/1. */
export const bindable = (value: FieldValue): string | number | null =>
  typeof value === "boolean" ? (value ? 1 : 0) : value

/** The statements that write one collection's documents. */
export interface CollectionStatements {
  readonly upsert: StatementSync
  readonly delete: StatementSync
  readonly load: StatementSync
  readonly get: StatementSync
}

export const prepareCollectionStatements = (
  db: DatabaseSync,
  layout: CollectionLayout,
  generation: number,
): CollectionStatements => {
  const table = quote(physicalName(layout.name, generation))
  const columns = [
    "id",
    "doc",
    ...(layout.searchable ? ["search"] : []),
    ...layout.fields.map((f) => fieldColumn(f.name)),
  ]
  const updates = columns.slice(1).map((column) => `${column} = excluded.${column}`)
  return {
    upsert: db.prepare(
      `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")}) ` +
        `ON CONFLICT (id) DO UPDATE SET ${updates.join(", ")}`,
    ),
    delete: db.prepare(`DELETE FROM ${table} WHERE id = ?`),
    load: db.prepare(`SELECT id, doc FROM ${table} WHERE id IN (SELECT value FROM json_each(?))`),
    get: db.prepare(`SELECT doc FROM ${table} WHERE id = ?`),
  }
}

/**
 * A planned query as one SELECT of id, doc and the sort value, at most `limit + 1` rows. With
 * `via` (a `searchMatch`), the search index's candidates drive it: they are joined to the table
 * (CROSS JOIN keeps that order), checked and sorted; without it, the table's indexes alone serve it.
 */
export const selectSql = (
  plan: QueryPlan,
  generation: number,
  via?: string,
): { readonly sql: string; readonly params: ReadonlyArray<string | number | null> } => {
  const table = quote(physicalName(plan.collection, generation))
  const where: Array<string> = []
  const params: Array<string | number | null> = []
  let from = table
  if (via !== undefined) {
    const fts = quote(searchIndexName(plan.collection, generation))
    from = `(SELECT rowid AS rid FROM ${fts} WHERE ${fts} MATCH ?) AS candidates CROSS JOIN ${table} USING (rid)`
    params.push(via)
  }
  for (const condition of plan.conditions) {
    const column = fieldColumn(condition.field.name)
    switch (condition.kind) {
      case "eq":
        where.push(`${column} = ?`)
        params.push(bindable(condition.value))
        break
      case "null":
        where.push(`${column} IS NULL`)
        break
      case "in":
        where.push(`${column} IN (SELECT value FROM json_each(?))`)
        params.push(JSON.stringify(condition.values.map(bindable)))
        break
      case "range":
        where.push(`${column} ${{ lt: "<", lte: "<=", gt: ">", gte: ">=" }[condition.op]} ?`)
        params.push(condition.value)
        break
    }
  }
  for (const term of plan.terms) {
    where.push("instr(search, ?) > 0")
    params.push(term)
  }
  const { field, direction } = plan.order
  const order = field === undefined ? undefined : fieldColumn(field.name)
  const after = plan.after
  if (after !== undefined) {
    const asc = direction === "asc"
    if (order === undefined) {
      where.push(asc ? "id > ?" : "id < ?")
      params.push(after.id)
    } else if (after.value === null) {
      // Null sorts first: ascending, every non-null value is still ahead; descending, only nulls are.
      where.push(
        asc ? `((${order} IS NULL AND id > ?) OR ${order} IS NOT NULL)` : `(${order} IS NULL AND id < ?)`,
      )
      params.push(after.id)
    } else {
      // A row value comparison, which the (field, id) index serves as a range.
      where.push(asc ? `(${order}, id) > (?, ?)` : `((${order}, id) < (?, ?) OR ${order} IS NULL)`)
      params.push(bindable(after.value), after.id)
    }
  }
  const dir = direction === "asc" ? "ASC" : "DESC"
  const columns = `id, doc${order === undefined ? "" : `, ${order} AS sort`}`
  const filter = where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`
  const orderBy = ` ORDER BY ${order === undefined ? "" : `${order} ${dir}, `}id ${dir}`
  params.push(plan.limit + 1)
  // Driven by the candidates, the sort takes only their rids and keys; the page's documents are
  // read after it, not carried through it.
  const sql =
    via === undefined
      ? `SELECT ${columns} FROM ${from}${filter}${orderBy} LIMIT ?`
      : `SELECT ${columns} FROM (SELECT rid FROM ${from}${filter}${orderBy} LIMIT ?) AS page ` +
        `CROSS JOIN ${table} USING (rid)${orderBy}`
  return { sql, params }
}
