/**
 * The SQL of the read-model store: its registry (generations with their checkpoints, collections
 * with their layouts), one table per collection and generation with a real column and an index per
 * indexed field, and the translation of a planned query into one SELECT those indexes serve.
 *
 * A collection's table `rm_<collection>_g<generation>`:
 *   id TEXT PRIMARY KEY, doc TEXT (the JSON document), search TEXT (normalised, searchable only),
 *   "f_<field>" TEXT | REAL | INTEGER (booleans as 0/1) per indexed field;
 *   an index on ("f_<field>", id) per field and on (fields..., id) per declared compound index, so
 *   filtering on a field and paging in (field, id) order are index range scans.
 * Text compares with SQLite's BINARY collation (UTF-8 bytes, i.e. code points), as the port says.
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
    "id TEXT PRIMARY KEY NOT NULL",
    "doc TEXT NOT NULL",
    ...(layout.searchable ? ["search TEXT"] : []),
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

/** A planned query as one SELECT of id, doc and the sort value, at most `limit + 1` rows. */
export const selectSql = (
  plan: QueryPlan,
  generation: number,
): { readonly sql: string; readonly params: ReadonlyArray<string | number | null> } => {
  const table = quote(physicalName(plan.collection, generation))
  const where: Array<string> = []
  const params: Array<string | number | null> = []
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
  const sql =
    `SELECT id, doc${order === undefined ? "" : `, ${order} AS sort`} FROM ${table}` +
    (where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`) +
    ` ORDER BY ${order === undefined ? "" : `${order} ${dir}, `}id ${dir} LIMIT ?`
  params.push(plan.limit + 1)
  return { sql, params }
}
