/**
 * The ReadModelStore port on SQLite: by default in the events' file (WAL), or in a file of its own.
 * Each collection of each generation is a table with a real, indexed column per indexed field and
 * the JSON document; a registry table holds every generation's checkpoint and which one is active.
 *
 * One connection per store, every call synchronous on it: a projection's batch (documents plus
 * checkpoint) commits in one `BEGIN IMMEDIATE` transaction that nothing else of this process can
 * interleave with, and a switch of generations is one UPDATE pair in one transaction. Reads run in a
 * read transaction, so the active generation they resolve and the rows they read are one snapshot
 * even while another process switches generations. A document read again while no connection has
 * changed the file since comes from memory (see `remember`).
 *
 * `synchronous` defaults to NORMAL here, not FULL as for events: a read model and its checkpoint
 * commit together, so losing the last commits to a power cut only makes the runner apply those
 * events again, and it saves a sync per batch.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite"
import { deepFreeze, type JsonObject, StartOfStore } from "@relata/domain"
import {
  type BufferedWrite,
  CheckpointConflict,
  type CollectionLayout,
  CollectionNotFound,
  type CompiledCollection,
  compileReadModel,
  type FieldValue,
  type Generation,
  type GenerationRef,
  type InvalidReadModelQuery,
  layoutOf,
  makeTransactionBuffer,
  pageOf,
  physicalName,
  planQuery,
  type QueryPlan,
  type ReadModelDefinition,
  type ReadModelLayout,
  type ReadModelPage,
  type ReadModelQuery,
  ReadModelStore,
  ReadModelStoreError,
  type ReadModelStoreService,
  type ReadModelTransaction,
  type ReadOptions,
  readModelStoreServiceOf,
  sameLayout,
  type TransactionBuffer,
  type TransactOptions,
} from "@relata/projections"
import { Effect, Layer, Result, type Scope } from "effect"
import type { Synchronous } from "./internal/openDatabase.ts"
import { openStore } from "./internal/openStore.ts"
import {
  bindable,
  type CollectionStatements,
  countCandidatesSql,
  createIndexesSql,
  createSearchIndexSql,
  createTableSql,
  fieldColumn,
  prepareCollectionStatements,
  quote,
  registrySql,
  searchCandidatesLimit,
  searchIndexName,
  searchMatch,
  selectSql,
} from "./internal/readModels.ts"
import { isBusy, messageOf } from "./internal/sqliteErrors.ts"
import type { SqliteStoreOpenError } from "./SqliteStoreOpenError.ts"

/** How to open the store. Every field has a default. */
export interface SqliteReadModelStoreConfig {
  /** The database file; by default the event store's (`./data/relata.sqlite`). Its folder is created. */
  readonly path?: string
  /** `PRAGMA synchronous` of this connection; default NORMAL (see above). */
  readonly synchronous?: Synchronous
  /** How long a write waits for another connection's lock before failing (retryable). Default 5000 ms. */
  readonly busyTimeoutMs?: number
}

/** The store plus what its owner needs: where the file is, how to see a query's plan, how to close it. */
export interface SqliteReadModelStoreHandle extends ReadModelStoreService {
  /** The database file, absolute. */
  readonly path: string
  /** SQLite's plan for a query on the active generation (EXPLAIN QUERY PLAN), one step per line. */
  readonly explain: (
    collection: string,
    query: ReadModelQuery,
  ) => Effect.Effect<string, ReadModelStoreError | CollectionNotFound | InvalidReadModelQuery>
  /** Closes the connection; later calls fail. Idempotent. */
  readonly close: Effect.Effect<void>
}

interface GenerationRow {
  readonly projection: string
  readonly generation: bigint
  readonly version: bigint
  readonly layout: string
  readonly checkpoint: bigint
  readonly active: bigint
  readonly dropped: bigint
}

/** One row of a commit: a delete, an upsert, or an UPDATE of some columns (`update`; values end with the id). */
interface PendingRow {
  readonly id: string
  readonly values: ReadonlyArray<string | number | null> | undefined
  readonly update?: StatementSync
}

/**
 * Which columns of a stored row a write changes, as a key (`s` for the search text, then the
 * indexes of the changed fields) and the values to bind after the document, in that order.
 */
