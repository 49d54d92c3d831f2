/**
 * The ReadModelStore port in memory: a fake for tests and for embedding without a database. Every
 * call runs synchronously on plain maps, so a commit (documents plus checkpoint) and a switch of
 * generations are atomic. Queries scan and sort the collection: fine for a fake, not for a million
 * documents.
 */
import type { GlobalPosition, JsonObject } from "@relata/domain"
import { deepFreeze, StartOfStore } from "@relata/domain"
import { Effect, Layer, Result } from "effect"
import {
  type CollectionLayout,
  type CompiledCollection,
  compileReadModel,
  layoutOf,
  type ReadModelLayout,
  sameLayout,
} from "./CollectionLayout.ts"
import {
  compareEntries,
  entryMatches,
  type IndexedEntry,
  isAfterCursor,
  pageOf,
  planQuery,
} from "./QueryPlan.ts"
import {
  CheckpointConflict,
  CollectionNotFound,
  type FieldValue,
  type Generation,
  type GenerationRef,
  type InvalidReadModelQuery,
  type ReadModelDefinition,
  type ReadModelPage,
  ReadModelStore,
  ReadModelStoreError,
  type ReadModelStoreService,
  type ReadModelTransaction,
  type ReadOptions,
  type TransactOptions,
} from "./ReadModelStore.ts"
import { makeTransactionBuffer } from "./TransactionBuffer.ts"

interface StoredDocument extends IndexedEntry {
  readonly document: JsonObject
  readonly fields: ReadonlyArray<FieldValue>
}

interface StoredGeneration {
  readonly projection: string
  readonly generation: number
  readonly version: number
  readonly layout: ReadModelLayout
  checkpoint: GlobalPosition
  readonly collections: Map<string, Map<string, StoredDocument>>
  /** Set once the generation is attached (or created) by this instance: what writes need. */
  compiled: ReadonlyMap<string, CompiledCollection> | undefined
}

/** What a real adapter would give back: a JSON round trip, frozen so no reader or writer can change it. */
const stored = (document: JsonObject): JsonObject =>
  deepFreeze(JSON.parse(JSON.stringify(document)) as JsonObject)

const failure = (reason: string): ReadModelStoreError => new ReadModelStoreError({ reason, retryable: false })

