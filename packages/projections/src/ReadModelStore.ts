/**
 * The ReadModelStore port: where projections keep their read models and readers query them. One
 * interface, every adapter (in-memory here; SQLite and PostgreSQL in their packages); callers never
 * branch on the adapter.
 *
 * - A read model is a set of named collections of JSON documents keyed by id. Each collection
 *   declares the fields it indexes (equality and range filters, sorting, cursor pagination) and the
 *   text it searches; a query can use nothing else, so every query an adapter runs has an index.
 * - A projection writes its documents and its checkpoint in one transaction (`transact`), so a crash
 *   at any instant neither loses nor double-applies an event.
 * - Blue/green: a projection's collections exist per generation (the physical name carries it). A
 *   new generation is built beside the active one, which readers keep seeing, and `activate`
 *   switches every collection of the projection at once.
 */
import type { GlobalPosition, JsonObject } from "@relata/domain"
import { Context, type Effect, Schema } from "effect"

// ---------------------------------------------------------------------------------------------
// Collections
// ---------------------------------------------------------------------------------------------

/** What an indexed field holds: text compares by Unicode code point, numbers numerically. */
export type FieldType = "text" | "number" | "boolean"

/** A value of an indexed field; `null` when the document has none (null sorts before every value). */
export type FieldValue = string | number | boolean | null

/** One indexed field of a collection: its type and how to read it from a document. */
export interface FieldDefinition<Doc> {
  readonly type: FieldType
  /**
   * Whether the field gets its own index on (field, id); default true. False for a field that queries
   * only filter on beside a compound index that holds it (`CollectionDefinition.indexes` must name it):
   * a big collection then builds and updates one index fewer per such field.
   */
  readonly ownIndex?: boolean
  /** The field's value in `doc`; must be of `type` or null. Method syntax: definitions of any document type mix in one list. */
  value(doc: Doc): FieldValue
}

export interface FieldOptions {
  /** See `FieldDefinition.ownIndex`. */
  readonly ownIndex?: boolean
}

const fieldOf = <Doc>(
  type: FieldType,
  value: (doc: Doc) => FieldValue | undefined,
  options: FieldOptions | undefined,
): FieldDefinition<Doc> => ({
  type,
  ...(options?.ownIndex === false ? { ownIndex: false } : {}),
  value: (doc) => value(doc) ?? null,
})

/** Builders for indexed fields; `undefined` from the reader is stored as null. */
export const Field = {
  text: <Doc>(value: (doc: Doc) => string | null | undefined, options?: FieldOptions): FieldDefinition<Doc> =>
    fieldOf("text", value, options),
  number: <Doc>(
    value: (doc: Doc) => number | null | undefined,
    options?: FieldOptions,
  ): FieldDefinition<Doc> => fieldOf("number", value, options),
  boolean: <Doc>(
    value: (doc: Doc) => boolean | null | undefined,
    options?: FieldOptions,
  ): FieldDefinition<Doc> => fieldOf("boolean", value, options),
} as const

/**
 * A collection of JSON documents keyed by id. Names are lower_snake_case and unique across
 * projections; field names are camelCase identifiers.
 */
export interface CollectionDefinition<Doc = JsonObject> {
  readonly name: string
  /** The indexed fields: each gets an index on (field, id), which also serves sorting and paging, unless it opts out (`ownIndex`). */
  readonly fields: { readonly [field: string]: FieldDefinition<Doc> }
  /** Extra indexes over several fields, for a query that filters on the first and sorts by the last. */
  readonly indexes?: ReadonlyArray<ReadonlyArray<string>>
  /** The text a `search` looks in (normalised: NFKC, lower case). Without it, the collection cannot be searched. */
  search?(doc: Doc): string
}

/** Declares a collection whose documents have type `Doc`. */
export const defineCollection = <Doc>(definition: CollectionDefinition<Doc>): CollectionDefinition<Doc> =>
  definition

/**
 * A projection's read model: its name, the version of its code and its collections. Bump `version`
 * whenever the documents change shape or meaning: the runner then rebuilds a new generation.
 */
export interface ReadModelDefinition {
  readonly name: string
  readonly version: number
  /** Collections of any document type (FieldDefinition's method syntax lets them mix). */
  readonly collections: ReadonlyArray<CollectionDefinition<unknown>>
}

// ---------------------------------------------------------------------------------------------
// Generations and transactions
// ---------------------------------------------------------------------------------------------

