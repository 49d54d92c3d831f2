/**
 * The ReadModelStore port on PostgreSQL: in the event store's schema by default. Each collection of
 * each generation is a table with a real, indexed column per indexed field and the JSON document; a
 * registry table holds every generation's checkpoint and which one is active.
 *
 * A projection's batch commits in one transaction: it locks its generation's registry row (so the
 * expected-checkpoint check, and a concurrent switch, see one order), writes each collection's
 * documents with one multi-row statement, moves the checkpoint, commits. A switch of generations
 * locks the projection's rows and flips `active` in one transaction. A read remembers where a
 * collection lives and reads its table in the statement that asks the registry whether that is
 * still the active generation: one round trip; after a switch or a drop, it resolves again.
 *
 *   PostgresReadModelStore.layer({ connectionString: "postgresql://relata@db:5432/relata" })
 */
import { type JsonObject, StartOfStore } from "@relata/domain"
import {
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
  planQuery,
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
import type pg from "pg"
import { openStore } from "./internal/openStore.ts"
import { codeOf, describe, isTransient } from "./internal/pgErrors.ts"
import {
  createIndexesSql,
  createTableSql,
  quote,
  type ReadModelNames,
  readModelNames,
  registrySql,
  selectSql,
  upsertColumns,
  upsertSql,
} from "./internal/readModels.ts"
import type { PostgresEventStoreConfig } from "./PostgresEventStore.ts"
import { PostgresStoreOpenError } from "./PostgresStoreOpenError.ts"

/** How to reach the server: the event store's settings that apply. Only `connectionString` is required. */
export type PostgresReadModelStoreConfig = Pick<
  PostgresEventStoreConfig,
  "connectionString" | "schema" | "poolSize" | "connectTimeoutMs" | "lockTimeoutMs" | "applicationName"
>

/** The store plus what its owner needs: its schema, a query's plan, and how to close it. */
export interface PostgresReadModelStoreHandle extends ReadModelStoreService {
  /** The schema the store's tables live in. */
  readonly schema: string
  /**
   * PostgreSQL's plan for a query on the active generation, one line per step. The query runs
   * (EXPLAIN ANALYZE, without costs or timings), so a search's plan shows which of its two ways ran:
   * the other is "never executed".
   */
  readonly explain: (
    collection: string,
    query: ReadModelQuery,
  ) => Effect.Effect<string, ReadModelStoreError | CollectionNotFound | InvalidReadModelQuery>
  /** Ends the pool; later calls fail. Idempotent. */
  readonly close: Effect.Effect<void>
}

interface GenerationRow {
  readonly projection: string
  readonly generation: number
  readonly version: number
  readonly layout: string
  /** bigint arrives as a decimal string. */
  readonly checkpoint: string
  readonly active: boolean
  readonly dropped: boolean
}

const toGeneration = (row: GenerationRow): Generation => ({
  projection: row.projection,
  generation: row.generation,
  version: row.version,
  checkpoint: BigInt(row.checkpoint),
  active: row.active,
})

const UNDEFINED_TABLE = "42P01"

/** A failure inside a transaction that the caller reports as is (not a database error). */
class Rejected<E> {
  readonly error: E
  constructor(error: E) {
    this.error = error
  }
}

/**
 * `trigramOps`: pg_trgm's GIN operator class, schema-qualified, or undefined when the extension is
 * missing (searches are then scans).
 */
const build = (
  pool: pg.Pool,
  n: ReadModelNames,
  trigramOps: string | undefined,
): PostgresReadModelStoreHandle => {
  const attached = new Map<string, ReadonlyMap<string, CompiledCollection>>()
  const layouts = new Map<string, CollectionLayout>()
  let closed = false

  const keyOf = (target: GenerationRef): string => `${target.projection}\u0000${target.generation}`

  const failure = (action: string, cause: unknown): ReadModelStoreError =>
    closed
      ? new ReadModelStoreError({ reason: `${action}: the store is closed`, retryable: false, cause })
      : new ReadModelStoreError({
          reason: `${action}: ${describe(cause)}`,
          retryable: isTransient(cause),
          cause,
        })

  const invalid = (reason: string) => new ReadModelStoreError({ reason, retryable: false })

  const noGeneration = (target: GenerationRef) =>
    invalid(`projection ${target.projection} has no generation ${target.generation}`)

  /**
   * Runs `body` in a transaction on one connection; it answers a value or throws `Rejected` to roll
   * back with a typed failure. Uninterruptible: once begun, the transaction commits or rolls back.
   */
  const inTransaction = <A, E = never>(
    action: string,
    body: (client: pg.PoolClient) => Promise<A>,
  ): Effect.Effect<A, E | ReadModelStoreError> =>
    Effect.uninterruptible(
      Effect.flatMap(
        Effect.tryPromise({
          try: async (): Promise<Result.Result<A, E>> => {
            const client = await pool.connect()
            try {
              await client.query("BEGIN")
              try {
                const result = await body(client)
                await client.query("COMMIT")
                return Result.succeed(result)
              } catch (error) {
                await client.query("ROLLBACK").catch(() => undefined)
                if (error instanceof Rejected) return Result.fail(error.error as E)
                throw error
              }
            } finally {
              client.release()
            }
          },
          catch: (cause) => failure(action, cause),
        }),
        (result) => (Result.isFailure(result) ? Effect.fail(result.failure) : Effect.succeed(result.success)),
      ),
    )

  const run = <R extends pg.QueryResultRow>(
    action: string,
    text: string,
    values: ReadonlyArray<unknown> = [],
  ) =>
    Effect.tryPromise({
      try: () => pool.query<R>(text, values as Array<unknown>),
      catch: (cause) => failure(action, cause),
    })

  const checkedLayout = (
    definition: ReadModelDefinition,
  ): Result.Result<ReadModelLayout, ReadModelStoreError> => Result.mapError(layoutOf(definition), invalid)

  const generationColumns =
    "projection, generation, version, layout, checkpoint::text AS checkpoint, active, dropped"

  const generations: ReadModelStoreService["generations"] = (projection) =>
    Effect.map(
      run<GenerationRow & pg.QueryResultRow>(
        `list the generations of ${projection}`,
        `SELECT ${generationColumns} FROM ${n.generations} WHERE projection = $1 AND NOT dropped ORDER BY generation`,
        [projection],
      ),
      (result) => result.rows.map(toGeneration),
    )

  const lockRows = async (client: pg.PoolClient, projection: string): Promise<ReadonlyArray<GenerationRow>> =>
    (
      await client.query<GenerationRow & pg.QueryResultRow>(
        `SELECT ${generationColumns} FROM ${n.generations} WHERE projection = $1 ORDER BY generation FOR UPDATE`,
        [projection],
      )
    ).rows

  const createGeneration: ReadModelStoreService["createGeneration"] = (definition, options) =>
    Effect.suspend(() => {
      const layout = checkedLayout(definition)
      if (Result.isFailure(layout)) return Effect.fail(layout.failure)
      return Effect.map(
        inTransaction<number, ReadModelStoreError>(
          `create a generation of ${definition.name}`,
          async (client) => {
            await client.query("SELECT pg_advisory_xact_lock($1, $2)", [...n.registryLock])
            const names = layout.success.collections.map((c) => c.name)
            const owned = await client.query<{ collection: string; projection: string }>(
              `SELECT collection, projection FROM ${n.collections} WHERE collection = ANY($1::text[]) AND projection <> $2 LIMIT 1`,
              [names, definition.name],
            )
            const owner = owned.rows[0]
            if (owner !== undefined) {
              throw new Rejected(
                invalid(`the collection ${owner.collection} belongs to the projection ${owner.projection}`),
              )
            }
            const next = await client.query<{ next: number }>(
              `SELECT coalesce(max(generation), 0) + 1 AS next FROM ${n.generations} WHERE projection = $1`,
              [definition.name],
            )
            const generation = Number(next.rows[0]?.next ?? 1)
            await client.query(
              `INSERT INTO ${n.generations} (projection, generation, version, layout) VALUES ($1, $2, $3, $4)`,
              [definition.name, generation, definition.version, JSON.stringify(layout.success)],
            )
            for (const collection of layout.success.collections) {
              await client.query(createTableSql(n, collection, generation))
              if (options?.deferIndexes !== true) {
                for (const sql of createIndexesSql(n, collection, generation, trigramOps)) {
                  await client.query(sql)
                }
              }
              await client.query(
                `INSERT INTO ${n.collections} (collection, generation, projection, layout) VALUES ($1, $2, $3, $4)`,
                [collection.name, generation, definition.name, JSON.stringify(collection)],
              )
            }
            return generation
          },
        ),
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

  const attach: ReadModelStoreService["attach"] = (definition, generation) =>
    Effect.gen(function* () {
      const layout = checkedLayout(definition)
      if (Result.isFailure(layout)) return yield* layout.failure
      const result = yield* run<GenerationRow & pg.QueryResultRow>(
        `attach generation ${generation} of ${definition.name}`,
        `SELECT ${generationColumns} FROM ${n.generations} WHERE projection = $1 AND generation = $2 AND NOT dropped`,
        [definition.name, generation],
      )
      const row = result.rows[0]
      if (row === undefined) return yield* noGeneration({ projection: definition.name, generation })
      if (!sameLayout(JSON.parse(row.layout) as ReadModelLayout, layout.success)) {
        return yield* invalid(
          `projection ${definition.name} generation ${generation} was built by version ${row.version} with other collections; a changed read model needs a new version`,
        )
      }
      attached.set(
        keyOf({ projection: definition.name, generation }),
        compileReadModel(definition, layout.success),
      )
      return toGeneration(row)
    })

  const activate: ReadModelStoreService["activate"] = (target, options) =>
    inTransaction<boolean, ReadModelStoreError>(
      `activate generation ${target.generation} of ${target.projection}`,
      async (client) => {
        const rows = await lockRows(client, target.projection)
        const row = rows.find((r) => r.generation === target.generation && !r.dropped)
        if (row === undefined) throw new Rejected(noGeneration(target))
        const current = rows.find((r) => r.active)
        if (
          options?.ifCaughtUp === true &&
          current !== undefined &&
          current.generation !== target.generation &&
          BigInt(row.checkpoint) < BigInt(current.checkpoint)
        ) {
          return false
        }
        await client.query(`UPDATE ${n.generations} SET active = false WHERE projection = $1 AND active`, [
          target.projection,
        ])
        await client.query(
          `UPDATE ${n.generations} SET active = true WHERE projection = $1 AND generation = $2`,
          [target.projection, target.generation],
        )
        return true
      },
    )

  const buildIndexes: ReadModelStoreService["buildIndexes"] = (target) =>
    inTransaction<void, ReadModelStoreError>(
      `build the indexes of generation ${target.generation} of ${target.projection}`,
      async (client) => {
        // Only this generation's registry row is locked: no drop of it (drop locks every row of the
        // projection) nor a second build interleaves, while the live generation's batches, which lock
        // their own row, go on committing during a long build.
        const row = (
          await client.query<GenerationRow & pg.QueryResultRow>(
            `SELECT ${generationColumns} FROM ${n.generations} WHERE projection = $1 AND generation = $2 FOR UPDATE`,
            [target.projection, target.generation],
          )
        ).rows[0]
        if (row === undefined || row.dropped) throw new Rejected(noGeneration(target))
        for (const collection of (JSON.parse(row.layout) as ReadModelLayout).collections) {
          for (const sql of createIndexesSql(n, collection, target.generation, trigramOps)) {
            await client.query(sql)
          }
        }
      },
    )

  const drop: ReadModelStoreService["drop"] = (target) =>
    Effect.asVoid(
      Effect.tap(
        inTransaction<ReadonlyArray<string>, ReadModelStoreError>(
          `drop generation ${target.generation} of ${target.projection}`,
          async (client) => {
            const rows = await lockRows(client, target.projection)
            const row = rows.find((r) => r.generation === target.generation && !r.dropped)
            if (row === undefined) return []
            if (row.active) {
              throw new Rejected(
                invalid(
                  `generation ${target.generation} of ${target.projection} is active and cannot be dropped`,
                ),
              )
            }
            const collections = (
              await client.query<{ collection: string }>(
                `SELECT collection FROM ${n.collections} WHERE projection = $1 AND generation = $2`,
                [target.projection, target.generation],
              )
            ).rows.map((r) => r.collection)
            for (const collection of collections) {
              await client.query(`DROP TABLE IF EXISTS ${n.table(collection, target.generation)}`)
            }
            await client.query(`DELETE FROM ${n.collections} WHERE projection = $1 AND generation = $2`, [
              target.projection,
              target.generation,
            ])
            await client.query(
              `UPDATE ${n.generations} SET dropped = true, active = false WHERE projection = $1 AND generation = $2`,
              [target.projection, target.generation],
            )
            return collections
          },
        ),
        (collections) =>
          Effect.sync(() => {
            attached.delete(keyOf(target))
            for (const collection of collections) layouts.delete(`${collection}\u0000${target.generation}`)
          }),
      ),
    )

  const loadDocuments = (generation: number) => (collection: string, ids: ReadonlyArray<string>) =>
    Effect.map(
      run<{ id: string; doc: string }>(
        `load documents of ${collection}`,
        `SELECT id, doc FROM ${n.table(collection, generation)} WHERE id = ANY($1::text[])`,
        [ids],
      ),
      (result) => {
        const found = new Map<string, JsonObject>()
        for (const row of result.rows) found.set(row.id, JSON.parse(row.doc) as JsonObject)
        return found
      },
    )

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
        const upserts = list.flatMap((write) =>
          write.document === undefined
            ? []
            : [
                {
                  id: write.id,
                  doc: JSON.stringify(write.document),
                  search: write.search,
                  fields: write.fields,
                },
              ],
        )
        const deletes = list.filter((write) => write.document === undefined).map((write) => write.id)
        return { layout, upserts, deletes }
      })
      const checkpoint = buffer.checkpoint()
      return inTransaction<void, ReadModelStoreError | CheckpointConflict>(
        `commit to generation ${target.generation} of ${target.projection}`,
        async (client) => {
          const locked = await client.query<{ checkpoint: string; dropped: boolean }>(
            `SELECT checkpoint::text AS checkpoint, dropped FROM ${n.generations} WHERE projection = $1 AND generation = $2 FOR UPDATE`,
            [target.projection, target.generation],
          )
          const row = locked.rows[0]
          if (row === undefined || row.dropped) throw new Rejected(noGeneration(target))
          const expected = options?.expectedCheckpoint
          if (expected !== undefined && expected !== BigInt(row.checkpoint)) {
            throw new Rejected(
              new CheckpointConflict({ ...target, expected, actual: BigInt(row.checkpoint) }),
            )
          }
          for (const { layout, upserts, deletes } of writes) {
            if (deletes.length > 0) {
              await client.query(
                `DELETE FROM ${n.table(layout.name, target.generation)} WHERE id = ANY($1::text[])`,
                [deletes],
              )
            }
            if (upserts.length > 0) {
              await client.query(
                upsertSql(n, layout, target.generation),
                upsertColumns(layout, upserts) as Array<unknown>,
              )
            }
          }
          if (checkpoint !== undefined) {
            await client.query(
              `UPDATE ${n.generations} SET checkpoint = $1 WHERE projection = $2 AND generation = $3`,
              [checkpoint.toString(), target.projection, target.generation],
            )
          }
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
      const buffer = makeTransactionBuffer(compiled, loadDocuments(target.generation))
      return Effect.flatMap(body(buffer.tx), (result) =>
        Effect.as(flush(target, compiled, buffer, options), result),
      )
    })

  /** Where a read looks: the collection's generation, the projection that owns it, and its layout. */
  interface Resolved {
    readonly projection: string
    readonly generation: number
    readonly layout: CollectionLayout
  }

  /**
   * The last resolution per collection (and per pinned generation). A read never trusts it alone: the
   * statement that reads the documents also asks the registry whether it still holds (see `readConfirmed`).
   */
  const resolutions = new Map<string, Resolved>()

  const resolutionKey = (collection: string, options: ReadOptions | undefined): string =>
    options?.generation === undefined ? collection : `${collection}\u0000${options.generation}`

  /** The generation and layout of the collection a read looks at, from the registry; remembered for later reads. */
  const resolve = (collection: string, options: ReadOptions | undefined) =>
    Effect.flatMap(
      options?.generation === undefined
        ? run<{ projection: string; generation: number; layout: string }>(
            `find the collection ${collection}`,
            `SELECT c.projection, c.generation, c.layout FROM ${n.collections} c JOIN ${n.generations} g ` +
              "ON g.projection = c.projection AND g.generation = c.generation WHERE c.collection = $1 AND g.active",
            [collection],
          )
        : run<{ projection: string; generation: number; layout: string }>(
            `find the collection ${collection}`,
            `SELECT projection, generation, layout FROM ${n.collections} WHERE collection = $1 AND generation = $2`,
            [collection, options.generation],
          ),
      (result) => {
        const row = result.rows[0]
        if (row === undefined) {
          resolutions.delete(resolutionKey(collection, options))
          return Effect.fail(
            new CollectionNotFound(
              options?.generation === undefined
                ? { collection }
                : { collection, generation: options.generation },
            ),
          )
        }
        const key = `${collection}\u0000${row.generation}`
        let layout = layouts.get(key)
        if (layout === undefined) {
          layout = JSON.parse(row.layout) as CollectionLayout
          layouts.set(key, layout)
        }
        const resolved: Resolved = { projection: row.projection, generation: row.generation, layout }
        resolutions.set(resolutionKey(collection, options), resolved)
        return Effect.succeed(resolved)
      },
    )

  /**
   * Resolves the collection, then reads it: two round trips, for `explain`. When the table is gone in
   * between (another process switched generations and dropped the old one), resolves again.
   */
  const read = <A, E>(
    collection: string,
    options: ReadOptions | undefined,
    body: (resolved: Resolved) => Effect.Effect<A, E | ReadModelStoreError>,
    attempts = 3,
  ): Effect.Effect<A, E | ReadModelStoreError | CollectionNotFound> =>
    Effect.flatMap(resolve(collection, options), (resolved) =>
      body(resolved).pipe(
        Effect.catchIf(
          (error): error is ReadModelStoreError =>
            attempts > 1 && error instanceof ReadModelStoreError && codeOf(error.cause) === UNDEFINED_TABLE,
          () => read(collection, options, body, attempts - 1),
        ),
      ),
    )

  /** A read's statement on a resolved collection, and how its rows answer. */
  interface ReadStatement<A, E> {
    readonly action: string
    /** Selects `id` and `doc` (and whatever `answer` needs); its parameters are `$1..$n` of `values`. */
    readonly text: string
    readonly values: ReadonlyArray<unknown>
    /** Fixed SQL on a hot path: prepared once per connection (not for queries, planned with their values). */
    readonly prepared: boolean
    /** The rows' order restated over the statement's columns (`s.id`, `s.sort`), when they have one. */
    readonly order?: string
    readonly answer: (
      rows: ReadonlyArray<{ readonly id: string; readonly doc: string }>,
    ) => Effect.Effect<A, E>
  }

  /** A statement that reads nothing: confirms the resolution when the answer needs no document. */
  const readsNothing = "SELECT NULL::text AS id, NULL::text AS doc WHERE false"

  const statementNames = new Map<string, string>()

  /** A short name per statement text (the server cuts names at 63 bytes; tables' names are long). */
  const statementName = (text: string): string => {
    let name = statementNames.get(text)
    if (name === undefined) {
      name = `relata_rm_${statementNames.size + 1}`
      statementNames.set(text, name)
    }
    return name
  }

  /**
   * Runs `statement` with, in the same statement, the registry's word on whether `resolved` still
   * holds: for a read of the active generation, that the resolved generation is still its
   * projection's active one; for a pinned generation, that it still holds the collection. One
   * statement reads under one snapshot, so the documents count only if that generation was the
   * active one when they were read: a switch committed before the read began is always seen.
   */
  const confirmed = <A, E>(
    collection: string,
    options: ReadOptions | undefined,
    resolved: Resolved,
    statement: ReadStatement<A, E>,
  ) => {
    const k = statement.values.length
    // The generation's collections come and go with it: while it is active, it holds the collection.
    const check =
      options?.generation === undefined
        ? `SELECT 1 FROM ${n.generations} WHERE projection = $${k + 1} AND generation = $${k + 2} AND active`
        : `SELECT 1 FROM ${n.collections} WHERE projection = $${k + 1} AND generation = $${k + 2} AND collection = $${k + 3}`
    // ON true over the one registry row; the read's order is restated outside, as SQL keeps no
    // subquery's order by itself.
    const text = `SELECT r.fresh, s.* FROM (SELECT EXISTS (${check}) AS fresh) r LEFT JOIN LATERAL (${statement.text}) s ON true${statement.order ?? ""}`
    const values = [
      ...statement.values,
      resolved.projection,
      resolved.generation,
      ...(options?.generation === undefined ? [] : [collection]),
    ]
    return Effect.tryPromise({
      try: () =>
        pool.query<{ fresh: boolean; id: string | null; doc: string | null }>(
          statement.prepared ? { name: statementName(text), text, values } : { text, values },
        ),
      catch: (cause) => failure(statement.action, cause),
    })
  }

  /**
   * Reads with the resolution remembered from an earlier read, confirmed in the same statement: one
   * round trip. When the registry says it no longer holds (a switch of generations, from any
   * process) or its table is gone (dropped after a switch), resolves again and rereads.
   */
  const readConfirmed = <A, E>(
    collection: string,
    options: ReadOptions | undefined,
    statementOn: (resolved: Resolved) => ReadStatement<A, E>,
  ): Effect.Effect<A, E | ReadModelStoreError | CollectionNotFound> =>
    Effect.gen(function* () {
      const key = resolutionKey(collection, options)
      // Rereads on a fresh resolution; one from memory does not count (it is expected to go stale).
      let rereads = 3
      for (;;) {
        const remembered = resolutions.get(key)
        const resolved = remembered ?? (yield* resolve(collection, options))
        const statement = statementOn(resolved)
        const result = yield* Effect.result(confirmed(collection, options, resolved, statement))
        if (Result.isSuccess(result) && result.success.rows[0]?.fresh === true) {
          return yield* statement.answer(
            result.success.rows.filter(
              (row): row is { fresh: boolean; id: string; doc: string } => row.id !== null,
            ),
          )
        }
        const gone = Result.isFailure(result) && codeOf(result.failure.cause) === UNDEFINED_TABLE
        if (Result.isFailure(result) && !gone) return yield* result.failure
        resolutions.delete(key)
        if (remembered === undefined && --rereads === 0) {
          return yield* Result.isFailure(result)
            ? result.failure
            : new ReadModelStoreError({
                reason: `${statement.action}: the active generation changed during every attempt`,
                retryable: true,
              })
        }
      }
    })

  const get: ReadModelStoreService["get"] = (collection, id, options) =>
    readConfirmed(collection, options, ({ generation }) => ({
      action: `read ${collection}/${id}`,
      text: `SELECT id, doc FROM ${n.table(collection, generation)} WHERE id = $1`,
      values: [id],
      prepared: true,
      answer: (rows) =>
        Effect.succeed(rows[0] === undefined ? undefined : (JSON.parse(rows[0].doc) as JsonObject)),
    }))

  const getMany: ReadModelStoreService["getMany"] = (collection, ids, options) =>
    readConfirmed(collection, options, ({ generation }) => ({
      action: `load documents of ${collection}`,
      text: `SELECT id, doc FROM ${n.table(collection, generation)} WHERE id = ANY($1::text[])`,
      values: [ids],
      prepared: true,
      answer: (rows) => {
        const found = new Map<string, JsonObject>()
        for (const row of rows) found.set(row.id, JSON.parse(row.doc) as JsonObject)
        return Effect.succeed(found)
      },
    }))

  const query = (
    collection: string,
    q: ReadModelQuery,
    options?: ReadOptions,
  ): Effect.Effect<ReadModelPage, ReadModelStoreError | CollectionNotFound | InvalidReadModelQuery> =>
    readConfirmed(collection, options, ({ generation, layout }) => {
      const action = `query ${collection}`
      const plan = planQuery(layout, q)
      // A query the layout rejects, or that matches nothing, still confirms the layout it was judged by.
      if (Result.isFailure(plan) || plan.success.matchesNothing) {
        return {
          action,
          text: readsNothing,
          values: [],
          prepared: true,
          answer: () =>
            Result.isFailure(plan) ? Effect.fail(plan.failure) : Effect.succeed<ReadModelPage>({ items: [] }),
        }
      }
      const { text, values, outerOrder } = selectSql(n, plan.success, generation, {
        trigramIndex: trigramOps !== undefined,
      })
      return {
        action,
        text,
        values,
        prepared: false,
        order: outerOrder,
        answer: (rows) =>
          Effect.succeed(
            pageOf(
              plan.success,
              rows as ReadonlyArray<{ id: string; doc: string; sort?: FieldValue }>,
              (row) => ({
                id: row.id,
                document: JSON.parse(row.doc) as JsonObject,
                sortValue: row.sort ?? null,
              }),
            ),
          ),
      }
    })

  const explain: PostgresReadModelStoreHandle["explain"] = (collection, q) =>
    read(collection, undefined, ({ generation, layout }) => {
      const plan = planQuery(layout, q)
      if (Result.isFailure(plan)) return Effect.fail(plan.failure)
      const { text, values } = selectSql(n, plan.success, generation, {
        trigramIndex: trigramOps !== undefined,
      })
      return Effect.map(
        run<{ "QUERY PLAN": string }>(
          `explain a query on ${collection}`,
          `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${text}`,
          values,
        ),
        (result) => result.rows.map((row) => row["QUERY PLAN"]).join("\n"),
      )
    })

  const close = Effect.promise(async () => {
    closed = true
    if (!pool.ending) await pool.end().catch(() => undefined)
  })

  return {
    schema: n.schema,
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
}

/** Creates the registry tables if they are missing, under the registry lock. */
const createRegistry = (pool: pg.Pool, n: ReadModelNames) =>
  Effect.tryPromise({
    try: async () => {
      const client = await pool.connect()
      try {
        await client.query("BEGIN")
        await client.query("SELECT pg_advisory_xact_lock($1, $2)", [...n.registryLock])
        await client.query(registrySql(n))
        await client.query("COMMIT")
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined)
        throw error
      } finally {
        client.release()
      }
    },
    catch: (cause) => cause,
  })

const trigramOpsSql =
  "SELECT quote_ident(n.nspname) || '.gin_trgm_ops' AS ops FROM pg_extension e " +
  "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"

/**
 * pg_trgm's GIN operator class, schema-qualified, installing the extension when it is missing and
 * the role may (it is a trusted extension: the database's owner may); otherwise undefined, with a
 * warning, and searches scan the collection (decision 0017).
 */
const trigramOpsOf = (pool: pg.Pool) =>
  Effect.gen(function* () {
    const installed = () =>
      Effect.map(
        Effect.tryPromise({ try: () => pool.query<{ ops: string }>(trigramOpsSql), catch: (cause) => cause }),
        (result) => result.rows[0]?.ops,
      )
    const ops = yield* installed()
    if (ops !== undefined) return ops
    const created = yield* Effect.result(
      Effect.tryPromise({
        try: () => pool.query("CREATE EXTENSION IF NOT EXISTS pg_trgm"),
        catch: (cause) => cause,
      }),
    )
    // Another store may have created it at the same instant (CREATE EXTENSION then fails on its unique name).
    const after = yield* installed()
    if (after === undefined && Result.isFailure(created)) {
      yield* Effect.logWarning(
        `pg_trgm is not installed and cannot be created (${describe(created.failure)}): read-model ` +
          "searches scan their collections until it is and the read models are rebuilt (decision 0017)",
      )
    }
    return after
  })

/**
 * Connects, checks the server, brings the schema to the latest version (the event store's tables
 * included) and creates the read-model registry, then returns the store with its `close`; the
 * caller closes it. Fails fast with `PostgresStoreOpenError`.
 */
export const makePostgresReadModelStore = (
  config: PostgresReadModelStoreConfig,
): Effect.Effect<PostgresReadModelStoreHandle, PostgresStoreOpenError> =>
  Effect.flatMap(openStore(config), ({ pool, config: resolved }) => {
    const names = readModelNames(resolved.schema)
    return createRegistry(pool, names).pipe(
      Effect.andThen(trigramOpsOf(pool)),
      Effect.map((trigramOps) => build(pool, names, trigramOps)),
      Effect.catch((cause) =>
        Effect.promise(() => pool.end().catch(() => undefined)).pipe(
          Effect.andThen(
            Effect.fail(
              new PostgresStoreOpenError({
                ...resolved.connection.target,
                reason: `cannot create the read-model tables in schema ${quote(resolved.schema)}: ${describe(cause)}`,
                retryable: isTransient(cause),
                cause,
              }),
            ),
          ),
        ),
      ),
    )
  })

/** The store, closed when the scope closes. */
export const make = (
  config: PostgresReadModelStoreConfig,
): Effect.Effect<PostgresReadModelStoreHandle, PostgresStoreOpenError, Scope.Scope> =>
  Effect.acquireRelease(makePostgresReadModelStore(config), (handle) => handle.close)

/** Provides `ReadModelStore` from PostgreSQL; the pool is ended when the layer's scope closes. */
export const layer = (
  config: PostgresReadModelStoreConfig,
): Layer.Layer<ReadModelStore, PostgresStoreOpenError> =>
  Layer.effect(ReadModelStore, Effect.map(make(config), readModelStoreServiceOf))
