/**
 * The ReadModelStore port on PostgreSQL: in the event store's schema by default. Each collection of
 * each generation is a table with a real, indexed column per indexed field and the JSON document; a
 * registry table holds every generation's checkpoint and which one is active.
 *
 * A projection's batch commits in one transaction: it locks its generation's registry row (so the
 * expected-checkpoint check, and a concurrent switch, see one order), writes each collection's
 * documents with one multi-row statement, moves the checkpoint, commits. A switch of generations
 * locks the projection's rows and flips `active` in one transaction. Reads resolve the active
 * generation, then read its table; a switch and drop between the two makes the read resolve again.
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
  /** PostgreSQL's plan for a query on the active generation (EXPLAIN), one line per step. */
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

const build = (pool: pg.Pool, n: ReadModelNames): PostgresReadModelStoreHandle => {
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
                for (const sql of createIndexesSql(n, collection, generation)) await client.query(sql)
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
          for (const sql of createIndexesSql(n, collection, target.generation)) await client.query(sql)
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

  /** The generation and layout of the collection a read looks at. */
  const resolve = (collection: string, options: ReadOptions | undefined) =>
    Effect.flatMap(
      options?.generation === undefined
        ? run<{ generation: number; layout: string }>(
            `find the collection ${collection}`,
            `SELECT c.generation, c.layout FROM ${n.collections} c JOIN ${n.generations} g ` +
              "ON g.projection = c.projection AND g.generation = c.generation WHERE c.collection = $1 AND g.active",
            [collection],
          )
        : run<{ generation: number; layout: string }>(
            `find the collection ${collection}`,
            `SELECT generation, layout FROM ${n.collections} WHERE collection = $1 AND generation = $2`,
            [collection, options.generation],
          ),
      (result) => {
        const row = result.rows[0]
        if (row === undefined) {
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
        return Effect.succeed({ generation: row.generation, layout })
      },
    )

  /**
   * Resolves the collection, then reads it. When the table is gone in between (another process
   * switched generations and dropped the old one), resolves again.
   */
  const read = <A, E>(
    collection: string,
    options: ReadOptions | undefined,
    body: (resolved: {
      readonly generation: number
      readonly layout: CollectionLayout
    }) => Effect.Effect<A, E | ReadModelStoreError>,
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

  const get: ReadModelStoreService["get"] = (collection, id, options) =>
    read(collection, options, ({ generation }) =>
      Effect.map(
        run<{ doc: string }>(
          `read ${collection}/${id}`,
          `SELECT doc FROM ${n.table(collection, generation)} WHERE id = $1`,
          [id],
        ),
        (result) => {
          const row = result.rows[0]
          return row === undefined ? undefined : (JSON.parse(row.doc) as JsonObject)
        },
      ),
    )

  const getMany: ReadModelStoreService["getMany"] = (collection, ids, options) =>
    read(collection, options, ({ generation }) =>
      ids.length === 0
        ? Effect.succeed(new Map<string, JsonObject>())
        : loadDocuments(generation)(collection, ids),
    )

  const query = (
    collection: string,
    q: ReadModelQuery,
    options?: ReadOptions,
  ): Effect.Effect<ReadModelPage, ReadModelStoreError | CollectionNotFound | InvalidReadModelQuery> =>
    read(collection, options, ({ generation, layout }) => {
      const plan = planQuery(layout, q)
      if (Result.isFailure(plan)) return Effect.fail(plan.failure)
      if (plan.success.matchesNothing) return Effect.succeed<ReadModelPage>({ items: [] })
      const { text, values } = selectSql(n, plan.success, generation)
      return Effect.map(
        run<{ id: string; doc: string; sort?: FieldValue }>(`query ${collection}`, text, values),
        (result) =>
          pageOf(plan.success, result.rows, (row) => ({
            id: row.id,
            document: JSON.parse(row.doc) as JsonObject,
            sortValue: row.sort ?? null,
          })),
      )
    })

  const explain: PostgresReadModelStoreHandle["explain"] = (collection, q) =>
    read(collection, undefined, ({ generation, layout }) => {
      const plan = planQuery(layout, q)
      if (Result.isFailure(plan)) return Effect.fail(plan.failure)
      const { text, values } = selectSql(n, plan.success, generation)
      return Effect.map(
        run<{ "QUERY PLAN": string }>(`explain a query on ${collection}`, `EXPLAIN ${text}`, values),
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
      Effect.as(build(pool, names)),
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
