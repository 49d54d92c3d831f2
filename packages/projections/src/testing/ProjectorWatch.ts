/**
 * What a crash test reads of a projection that another process builds: the active generation's
 * checkpoint, a wait for the next commit, and every document of a collection.
 */
import type { GlobalPosition } from "@relata/domain"
import { Effect } from "effect"
import type { ReadModelStoreService } from "../ReadModelStore.ts"

/** The checkpoint of the projection's active generation (StartOfStore before it has one). */
export const activeCheckpointOf = (store: ReadModelStoreService, projection: string) =>
  Effect.map(
    store.generations(projection),
    (generations): GlobalPosition => generations.find((g) => g.active)?.checkpoint ?? 0n,
  )

/**
 * Waits until one of the projections has committed past where `since` says it was. A crash test
 * kills soon after that, not after a fixed delay, which a slow start on a loaded machine could use
 * up before the first commit.
 */
export const untilCommitted = (
  store: ReadModelStoreService,
  since: ReadonlyMap<string, GlobalPosition>,
): Effect.Effect<void, unknown> =>
  Effect.gen(function* () {
    for (let polls = 0; polls < 6_000; polls++) {
      for (const [projection, checkpoint] of since) {
        if ((yield* activeCheckpointOf(store, projection)) > checkpoint) return
      }
      yield* Effect.sleep(5)
    }
    throw new Error("the projector committed nothing within 30 s")
  })

/** Every document of a collection in the active generation, in id order. */
export const allDocuments = (store: ReadModelStoreService, collection: string) =>
  Effect.gen(function* () {
    const documents: Array<unknown> = []
    let after: string | undefined
    do {
      const page = yield* store.query(collection, { limit: 1_000, ...(after === undefined ? {} : { after }) })
      documents.push(...page.items)
      after = page.next
    } while (after !== undefined)
    return documents
  })