/** One physical build of a projection's read model. */
export interface Generation {
  readonly projection: string
  /** 1, 2, 3...: a new generation gets the next number. */
  readonly generation: number
  /** The projection's code version that builds it. */
  readonly version: number
  /** The global position of the last event applied (StartOfStore before the first). */
  readonly checkpoint: GlobalPosition
  /** Whether readers see this generation. At most one per projection is active. */
  readonly active: boolean
}

/** Names a generation of a projection. */
export interface GenerationRef {
  readonly projection: string
  readonly generation: number
}

/** A collection and a document id. */
export type DocumentKey = readonly [collection: string, id: string]

/**
 * A transaction's view of one generation's collections. Writes are buffered and reach storage
 * together with the checkpoint when the transaction commits; `get` sees them at once. Documents handed
 * to `put` must not be changed afterwards.
 *
 * `get` is synchronous so that projections stay plain functions, hence documents are loaded first,
 * in bulk (`load`): one query per collection and batch rather than one per event. Reading a document
 * that was neither loaded nor written in this transaction throws (a bug in the projection), on every
 * adapter alike.
 */
export interface ReadModelTransaction {
  readonly load: (collection: string, ids: Iterable<string>) => Effect.Effect<void, ReadModelStoreError>
  readonly get: (collection: string, id: string) => JsonObject | undefined
  readonly put: (collection: string, id: string, document: JsonObject) => void
  readonly delete: (collection: string, id: string) => void
  /** The position the generation's checkpoint moves to when the transaction commits. */
  readonly saveCheckpoint: (position: GlobalPosition) => void
}

export interface CreateGenerationOptions {
  /** Create the collections without their secondary indexes; `buildIndexes` adds them. */
  readonly deferIndexes?: boolean
}

export interface TransactOptions {
  /**
   * The checkpoint the caller believes the generation is at. When the stored one differs, another
   * runner has moved on: nothing is written and the transaction fails with CheckpointConflict.
   */
  readonly expectedCheckpoint?: GlobalPosition
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** A bound on a text or number field; documents whose field is null never match a range. */
export interface RangeCondition {
  readonly lt?: string | number
  readonly lte?: string | number
  readonly gt?: string | number
  readonly gte?: string | number
}

/** A condition on one indexed field: equal to a value (`null`: has none), one of several values, or a range. */
export type Condition =
  | FieldValue
  | { readonly in: ReadonlyArray<string | number | boolean> }
  | RangeCondition

/** What a reader asks a collection for. Every condition must hold. */
export interface ReadModelQuery {
  /** Conditions on indexed fields; an `undefined` condition is ignored, which suits optional filters. */
  readonly where?: { readonly [field: string]: Condition | undefined }
  /** Words that must all occur in the collection's search text (case-insensitive substrings). */
  readonly search?: string
  /** Sort by an indexed field, then by id; without it, by id. */
  readonly orderBy?: { readonly field: string; readonly direction?: "asc" | "desc" }
  /** The `next` cursor of the previous page, for the same query. */
  readonly after?: string
  /** Documents per page: 1 to 1000, default 50. */
  readonly limit?: number
}

export interface ReadModelDocument {
  readonly id: string
  readonly document: JsonObject
}

export interface ReadModelPage {
  readonly items: ReadonlyArray<ReadModelDocument>
  /** The cursor of the next page; absent on the last page. */
  readonly next?: string
}

/** Which generation a read looks at: the active one by default. */
export interface ReadOptions {
  readonly generation?: number
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** The read-model store failed or cannot be reached; `retryable` says whether trying again can help. */
export class ReadModelStoreError extends Schema.TaggedError<ReadModelStoreError>()("ReadModelStoreError", {
  reason: Schema.String,
  retryable: Schema.Boolean,
  cause: Schema.optional(Schema.Defect()),
}) {
  override get message(): string {
    return `Read-model store: ${this.reason}`
  }
}

/** The generation's stored checkpoint is not the one the transaction expected; nothing was written. */
export class CheckpointConflict extends Schema.TaggedError<CheckpointConflict>()("CheckpointConflict", {
  projection: Schema.String,
  generation: Schema.Number,
  expected: Schema.BigInt,
  actual: Schema.BigInt,
}) {
  override get message(): string {
    return `Projection ${this.projection} generation ${this.generation}: expected checkpoint ${this.expected}, but it is at ${this.actual} (another runner?)`
  }
}

/** No active generation (or not the one asked for) holds the collection. */
export class CollectionNotFound extends Schema.TaggedError<CollectionNotFound>()("CollectionNotFound", {
  collection: Schema.String,
  generation: Schema.optional(Schema.Number),
}) {
  override get message(): string {
    return this.generation === undefined
      ? `No active read model holds the collection ${this.collection}`
      : `Generation ${this.generation} holds no collection ${this.collection}`
  }
}

/** The query uses a field the collection does not index, a value of the wrong type, or a stale cursor. */
export class InvalidReadModelQuery extends Schema.TaggedError<InvalidReadModelQuery>()(
  "InvalidReadModelQuery",
  { collection: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `Invalid query on ${this.collection}: ${this.reason}`
  }
}

export type ReadModelReadError = ReadModelStoreError | CollectionNotFound

// ---------------------------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------------------------

export interface ReadModelStoreService {
  /** Every generation of a projection, oldest first. */
  readonly generations: (projection: string) => Effect.Effect<ReadonlyArray<Generation>, ReadModelStoreError>