/** A new, empty in-memory read-model store. */
export const makeInMemoryReadModelStore = (): ReadModelStoreService => {
  const generationsByProjection = new Map<string, Array<StoredGeneration>>()
  const active = new Map<string, number>()
  // Generation numbers are never reused, not even after a drop: a number names one build only.
  const lastGeneration = new Map<string, number>()

  const generationsOf = (projection: string): Array<StoredGeneration> => {
    let list = generationsByProjection.get(projection)
    if (list === undefined) {
      list = []
      generationsByProjection.set(projection, list)
    }
    return list
  }

  const find = (target: GenerationRef): StoredGeneration | undefined =>
    generationsByProjection.get(target.projection)?.find((g) => g.generation === target.generation)

  const describe = (g: StoredGeneration): Generation => ({
    projection: g.projection,
    generation: g.generation,
    version: g.version,
    checkpoint: g.checkpoint,
    active: active.get(g.projection) === g.generation,
  })

  const ownerOf = (collection: string): string | undefined => {
    for (const [projection, list] of generationsByProjection) {
      if (list.some((g) => g.collections.has(collection))) return projection
    }
    return undefined
  }

  const checkedLayout = (
    definition: ReadModelDefinition,
  ): Result.Result<ReadModelLayout, ReadModelStoreError> => Result.mapError(layoutOf(definition), failure)

  const createGeneration = (definition: ReadModelDefinition) =>
    Effect.suspend(() => {
      const layout = checkedLayout(definition)
      if (Result.isFailure(layout)) return Effect.fail(layout.failure)
      for (const collection of layout.success.collections) {
        const owner = ownerOf(collection.name)
        if (owner !== undefined && owner !== definition.name) {
          return Effect.fail(failure(`the collection ${collection.name} belongs to the projection ${owner}`))
        }
      }
      const list = generationsOf(definition.name)
      const number = (lastGeneration.get(definition.name) ?? 0) + 1
      lastGeneration.set(definition.name, number)
      const generation: StoredGeneration = {
        projection: definition.name,
        generation: number,
        version: definition.version,
        layout: layout.success,
        checkpoint: StartOfStore,
        collections: new Map(layout.success.collections.map((c) => [c.name, new Map()])),
        compiled: compileReadModel(definition, layout.success),
      }
      list.push(generation)
      return Effect.succeed(describe(generation))
    })

  const attach = (definition: ReadModelDefinition, generation: number) =>
    Effect.suspend(() => {
      const layout = checkedLayout(definition)
      if (Result.isFailure(layout)) return Effect.fail(layout.failure)
      const stored = find({ projection: definition.name, generation })
      if (stored === undefined) {
        return Effect.fail(failure(`projection ${definition.name} has no generation ${generation}`))
      }
      if (!sameLayout(stored.layout, layout.success)) {
        return Effect.fail(
          failure(
            `projection ${definition.name} generation ${generation} was built by version ${stored.version} with other collections; a changed read model needs a new version`,
          ),
        )
      }
      stored.compiled = compileReadModel(definition, layout.success)
      return Effect.succeed(describe(stored))
    })

  const activate: ReadModelStoreService["activate"] = (target, options) =>
    Effect.suspend(() => {
      const generation = find(target)
      if (generation === undefined) {
        return Effect.fail(failure(`projection ${target.projection} has no generation ${target.generation}`))
      }
      const current = active.get(target.projection)
      if (options?.ifCaughtUp === true && current !== undefined && current !== target.generation) {
        const served = find({ projection: target.projection, generation: current })
        if (served !== undefined && generation.checkpoint < served.checkpoint) return Effect.succeed(false)
      }
      active.set(target.projection, target.generation)
      return Effect.succeed(true)
    })

  // Queries scan the documents here, so there are no indexes to defer or build.
  const buildIndexes: ReadModelStoreService["buildIndexes"] = (target) =>
    find(target) === undefined
      ? Effect.fail(failure(`projection ${target.projection} has no generation ${target.generation}`))
      : Effect.void

  const drop: ReadModelStoreService["drop"] = (target) =>
    Effect.suspend(() => {
      if (active.get(target.projection) === target.generation) {
        return Effect.fail(
          failure(`generation ${target.generation} of ${target.projection} is active and cannot be dropped`),
        )
      }
      const list = generationsByProjection.get(target.projection)
      if (list !== undefined) {
        const index = list.findIndex((g) => g.generation === target.generation)
        if (index >= 0) list.splice(index, 1)
      }
      return Effect.void
    })

  const transact: ReadModelStoreService["transact"] = <A, E, R>(
    target: GenerationRef,
    body: (tx: ReadModelTransaction) => Effect.Effect<A, E, R>,
    options?: TransactOptions,
  ) =>
    Effect.suspend((): Effect.Effect<A, E | ReadModelStoreError | CheckpointConflict, R> => {
      const generation = find(target)
      if (generation?.compiled === undefined) {
        return Effect.fail(
          failure(
            generation === undefined
              ? `projection ${target.projection} has no generation ${target.generation}`
              : `generation ${target.generation} of ${target.projection} is not attached to this store`,
          ),
        )
      }
      const buffer = makeTransactionBuffer(generation.compiled, (collection, ids) =>
        Effect.sync(() => {
          const documents = generation.collections.get(collection)
          const found = new Map<string, JsonObject>()
          for (const id of ids) {
            const document = documents?.get(id)?.document
            if (document !== undefined) found.set(id, document)
          }
          return found
        }),
      )
      return Effect.flatMap(body(buffer.tx), (result) =>
        Effect.suspend((): Effect.Effect<A, ReadModelStoreError | CheckpointConflict> => {
          if (find(target) !== generation)
            return Effect.fail(failure(`generation ${target.generation} of ${target.projection} was dropped`))
          const expected = options?.expectedCheckpoint
          if (expected !== undefined && expected !== generation.checkpoint) {
            return Effect.fail(new CheckpointConflict({ ...target, expected, actual: generation.checkpoint }))
          }
          // Copy everything before changing anything: a document JSON rejects leaves no trace.
          const writes = [...buffer.writes()].map(
            ([collection, list]) =>
              [
                generation.collections.get(collection) as Map<string, StoredDocument>,
                list.map((write) => ({
                  ...write,
                  document: write.document === undefined ? undefined : stored(write.document),
                })),
              ] as const,
          )
          for (const [documents, list] of writes) {
            for (const write of list) {
              if (write.document === undefined) documents.delete(write.id)
              else
                documents.set(write.id, {
                  id: write.id,
                  document: write.document,
                  fields: write.fields,
                  search: write.search,
                })
            }
          }
          const checkpoint = buffer.checkpoint()
          if (checkpoint !== undefined) generation.checkpoint = checkpoint
          return Effect.succeed(result)
        }),
      )
    })

  /** The collection's documents and layout in the generation a read looks at. */
  const resolve = (
    collection: string,
    options: ReadOptions | undefined,
  ): Result.Result<
    { documents: Map<string, StoredDocument>; layout: CollectionLayout },
    CollectionNotFound
  > => {
    const notFound = () =>
      Result.fail(
        new CollectionNotFound(
          options?.generation === undefined ? { collection } : { collection, generation: options.generation },
        ),
      )
    const projection = ownerOf(collection)
    if (projection === undefined) return notFound()
    const generationNumber = options?.generation ?? active.get(projection)
    const generation =
      generationNumber === undefined ? undefined : find({ projection, generation: generationNumber })
    const documents = generation?.collections.get(collection)
    const layout = generation?.layout.collections.find((c) => c.name === collection)
    return documents === undefined || layout === undefined
      ? notFound()
      : Result.succeed({ documents, layout })
  }

  const get: ReadModelStoreService["get"] = (collection, id, options) =>
    Effect.suspend(() => {
      const resolved = resolve(collection, options)
      return Result.isFailure(resolved)
        ? Effect.fail(resolved.failure)
        : Effect.succeed(resolved.success.documents.get(id)?.document)
    })

  const getMany: ReadModelStoreService["getMany"] = (collection, ids, options) =>
    Effect.suspend(() => {
      const resolved = resolve(collection, options)
      if (Result.isFailure(resolved)) return Effect.fail(resolved.failure)
      const found = new Map<string, JsonObject>()
      for (const id of ids) {
        const document = resolved.success.documents.get(id)?.document
        if (document !== undefined) found.set(id, document)
      }
      return Effect.succeed(found)
    })

  const query: ReadModelStoreService["query"] = (collection, q, options) =>
    Effect.suspend((): Effect.Effect<ReadModelPage, CollectionNotFound | InvalidReadModelQuery> => {
      const resolved = resolve(collection, options)
      if (Result.isFailure(resolved)) return Effect.fail(resolved.failure)
      const plan = planQuery(resolved.success.layout, q)
      if (Result.isFailure(plan)) return Effect.fail(plan.failure)
      if (plan.success.matchesNothing) return Effect.succeed({ items: [] })
      const matches: Array<StoredDocument> = []
      for (const entry of resolved.success.documents.values()) {
        if (entryMatches(plan.success, entry) && isAfterCursor(plan.success, entry)) matches.push(entry)
      }
      matches.sort(compareEntries(plan.success))
      const field = plan.success.order.field
      return Effect.succeed(
        pageOf(plan.success, matches.slice(0, plan.success.limit + 1), (entry) => ({
          id: entry.id,
          document: entry.document,
          sortValue: field === undefined ? null : (entry.fields[field.index] ?? null),
        })),
      )
    })

  return {
    generations: (projection) =>
      Effect.sync(() =>
        [...(generationsByProjection.get(projection) ?? [])]
          .sort((a, b) => a.generation - b.generation)
          .map(describe),
      ),
    createGeneration,
    attach,
    activate,
    buildIndexes,
    drop,
    transact,
    get,
    getMany,
    query,
  }
}

/** Provides `ReadModelStore` from a new, empty in-memory store each time the layer is built. */
export const layer: Layer.Layer<ReadModelStore> = Layer.sync(ReadModelStore, makeInMemoryReadModelStore)
