/**
 * Mutable working copies of a projection's aggregate documents, one per transaction.
 *
 * Why: an aggregate (counters keyed by month, stage, owner...) changes with nearly every event.
 * Rebuilding it immutably per event would copy the whole document per event; the port has no hook
 * at the end of a batch to write it once. So the first event of a transaction that touches an
 * aggregate clones the stored document, later events of the same transaction change that clone in
 * place, and every event that changed it hands it to `put` again. The transaction buffer keeps the
 * last `put` of each document and the adapters read it only when they commit, so what is committed
 * is the clone as the last event left it, with its indexed values taken at that last `put`. A
 * transaction that fails writes nothing, and the next one starts from fresh clones: no change made
 * here ever reaches a document the store holds or hands out.
 */
import type { JsonObject } from "@relata/domain"
import type { ReadModelTransaction } from "../../ReadModelStore.ts"

interface Copies {
  readonly documents: Map<string, JsonObject>
  /** Touched by the event being applied: to be put when it is done. */
  readonly touched: Set<string>
}

/** Working copies within transactions, for aggregate documents of one collection. */
export interface WorkingCopies {
  /** The working copy of an aggregate (loaded first), created with `empty` when it does not exist yet. */
  readonly get: <A extends object>(tx: ReadModelTransaction, id: string, empty: () => A) => A
  /** Puts every aggregate the current event touched; call once at the end of each event. */
  readonly flush: (tx: ReadModelTransaction) => void
}

/** Working copies of the documents of `collection`. */
export const makeWorkingCopies = (collection: string): WorkingCopies => {
  const byTransaction = new WeakMap<ReadModelTransaction, Copies>()
  const copiesOf = (tx: ReadModelTransaction): Copies => {
    let copies = byTransaction.get(tx)
    if (copies === undefined) {
      copies = { documents: new Map(), touched: new Set() }
      byTransaction.set(tx, copies)
    }
    return copies
  }
  return {
    get: <A extends object>(tx: ReadModelTransaction, id: string, empty: () => A): A => {
      const copies = copiesOf(tx)
      let document = copies.documents.get(id)
      if (document === undefined) {
        const stored = tx.get(collection, id)
        document =
          stored === undefined
            ? (empty() as unknown as JsonObject)
            : (JSON.parse(JSON.stringify(stored)) as JsonObject)
        copies.documents.set(id, document)
      }
      copies.touched.add(id)
      return document as unknown as A
    },
    flush: (tx) => {
      const copies = byTransaction.get(tx)
      if (copies === undefined || copies.touched.size === 0) return
      for (const id of copies.touched) {
        tx.put(collection, id, copies.documents.get(id) as JsonObject)
      }
      copies.touched.clear()
    },
  }
}