  /**
   * Creates the next generation of a projection, with empty collections at StartOfStore, inactive.
   * Fails when a collection name belongs to another projection. With `deferIndexes`, its collections
   * get no secondary indexes until `buildIndexes`: a generation built from the first event then
   * writes only its tables, and each index is built once, in one sorted pass, instead of being
   * updated row by row. Queries are correct on it meanwhile, only slower.
   */
  readonly createGeneration: (
    definition: ReadModelDefinition,
    options?: CreateGenerationOptions,
  ) => Effect.Effect<Generation, ReadModelStoreError>

  /**
   * Builds the secondary indexes of a generation's collections that do not exist yet. Each index
   * appears whole or not at all; a build that stopped half-way is finished by the next call, and
   * there is nothing to do when they all exist (every generation created without `deferIndexes`).
   * The runner calls it once the generation has caught up, before it switches readers to it.
   */
  readonly buildIndexes: (target: GenerationRef) => Effect.Effect<void, ReadModelStoreError>

  /**
   * Makes an existing generation writable by this store instance with the given definition. Fails
   * when the definition's version or collections differ from those the generation was created with:
   * a changed read model needs a new version, hence a new generation.
   */
  readonly attach: (
    definition: ReadModelDefinition,
    generation: number,
  ) => Effect.Effect<Generation, ReadModelStoreError>

  /**
   * Makes the generation the one readers see, for all its collections at once. With `ifCaughtUp`,
   * only when its checkpoint is at or past the active generation's (checked atomically), so readers
   * never step back in time; answers whether it switched.
   */
  readonly activate: (
    target: GenerationRef,
    options?: { readonly ifCaughtUp?: boolean },
  ) => Effect.Effect<boolean, ReadModelStoreError>

  /** Deletes an inactive generation: its collections and checkpoint. Nothing to do when it does not exist. */
  readonly drop: (target: GenerationRef) => Effect.Effect<void, ReadModelStoreError>

  /**
   * Runs `body` against the generation's collections, then writes its changes and its checkpoint
   * atomically. When `body` fails, nothing is written.
   */
  readonly transact: <A, E, R>(
    target: GenerationRef,
    body: (tx: ReadModelTransaction) => Effect.Effect<A, E, R>,
    options?: TransactOptions,
  ) => Effect.Effect<A, E | ReadModelStoreError | CheckpointConflict, R>

  /** One document. */
  readonly get: (
    collection: string,
    id: string,
    options?: ReadOptions,
  ) => Effect.Effect<JsonObject | undefined, ReadModelReadError>

  /** The documents that exist among `ids`, by id. */
  readonly getMany: (
    collection: string,
    ids: ReadonlyArray<string>,
    options?: ReadOptions,
  ) => Effect.Effect<ReadonlyMap<string, JsonObject>, ReadModelReadError>

  /** One page of the documents that match. */
  readonly query: (
    collection: string,
    query: ReadModelQuery,
    options?: ReadOptions,
  ) => Effect.Effect<ReadModelPage, ReadModelReadError | InvalidReadModelQuery>
}

export class ReadModelStore extends Context.Service<ReadModelStore, ReadModelStoreService>()(
  "@relata/projections/ReadModelStore",
) {}

/** The service part of an adapter's handle (which also carries its own extras, such as `close`). */
export const readModelStoreServiceOf = ({
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
}: ReadModelStoreService): ReadModelStoreService =>
  ReadModelStore.of({
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
  })