const changedColumns = (
  layout: CollectionLayout,
  write: BufferedWrite,
  stored: NonNullable<BufferedWrite["stored"]>,
): { readonly key: string; readonly values: ReadonlyArray<string | number | null> } => {
  const key: Array<string> = []
  const values: Array<string | number | null> = []
  if (layout.searchable && write.search !== stored.search) {
    key.push("s")
    values.push(write.search)
  }
  for (let i = 0; i < write.fields.length; i++) {
    const value = write.fields[i] as FieldValue
    if (value !== stored.fields[i]) {
      key.push(String(i))
      values.push(bindable(value))
    }
  }
  return { key: key.join(","), values }
}

interface ResolvedCollection {
  readonly generation: number
  readonly layout: CollectionLayout
  readonly statements: CollectionStatements
}

/** A collection resolved to the active generation, and the documents read from it since. */
interface ActiveCollection {
  readonly resolved: ResolvedCollection
  /** By id, in the order they were last read. */
  readonly documents: Map<string, JsonObject>
}

/** What the file looked like to this connection: see `remember`. */
interface FileStamp {
  readonly version: number
  readonly changes: number
}

/**
 * How many documents per collection reads keep (the most recently read): a few MB of customer
 * cards, enough for the ones people are working on.
 */
const keptDocumentsPerCollection = 1_000

/** The page cache of the store's connection, in KiB. */
const cacheSizeKib = 16 * 1024

const toGeneration = (row: GenerationRow): Generation => ({
  projection: row.projection,
  generation: Number(row.generation),
  version: Number(row.version),
  checkpoint: row.checkpoint,
  active: row.active === 1n,
})

