/**
 * The part of a read-model transaction that every adapter shares: documents loaded in bulk, writes
 * buffered (the last one per document wins, so a batch that touches a document ten times writes it
 * once) with their indexed values, and the checkpoint to save. The adapter loads documents and, at
 * commit, writes the buffer and the checkpoint in one storage transaction. For ReadModelStore adapters.
 */
import type { GlobalPosition, JsonObject } from "@relata/domain"
import { Effect } from "effect"
import type { CompiledCollection } from "./CollectionLayout.ts"
import type { FieldValue, ReadModelStoreError, ReadModelTransaction } from "./ReadModelStore.ts"

/** A projection read a document it had neither loaded nor written in this transaction. */
export class DocumentNotLoaded extends Error {
  readonly collection: string
  readonly id: string
  constructor(collection: string, id: string) {
    super(
      `${collection}/${id} was read but not loaded in this transaction: load it first (a projection's reads)`,
    )
    this.name = "DocumentNotLoaded"
    this.collection = collection
    this.id = id
  }
}

/** One document's final state in a transaction. */
export interface BufferedWrite {
  readonly id: string
  /** The new document, or undefined when it is deleted. */
  readonly document: JsonObject | undefined
  /** Its indexed values in layout order (empty for a delete). */
  readonly fields: ReadonlyArray<FieldValue>
  /** Its normalised search text, or null. */
  readonly search: string | null
  /**
   * The indexed values and search text of the version in storage, when the transaction loaded the
   * document and found it: an adapter can then write only the columns that changed (an index whose
   * value did not change need not be touched). Absent when the document was not loaded or not found.
   */
  readonly stored?: { readonly fields: ReadonlyArray<FieldValue>; readonly search: string | null }
}

export interface TransactionBuffer {
  readonly tx: ReadModelTransaction
  /** The writes per collection: one per document, the last. */
  readonly writes: () => ReadonlyMap<string, ReadonlyArray<BufferedWrite>>
  /** The checkpoint the transaction saves, if it saves one. */
  readonly checkpoint: () => GlobalPosition | undefined
}

interface Entry {
  document: JsonObject | undefined
  write: BufferedWrite | undefined
  /** The document as loaded from storage, if it was loaded and found. */
  loaded: JsonObject | undefined
}

/** The indexed values of a stored document; undefined when it does not fit the layout (written by older code). */
const storedOf = (compiled: CompiledCollection, document: JsonObject): BufferedWrite["stored"] => {
  try {
    return { fields: compiled.fieldValues(document), search: compiled.searchText(document) }
  } catch {
    return undefined
  }
}

/** Loads the documents that exist among `ids` of a collection, by id. */
export type LoadDocuments = (
  collection: string,
  ids: ReadonlyArray<string>,
) => Effect.Effect<ReadonlyMap<string, JsonObject>, ReadModelStoreError>

/** A fresh buffer over a generation's collections. */
export const makeTransactionBuffer = (
  collections: ReadonlyMap<string, CompiledCollection>,
  loadDocuments: LoadDocuments,
): TransactionBuffer => {
  const entries = new Map<string, Map<string, Entry>>()
  let checkpoint: GlobalPosition | undefined

  const entriesOf = (collection: string): { compiled: CompiledCollection; entries: Map<string, Entry> } => {
    const compiled = collections.get(collection)
    if (compiled === undefined) {
      throw new Error(
        `unknown collection ${collection}: the projection declares ${[...collections.keys()].join(", ")}`,
      )
    }
    let map = entries.get(collection)
    if (map === undefined) {
      map = new Map()
      entries.set(collection, map)
    }
    return { compiled, entries: map }
  }

  const load = (collection: string, ids: Iterable<string>): Effect.Effect<void, ReadModelStoreError> =>
    Effect.suspend(() => {
      const { entries: map } = entriesOf(collection)
      const missing: Array<string> = []
      for (const id of ids) if (!map.has(id)) missing.push(id)
      if (missing.length === 0) return Effect.void
      return Effect.map(loadDocuments(collection, [...new Set(missing)]), (found) => {
        for (const id of missing) {
          // Written meanwhile? Keep the write: it is newer than storage.
          if (!map.has(id)) {
            const document = found.get(id)
            map.set(id, { document, write: undefined, loaded: document })
          }
        }
      })
    })

  const tx: ReadModelTransaction = {
    load,
    get: (collection, id) => {
      const entry = entriesOf(collection).entries.get(id)
      if (entry === undefined) throw new DocumentNotLoaded(collection, id)
      return entry.document
    },
    put: (collection, id, document) => {
      const { compiled, entries: map } = entriesOf(collection)
      const write = {
        id,
        document,
        fields: compiled.fieldValues(document),
        search: compiled.searchText(document),
      }
      map.set(id, { document, write, loaded: map.get(id)?.loaded })
    },
    delete: (collection, id) => {
      const { entries: map } = entriesOf(collection)
      map.set(id, {
        document: undefined,
        write: { id, document: undefined, fields: [], search: null },
        loaded: map.get(id)?.loaded,
      })
    },
    saveCheckpoint: (position) => {
      checkpoint = position
    },
  }

  return {
    tx,
    writes: () => {
      const result = new Map<string, Array<BufferedWrite>>()
      for (const [collection, map] of entries) {
        const compiled = collections.get(collection) as CompiledCollection
        const writes: Array<BufferedWrite> = []
        for (const entry of map.values()) {
          const write = entry.write
          if (write === undefined) continue
          const stored =
            entry.loaded === undefined || write.document === undefined
              ? undefined
              : storedOf(compiled, entry.loaded)
          writes.push(stored === undefined ? write : { ...write, stored })
        }
        if (writes.length > 0) result.set(collection, writes)
      }
      return result
    },
    checkpoint: () => checkpoint,
  }
}
