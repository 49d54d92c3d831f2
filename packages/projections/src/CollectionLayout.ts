/**
 * What an adapter needs to know about a read model's collections, besides their documents: the
 * checked, storable layout (names, indexed fields and their types) and the functions that read a
 * document's indexed values and search text. For ReadModelStore adapters; applications do not need it.
 */
import type { JsonObject } from "@relata/domain"
import { Result } from "effect"
import type { CollectionDefinition, FieldType, FieldValue, ReadModelDefinition } from "./ReadModelStore.ts"

/** A collection as stored in an adapter's registry: everything but the functions. */
export interface CollectionLayout {
  readonly name: string
  /** `ownIndex: false` only on fields without an index of their own (absent otherwise, so older layouts compare equal). */
  readonly fields: ReadonlyArray<{
    readonly name: string
    readonly type: FieldType
    readonly ownIndex?: false
  }>
  readonly indexes: ReadonlyArray<ReadonlyArray<string>>
  readonly searchable: boolean
}

/** A read model's layout: compared when a generation is attached, so a changed model needs a new version. */
export interface ReadModelLayout {
  readonly version: number
  readonly collections: ReadonlyArray<CollectionLayout>
}

/** A collection ready to write: its layout and how to read a document's indexed values and search text. */
export interface CompiledCollection {
  readonly layout: CollectionLayout
  /** The indexed values in layout order. Throws when the definition returns a value of the wrong type. */
  readonly fieldValues: (document: JsonObject) => Array<FieldValue>
  /** The normalised search text, or null when the collection is not searchable. */
  readonly searchText: (document: JsonObject) => string | null
}

const projectionName = /^[a-z][a-z0-9_.-]{0,99}$/
// Short enough that `rm_<name>_g<generation>` stays within PostgreSQL's 63-byte identifiers.
const collectionName = /^[a-z][a-z0-9_]{0,39}$/
const fieldName = /^[a-z][A-Za-z0-9]{0,49}$/
const fieldTypes: ReadonlyArray<FieldType> = ["text", "number", "boolean"]

/** Case and compatibility forms do not matter to search: "ＡＣＭＥ" finds "acme". */
export const normaliseSearchText = (text: string): string => text.normalize("NFKC").toLowerCase()

/** The words of a search, normalised; empty when it has none. */
export const searchTerms = (search: string | undefined): ReadonlyArray<string> =>
  search === undefined
    ? []
    : normaliseSearchText(search)
        .split(/\s+/u)
        .filter((term) => term.length > 0)

/** The storage name of a collection in a generation, the same in every adapter: `rm_<collection>_g<generation>`. */
export const physicalName = (collection: string, generation: number): string =>
  `rm_${collection}_g${generation}`

const collectionLayout = (
  definition: CollectionDefinition<unknown>,
): Result.Result<CollectionLayout, string> => {
  if (!collectionName.test(definition.name)) {
    return Result.fail(
      `collection name "${definition.name}" must be lower_snake_case, start with a letter and have at most 40 characters`,
    )
  }
  const fields: Array<{ name: string; type: FieldType; ownIndex?: false }> = []
  for (const [name, field] of Object.entries(definition.fields)) {
    if (!fieldName.test(name)) {
      return Result.fail(
        `field "${name}" of ${definition.name} must be a camelCase identifier of at most 50 characters`,
      )
    }
    if (!fieldTypes.includes(field.type)) {
      return Result.fail(`field "${name}" of ${definition.name} has an unknown type "${String(field.type)}"`)
    }
    fields.push(
      field.ownIndex === false ? { name, type: field.type, ownIndex: false } : { name, type: field.type },
    )
  }
  const indexes = definition.indexes ?? []
  for (const index of indexes) {
    const unknown = index.find((name) => !(name in definition.fields))
    if (index.length === 0 || unknown !== undefined) {
      return Result.fail(
        `an index of ${definition.name} names ${unknown === undefined ? "no field" : `the unknown field "${unknown}"`}`,
      )
    }
  }
  // Every query keeps an index to use: a field without its own is in a compound one.
  const unindexed = fields.find(
    (field) => field.ownIndex === false && !indexes.some((index) => index.includes(field.name)),
  )
  if (unindexed !== undefined) {
    return Result.fail(
      `field "${unindexed.name}" of ${definition.name} has no index of its own and is in no compound index`,
    )
  }
  return Result.succeed({
    name: definition.name,
    fields,
    indexes: indexes.map((index) => [...index]),
    searchable: definition.search !== undefined,
  })
}

/** Checks a read model's definition and gives its layout, or the reason it is invalid. */
export const layoutOf = (definition: ReadModelDefinition): Result.Result<ReadModelLayout, string> => {
  if (!projectionName.test(definition.name)) {
    return Result.fail(
      `projection name "${definition.name}" must start with a lower-case letter and use only a-z, 0-9, _ . -`,
    )
  }
  if (!Number.isSafeInteger(definition.version) || definition.version < 1) {
    return Result.fail(`projection ${definition.name}: version must be a whole number >= 1`)
  }
  const collections: Array<CollectionLayout> = []
  const seen = new Set<string>()
  for (const collection of definition.collections) {
    const layout = collectionLayout(collection)
    if (Result.isFailure(layout)) return Result.fail(`projection ${definition.name}: ${layout.failure}`)
    if (seen.has(layout.success.name)) {
      return Result.fail(`projection ${definition.name} declares the collection ${layout.success.name} twice`)
    }
    seen.add(layout.success.name)
    collections.push(layout.success)
  }
  return Result.succeed({ version: definition.version, collections })
}

/** Whether two layouts are the same, field order included. */
export const sameLayout = (a: ReadModelLayout, b: ReadModelLayout): boolean =>
  JSON.stringify(a) === JSON.stringify(b)

const isOfType = (value: FieldValue, type: FieldType): boolean =>
  value === null ||
  (type === "number"
    ? typeof value === "number" && Number.isFinite(value)
    : typeof value === (type === "text" ? "string" : "boolean"))

/** Compiles a collection's definition against its layout (from `layoutOf`). */
export const compileCollection = (
  definition: CollectionDefinition<unknown>,
  layout: CollectionLayout,
): CompiledCollection => {
  const readers = layout.fields.map(({ name, type }) => {
    const field = definition.fields[name]
    if (field === undefined) throw new Error(`compileCollection: ${layout.name} has no field ${name}`)
    return { name, type, field }
  })
  const search = definition.search
  return {
    layout,
    fieldValues: (document) => {
      const values = new Array<FieldValue>(readers.length)
      for (let i = 0; i < readers.length; i++) {
        const { name, type, field } = readers[i] as (typeof readers)[number]
        const value = field.value(document)
        if (!isOfType(value, type)) {
          throw new TypeError(
            `${layout.name}.${name} must be a ${type} or null, got ${JSON.stringify(value)}`,
          )
        }
        values[i] = value
      }
      return values
    },
    searchText: search === undefined ? () => null : (document) => normaliseSearchText(search(document)),
  }
}

/** Compiles every collection of a definition by name; the definition must have the given layout. */
export const compileReadModel = (
  definition: ReadModelDefinition,
  layout: ReadModelLayout,
): ReadonlyMap<string, CompiledCollection> =>
  new Map(
    definition.collections.map((collection, index) => [
      collection.name,
      compileCollection(collection, layout.collections[index] as CollectionLayout),
    ]),
  )
