import { DatabaseSync } from "node:sqlite"
import { readWindowSql, snapshotSql, sql } from "../internal/queries.ts"

/**
 * The plan SQLite picks for each read the store runs, by statement name, on the given file: lets a
 * test (or an operator) check that no read scans the table or sorts, as the store grows.
 */
export const explainQueryPlans = (file: string): Record<string, string> => {
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    const plan = (query: string): string =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${query}`)
        .all()
        .map((row) => String(row.detail))
        .join("; ")
    return {
      streamVersion: plan(sql.streamVersion),
      readStreamForwards: plan(sql.readStreamForwards),
      readStreamBackwards: plan(sql.readStreamBackwards),
      head: plan(sql.head),
      readAll: plan(readWindowSql({ prefix: false, types: false })),
      readAllByStreamPrefix: plan(readWindowSql({ prefix: true, types: false })),
      readAllByEventTypes: plan(readWindowSql({ prefix: false, types: true })),
      readAllByBoth: plan(readWindowSql({ prefix: true, types: true })),
      loadSnapshot: plan(snapshotSql.loadSnapshot),
    }
  } finally {
    db.close()
  }
}