const build = (db: DatabaseSync, config: { readonly path: string; readonly busyTimeoutMs: number }) => {
  // A batch writes documents all over a collection's indexes (a card has eighteen): with SQLite's
  // default 2 MB page cache most of those pages would be read again on every batch. Larger caches
  // bought little more here and count in the process's memory; the OS caches the file anyway.
  db.exec(`PRAGMA cache_size = ${-cacheSizeKib}`)
  db.exec("BEGIN IMMEDIATE")
  try {
    db.exec(registrySql)
    db.exec("COMMIT")
  } catch (cause) {
    if (db.isTransaction) db.exec("ROLLBACK")
    throw cause
  }

  const prepare = (sql: string, bigInts = false): StatementSync => {
    const statement = db.prepare(sql)
    if (bigInts) statement.setReadBigInts(true)
    return statement
  }
  /** A statement answering one number, as a one-element row: no row object per call (a read's hot path). */
  const prepareValue = (sql: string): StatementSync => {
    const statement = db.prepare(sql)
    statement.setReturnArrays(true)
    return statement
  }
  const generationColumns = "projection, generation, version, layout, checkpoint, active, dropped"
  const st = {
    begin: prepare("BEGIN"),
    beginImmediate: prepare("BEGIN IMMEDIATE"),
    commit: prepare("COMMIT"),
    rollback: prepare("ROLLBACK"),
    // What this connection's reads kept is valid while these two stay put (see `remember` below).
    // Two statements: the pragma as a table-valued function prepares its own statement at each call.
    dataVersion: prepareValue("PRAGMA data_version"),
    totalChanges: prepareValue("SELECT total_changes()"),
    generations: prepare(
      `SELECT ${generationColumns} FROM read_model_generations WHERE projection = ? AND dropped = 0 ORDER BY generation`,
      true,
    ),
    generation: prepare(
      `SELECT ${generationColumns} FROM read_model_generations WHERE projection = ? AND generation = ?`,
      true,
    ),
    activeGeneration: prepare(
      `SELECT ${generationColumns} FROM read_model_generations WHERE projection = ? AND active = 1`,
      true,
    ),
    nextGeneration: prepare(
      "SELECT coalesce(max(generation), 0) + 1 AS next FROM read_model_generations WHERE projection = ?",
    ),
    owners: prepare(
      "SELECT DISTINCT collection, projection FROM read_model_collections WHERE collection IN (SELECT value FROM json_each(?)) AND projection <> ?",
    ),
    insertGeneration: prepare(
      "INSERT INTO read_model_generations (projection, generation, version, layout) VALUES (?, ?, ?, ?)",
    ),
    insertCollection: prepare(
      "INSERT INTO read_model_collections (collection, generation, projection, layout) VALUES (?, ?, ?, ?)",
    ),
    collectionsOf: prepare(
      "SELECT collection FROM read_model_collections WHERE projection = ? AND generation = ?",
    ),
    deleteCollections: prepare("DELETE FROM read_model_collections WHERE projection = ? AND generation = ?"),
    markDropped: prepare(
      "UPDATE read_model_generations SET dropped = 1, active = 0 WHERE projection = ? AND generation = ?",
    ),
    deactivate: prepare("UPDATE read_model_generations SET active = 0 WHERE projection = ? AND active = 1"),
    activate: prepare("UPDATE read_model_generations SET active = 1 WHERE projection = ? AND generation = ?"),
    saveCheckpoint: prepare(
      "UPDATE read_model_generations SET checkpoint = ? WHERE projection = ? AND generation = ?",
    ),
    activeCollection: prepare(
      "SELECT c.generation AS generation, c.layout AS layout FROM read_model_collections c " +
        "JOIN read_model_generations g ON g.projection = c.projection AND g.generation = c.generation " +
        "WHERE c.collection = ? AND g.active = 1",
    ),
    collectionAt: prepare(
      "SELECT generation, layout FROM read_model_collections WHERE collection = ? AND generation = ?",
    ),
    tableExists: prepare("SELECT 1 AS found FROM sqlite_schema WHERE type = 'table' AND name = ?"),
    hasRid: prepare("SELECT 1 AS found FROM pragma_table_info(?) WHERE name = 'rid'"),
  }

  // Generations attached by this instance: what writes need (the definitions' functions).
  const attached = new Map<string, ReadonlyMap<string, CompiledCollection>>()
  // Per table: its prepared statements, and the queries prepared on it (dropped with the table).
  const tables = new Map<
    string,
    {
      statements: CollectionStatements
      queries: Map<string, StatementSync>
      /** UPDATEs of the document and some of its columns, by which columns (see `changedColumns`). */
      updates: Map<string, StatementSync>
      /** Whether its search index exists; once it does, it stays until the table is dropped. */
      searchIndexed: boolean
    }
  >()
  const maxQueriesPerTable = 64
  let closed = false

  const keyOf = (target: GenerationRef): string => `${target.projection}\u0000${target.generation}`

  const failure = (action: string, cause: unknown): ReadModelStoreError =>
    closed
      ? new ReadModelStoreError({ reason: `${action}: the store is closed`, retryable: false, cause })
      : isBusy(cause)
        ? new ReadModelStoreError({
            reason: `${action}: another connection held the write lock for longer than ${config.busyTimeoutMs} ms`,
            retryable: true,
            cause,
          })
        : new ReadModelStoreError({ reason: `${action}: ${messageOf(cause)}`, retryable: false, cause })

  const invalid = (reason: string) => new ReadModelStoreError({ reason, retryable: false })

  const rollback = (): void => {
    try {
      if (db.isOpen && db.isTransaction) st.rollback.run()
    } catch {
      // The connection is unusable; the error that brought us here is the one to report.
    }
  }

  /** Runs `body` in a transaction; an exception rolls it back. `body` answers a value or a typed failure. */
  const inTransaction = <A, E>(
    action: string,
    begin: StatementSync,
    body: () => Result.Result<A, E>,
  ): Effect.Effect<A, E | ReadModelStoreError> =>
    Effect.suspend((): Effect.Effect<A, E | ReadModelStoreError> => {
      try {
        begin.run()
        const result = body()
        if (Result.isFailure(result)) {
          st.rollback.run()
          return Effect.fail(result.failure)
        }
        st.commit.run()
        return Effect.succeed(result.success)
      } catch (cause) {
        rollback()
        return Effect.fail(failure(action, cause))
      }
    })

  const tableOf = (layout: CollectionLayout, generation: number) => {
    const name = physicalName(layout.name, generation)
    let table = tables.get(name)
    if (table === undefined) {
      table = {
        statements: prepareCollectionStatements(db, layout, generation),
        queries: new Map(),
        updates: new Map(),
        searchIndexed: false,
      }
      tables.set(name, table)
    }
    return table
  }

  const checkedLayout = (
    definition: ReadModelDefinition,
  ): Result.Result<ReadModelLayout, ReadModelStoreError> => Result.mapError(layoutOf(definition), invalid)

  const generations: ReadModelStoreService["generations"] = (projection) =>
    Effect.try({
      try: () =>
        (st.generations.all(projection) as unknown as ReadonlyArray<GenerationRow>).map(toGeneration),
      catch: (cause) => failure(`list the generations of ${projection}`, cause),
    })

  const createGeneration: ReadModelStoreService["createGeneration"] = (definition, options) =>
    Effect.suspend(() => {
      const layout = checkedLayout(definition)
      if (Result.isFailure(layout)) return Effect.fail(layout.failure)
      const names = layout.success.collections.map((c) => c.name)
      return Effect.map(
        inTransaction(`create a generation of ${definition.name}`, st.beginImmediate, () => {
          forgetResolved()
          const owned = st.owners.get(JSON.stringify(names), definition.name) as
            | { collection: string; projection: string }
            | undefined
          if (owned !== undefined) {
            return Result.fail(
              invalid(`the collection ${owned.collection} belongs to the projection ${owned.projection}`),
            )
          }
          const generation = Number(st.nextGeneration.get(definition.name)?.next)
          st.insertGeneration.run(
            definition.name,
            generation,
            definition.version,
            JSON.stringify(layout.success),
          )
          for (const collection of layout.success.collections) {
            db.exec(createTableSql(collection, generation))
            if (options?.deferIndexes !== true) {
              for (const sql of createIndexesSql(collection, generation)) db.exec(sql)
              if (collection.searchable) db.exec(createSearchIndexSql(collection.name, generation))
            }
            st.insertCollection.run(collection.name, generation, definition.name, JSON.stringify(collection))
          }
          return Result.succeed(generation)
        }),
        (generation): Generation => {
          attached.set(
            keyOf({ projection: definition.name, generation }),
            compileReadModel(definition, layout.success),
          )
          return {
            projection: definition.name,
            generation,
            version: definition.version,
            checkpoint: StartOfStore,
            active: false,
          }
        },
      )
    })

  const readGeneration = (target: GenerationRef): GenerationRow | undefined => {
    const row = st.generation.get(target.projection, target.generation) as GenerationRow | undefined
    return row === undefined || row.dropped === 1n ? undefined : row
  }

  const noGeneration = (target: GenerationRef) =>
    invalid(`projection ${target.projection} has no generation ${target.generation}`)

  const attach: ReadModelStoreService["attach"] = (definition, generation) =>
    Effect.suspend(() => {
      const layout = checkedLayout(definition)
      if (Result.isFailure(layout)) return Effect.fail(layout.failure)
      let row: GenerationRow | undefined
      try {
        row = readGeneration({ projection: definition.name, generation })
      } catch (cause) {
        return Effect.fail(failure(`attach generation ${generation} of ${definition.name}`, cause))
      }
      if (row === undefined) return Effect.fail(noGeneration({ projection: definition.name, generation }))
      if (!sameLayout(JSON.parse(row.layout) as ReadModelLayout, layout.success)) {
        return Effect.fail(
          invalid(
            `projection ${definition.name} generation ${generation} was built by version ${row.version} with other collections; a changed read model needs a new version`,
          ),
        )
      }
      attached.set(
        keyOf({ projection: definition.name, generation }),
        compileReadModel(definition, layout.success),
      )
      return Effect.succeed(toGeneration(row))
    })

  const activate: ReadModelStoreService["activate"] = (target, options) =>
    inTransaction(
      `activate generation ${target.generation} of ${target.projection}`,
      st.beginImmediate,
      () => {
        forgetResolved()
        const row = readGeneration(target)
        if (row === undefined) return Result.fail(noGeneration(target))
        const current = st.activeGeneration.get(target.projection) as GenerationRow | undefined
        if (
          options?.ifCaughtUp === true &&
          current !== undefined &&
          Number(current.generation) !== target.generation &&
          row.checkpoint < current.checkpoint
        ) {
          return Result.succeed(false)
        }
        st.deactivate.run(target.projection)
        st.activate.run(target.projection, target.generation)
        return Result.succeed(true)
      },
    )

  // One transaction per index: each holds the file's write lock (which the event store's appends
  // also need) for one sorted pass over one table, not for all of a projection's indexes at once,
  // and the thread (every call here is synchronous) is handed back between them.
  // CREATE INDEX IF NOT EXISTS makes a build that stopped half-way resume where it was; a search
  // index and its triggers are made in one transaction, when the index does not exist yet.
  const buildIndexes: ReadModelStoreService["buildIndexes"] = (target) =>
    Effect.gen(function* () {
      const action = `build the indexes of generation ${target.generation} of ${target.projection}`
      const row = yield* Effect.try({ try: () => readGeneration(target), catch: (c) => failure(action, c) })
      if (row === undefined) return yield* noGeneration(target)
      for (const collection of (JSON.parse(row.layout) as ReadModelLayout).collections) {
        for (const sql of createIndexesSql(collection, target.generation)) {
          yield* inTransaction(action, st.beginImmediate, () => {
            if (readGeneration(target) === undefined) return Result.fail(noGeneration(target))
            db.exec(sql)
            return Result.succeed(undefined)
          })
          yield* Effect.yieldNow
        }
        if (collection.searchable) {
          yield* inTransaction(action, st.beginImmediate, () => {
            if (readGeneration(target) === undefined) return Result.fail(noGeneration(target))
            // A table made before search indexes (no rid to refer to) keeps searching by scan.
            const table = physicalName(collection.name, target.generation)
            if (
              !searchIndexExists(collection.name, target.generation) &&
              st.hasRid.get(table) !== undefined
            ) {
              db.exec(createSearchIndexSql(collection.name, target.generation))
            }
            return Result.succeed(undefined)
          })
          yield* Effect.yieldNow
        }
      }
    })

  const searchIndexExists = (collection: string, generation: number): boolean =>
    st.tableExists.get(searchIndexName(collection, generation)) !== undefined

  const drop: ReadModelStoreService["drop"] = (target) =>
    Effect.tap(
      inTransaction(`drop generation ${target.generation} of ${target.projection}`, st.beginImmediate, () => {
        forgetResolved()
        const row = readGeneration(target)
        if (row === undefined) return Result.succeed([] as ReadonlyArray<string>)
        if (row.active === 1n) {
          return Result.fail(
            invalid(
              `generation ${target.generation} of ${target.projection} is active and cannot be dropped`,
            ),
          )
        }
        const collections = (
          st.collectionsOf.all(target.projection, target.generation) as Array<{ collection: string }>
        ).map((c) => c.collection)
        for (const collection of collections) {
          // The table's triggers go with it; the search index (a virtual table) needs its own DROP.
          db.exec(`DROP TABLE IF EXISTS ${quote(searchIndexName(collection, target.generation))}`)
          db.exec(`DROP TABLE IF EXISTS ${quote(physicalName(collection, target.generation))}`)
        }
        st.deleteCollections.run(target.projection, target.generation)
        st.markDropped.run(target.projection, target.generation)
        return Result.succeed(collections)
      }),
      (collections) =>
        Effect.sync(() => {
          attached.delete(keyOf(target))
          for (const collection of collections) tables.delete(physicalName(collection, target.generation))
        }),
    )

  /** The UPDATE of the document and the columns a `changedColumns` key names. */
  const prepareUpdate = (layout: CollectionLayout, generation: number, key: string): StatementSync => {
    const columns = ["doc"]
    for (const part of key === "" ? [] : key.split(",")) {
      columns.push(
        part === "s" ? "search" : fieldColumn((layout.fields[Number(part)] as { name: string }).name),
      )
    }
    return db.prepare(
      `UPDATE ${quote(physicalName(layout.name, generation))} SET ${columns.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`,
    )
  }

  const loadDocuments =
    (compiled: ReadonlyMap<string, CompiledCollection>, generation: number) =>
    (collection: string, ids: ReadonlyArray<string>) =>
      Effect.try({
        try: () => {
          const layout = (compiled.get(collection) as CompiledCollection).layout
          const rows = tableOf(layout, generation).statements.load.all(JSON.stringify(ids)) as Array<{
            id: string
            doc: string
          }>
          const found = new Map<string, JsonObject>()
          for (const row of rows) found.set(row.id, JSON.parse(row.doc) as JsonObject)
          return found
        },
        catch: (cause) => failure(`load documents of ${collection}`, cause),
      })

  const flush = (
    target: GenerationRef,
    compiled: ReadonlyMap<string, CompiledCollection>,
    buffer: TransactionBuffer,
    options: TransactOptions | undefined,
  ) =>
    Effect.suspend(() => {
      // Serialise before the transaction: a document JSON rejects fails here, with nothing begun.
      const writes = [...buffer.writes()].map(([collection, list]) => {
        const layout = (compiled.get(collection) as CompiledCollection).layout
        const table = tableOf(layout, target.generation)
        return {
          statements: table.statements,
          rows: list.map((write): PendingRow => {
            if (write.document === undefined) return { id: write.id, values: undefined }
            const doc = JSON.stringify(write.document)
            if (write.stored !== undefined) {
              // The row exists: an UPDATE of the columns that changed leaves the other indexes alone
              // (an UPSERT that sets every column rewrites every index entry of the row).
              const { key, values } = changedColumns(layout, write, write.stored)
              let update = table.updates.get(key)
              if (update === undefined) {
                update = prepareUpdate(layout, target.generation, key)
                table.updates.set(key, update)
              }
              return { id: write.id, values: [doc, ...values, write.id], update }
            }
            return {
              id: write.id,
              values: [
                write.id,
                doc,
                ...(layout.searchable ? [write.search] : []),
                ...write.fields.map(bindable),
              ],
            }
          }),
        }
      })
      const checkpoint = buffer.checkpoint()
      return inTransaction(
        `commit to generation ${target.generation} of ${target.projection}`,
        st.beginImmediate,
        (): Result.Result<void, ReadModelStoreError | CheckpointConflict> => {
          const row = readGeneration(target)
          if (row === undefined) return Result.fail(noGeneration(target))
          const expected = options?.expectedCheckpoint
          if (expected !== undefined && expected !== row.checkpoint) {
            return Result.fail(new CheckpointConflict({ ...target, expected, actual: row.checkpoint }))
          }
          for (const { statements, rows } of writes) {
            for (const row of rows) {
              if (row.values === undefined) statements.delete.run(row.id)
              else if (row.update === undefined) statements.upsert.run(...row.values)
              else if (row.update.run(...row.values).changes === 0) {
                // Loaded in this transaction, so it exists; should it not, this is not the store we loaded from.
                throw new Error(`${row.id} was loaded but is no longer stored`)
              }
            }
          }
          if (checkpoint !== undefined)
            st.saveCheckpoint.run(checkpoint, target.projection, target.generation)
          return Result.succeed(undefined)
        },
      )
    })

  const transact = <A, E, R>(
    target: GenerationRef,
    body: (tx: ReadModelTransaction) => Effect.Effect<A, E, R>,
    options?: TransactOptions,
  ): Effect.Effect<A, E | ReadModelStoreError | CheckpointConflict, R> =>
    Effect.suspend(() => {
      const compiled = attached.get(keyOf(target))
      if (compiled === undefined) {
        return Effect.fail(
          invalid(
            `generation ${target.generation} of ${target.projection} is not attached to this store (or was dropped)`,
          ),
        )
      }
      const buffer = makeTransactionBuffer(compiled, loadDocuments(compiled, target.generation))
      return Effect.flatMap(body(buffer.tx), (result) =>
        Effect.as(flush(target, compiled, buffer, options), result),
      )
    })

  /** Resolves the collection in the generation a read looks at; call inside a read transaction. */
  const resolve = (
    collection: string,
    options: ReadOptions | undefined,
  ): ResolvedCollection | CollectionNotFound => {
    const row = (
      options?.generation === undefined
        ? st.activeCollection.get(collection)
        : st.collectionAt.get(collection, options.generation)
    ) as { generation: number; layout: string } | undefined
    if (row === undefined) {
      return new CollectionNotFound(
        options?.generation === undefined ? { collection } : { collection, generation: options.generation },
      )
    }
    const layout = JSON.parse(row.layout) as CollectionLayout
    return { generation: row.generation, layout, statements: tableOf(layout, row.generation).statements }
  }

  /** Runs a read in one read transaction: the generation it resolves and the rows it reads are one snapshot. */
  const read = <A, E>(
    action: string,
    collection: string,
    options: ReadOptions | undefined,
    body: (resolved: ResolvedCollection, active: ActiveCollection | undefined) => Result.Result<A, E>,
  ): Effect.Effect<A, E | CollectionNotFound | ReadModelStoreError> =>
    inTransaction(action, st.begin, (): Result.Result<A, E | CollectionNotFound> => {
      const resolved = resolve(collection, options)
      if (resolved instanceof CollectionNotFound) return Result.fail(resolved)
      return body(resolved, options?.generation === undefined ? remember(collection, resolved) : undefined)
    })

  // What reads keep while the file is as it was when they read it: the active collections they
  // resolved, and the documents `get` read from them. The file is as it was while no other
  // connection has committed (`data_version` moves with their commits: another process's projection
  // batch, its switch to a rebuilt generation) and this one has changed no row (`total_changes()`
  // counts its own projection commits, which do not move data_version; creating, switching and
  // dropping a generation also forget everything at once). Every `get` checks both first, so a card
  // read again costs those two small statements instead of a SELECT and a JSON parse, and it is the
  // same (frozen) object: readers may keep what they derive from it (the API keeps the response
  // body). Any append to the file moves data_version too, so under write load most reads take the
  // full path: a read transaction, the collection resolved again, the document read and kept.
  const active = new Map<string, ActiveCollection>()
  let activeAt: FileStamp | undefined

  const dataVersion = (): number => (st.dataVersion.get() as unknown as [number])[0]
  const totalChanges = (): number => (st.totalChanges.get() as unknown as [number])[0]

  const fileStamp = (): FileStamp => ({ version: dataVersion(), changes: totalChanges() })

  /** Whether the file is as `stamp` saw it: the first step of every `get`, so it makes no stamp. */
  const unchangedSince = (stamp: FileStamp): boolean =>
    dataVersion() === stamp.version && totalChanges() === stamp.changes

  const forgetResolved = (): void => {
    active.clear()
    activeAt = undefined
  }

  /** Called inside the read transaction that resolved it, so the stamp read is the snapshot's. */
  const remember = (collection: string, resolved: ResolvedCollection): ActiveCollection => {
    const stamp = fileStamp()
    if (activeAt === undefined || stamp.version !== activeAt.version || stamp.changes !== activeAt.changes) {
      active.clear()
      activeAt = stamp
    }
    let known = active.get(collection)
    if (known === undefined) {
      known = { resolved, documents: new Map() }
      active.set(collection, known)
    }
    return known
  }

  /** The collection as last resolved, if the file has not changed since; reads the stamp first. */
  const stillActive = (collection: string): ActiveCollection | undefined => {
    if (activeAt === undefined || !unchangedSince(activeAt)) return undefined
    return active.get(collection)
  }

  const documentOf = (row: unknown): JsonObject | undefined =>
    row === undefined ? undefined : (JSON.parse((row as { doc: string }).doc) as JsonObject)

  /**
   * A document of a collection whose stamp was read before this (so a document read now is at least
   * as new as the stamp it is kept under): the kept one, or read now and kept. When the collection
   * keeps its most, the one read longest ago goes.
   */
  const documentIn = (known: ActiveCollection, id: string): JsonObject | undefined => {
    const kept = known.documents.get(id)
    if (kept !== undefined) {
      known.documents.delete(id)
      known.documents.set(id, kept)
      return kept
    }
    const document = documentOf(known.resolved.statements.get.get(id))
    if (document === undefined) return undefined
    if (known.documents.size >= keptDocumentsPerCollection) {
      const oldest = known.documents.keys().next().value
      if (oldest !== undefined) known.documents.delete(oldest)
    }
    // Kept documents go to every reader: none of them may change one.
    known.documents.set(id, deepFreeze(document))
    return document
  }

  const get: ReadModelStoreService["get"] = (collection, id, options) =>
    Effect.suspend(() => {
      if (options?.generation === undefined && !closed) {
        try {
          const known = stillActive(collection)
          if (known !== undefined) return Effect.succeed(documentIn(known, id))
        } catch {
          // Its table went between the check and the read (another process dropped the generation):
          // resolve afresh below.
          forgetResolved()
        }
      }
      return read(`read ${collection}/${id}`, collection, options, ({ statements }, known) =>
        Result.succeed(known === undefined ? documentOf(statements.get.get(id)) : documentIn(known, id)),
      )
    })

  const getMany: ReadModelStoreService["getMany"] = (collection, ids, options) =>
    read(`read documents of ${collection}`, collection, options, ({ statements }) => {
      const found = new Map<string, JsonObject>()
      if (ids.length === 0) return Result.succeed(found)
      for (const row of statements.load.all(JSON.stringify(ids)) as Array<{ id: string; doc: string }>) {
        found.set(row.id, JSON.parse(row.doc) as JsonObject)
      }
      return Result.succeed(found)
    })

  const queryStatement = (resolved: ResolvedCollection, sql: string): StatementSync => {
    const table = tableOf(resolved.layout, resolved.generation)
    let statement = table.queries.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      if (table.queries.size >= maxQueriesPerTable) {
        const oldest = table.queries.keys().next().value
        if (oldest !== undefined) table.queries.delete(oldest)
      }
      table.queries.set(sql, statement)
    }
    return statement
  }

  /**
   * The SELECT of a planned query, with the search index driving it when it exists and finds fewer
   * than `searchCandidatesLimit` candidates (see internal/readModels.ts). Call inside the read.
   */
  const planSelect = (resolved: ResolvedCollection, plan: QueryPlan) => {
    const match = searchMatch(plan.terms)
    if (match === undefined) return selectSql(plan, resolved.generation)
    const table = tableOf(resolved.layout, resolved.generation)
    // Checked until found: another connection may build it meanwhile (a generation's deferred indexes).
    if (!table.searchIndexed) table.searchIndexed = searchIndexExists(plan.collection, resolved.generation)
    if (!table.searchIndexed) return selectSql(plan, resolved.generation)
    const counted = queryStatement(resolved, countCandidatesSql(plan.collection, resolved.generation)).get(
      match,
      searchCandidatesLimit,
    ) as { n: number }
    return counted.n < searchCandidatesLimit
      ? selectSql(plan, resolved.generation, match)
      : selectSql(plan, resolved.generation)
  }

  const query = (
    collection: string,
    q: ReadModelQuery,
    options?: ReadOptions,
  ): Effect.Effect<ReadModelPage, ReadModelStoreError | CollectionNotFound | InvalidReadModelQuery> =>
    read(
      `query ${collection}`,
      collection,
      options,
      (resolved): Result.Result<ReadModelPage, InvalidReadModelQuery> => {
        const plan = planQuery(resolved.layout, q)
        if (Result.isFailure(plan)) return Result.fail(plan.failure)
        if (plan.success.matchesNothing) return Result.succeed({ items: [] })
        const { sql, params } = planSelect(resolved, plan.success)
        const rows = queryStatement(resolved, sql).all(...params) as Array<{
          id: string
          doc: string
          sort?: FieldValue
        }>
        const boolean = plan.success.order.field?.type === "boolean"
        return Result.succeed(
          pageOf(plan.success, rows, (row) => ({
            id: row.id,
            document: JSON.parse(row.doc) as JsonObject,
            sortValue:
              row.sort === undefined || row.sort === null ? null : boolean ? row.sort === 1 : row.sort,
          })),
        )
      },
    )

  const explain: SqliteReadModelStoreHandle["explain"] = (collection, q) =>
    read(
      `explain a query on ${collection}`,
      collection,
      undefined,
      (resolved): Result.Result<string, InvalidReadModelQuery> => {
        const plan = planQuery(resolved.layout, q)
        if (Result.isFailure(plan)) return Result.fail(plan.failure)
        const { sql, params } = planSelect(resolved, plan.success)
        const steps = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>
        return Result.succeed(steps.map((step) => step.detail).join("\n"))
      },
    )

  const close = Effect.sync(() => {
    if (closed) return
    closed = true
    if (db.isOpen) db.close()
  })

  const handle: SqliteReadModelStoreHandle = {
    path: config.path,
    generations,
    createGeneration,
    attach,
    activate,
    buildIndexes,
    drop,
    transact,
    get,
    getMany,
    query,
    explain,
    close,
  }
  return handle
}

/**
 * Opens (creating if needed) the file and returns the store with its `close`; the caller closes it.
 * Fails with `SqliteStoreOpenError` naming what is wrong.
 */
export const makeSqliteReadModelStore = (
  config: SqliteReadModelStoreConfig = {},
): Effect.Effect<SqliteReadModelStoreHandle, SqliteStoreOpenError> =>
  // openStore sets the file up as the event store does (WAL, its migrations), so a file of its own
  // also gets the (empty) event tables: one way to open and check a Relata file.
  openStore({ ...config, synchronous: config.synchronous ?? "NORMAL" }, (db, resolved) => build(db, resolved))

/** The store as a `ReadModelStore` service, closed when the scope closes. */
export const make = (
  config: SqliteReadModelStoreConfig = {},
): Effect.Effect<ReadModelStoreService, SqliteStoreOpenError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(makeSqliteReadModelStore(config), (handle) => handle.close),
    readModelStoreServiceOf,
  )

/** Provides `ReadModelStore` from one SQLite file; the file is closed when the layer's scope closes. */
export const layer = (
  config: SqliteReadModelStoreConfig = {},
): Layer.Layer<ReadModelStore, SqliteStoreOpenError> => Layer.effect(ReadModelStore, make(config))
