/**
 * Catch-up reads shared by the runner's loops. Loops that are behind at the same checkpoint (every
 * projection's first generation on a fresh store, rebuilds started together) ask for the same
 * batches: each batch is read from the store once, held in memory once, and each event decoded once
 * per decoder, instead of once per loop. A loop that is alone at its position reads as it would alone.
 *
 * The runner uses it; it is exported for runners of one's own.
 *
 * A batch stays while a loop that is catching up has not passed it, and goes when they all have, or
 * when none is catching up any more: at the head, loops follow the store's subscription instead.
 * At most `maxBatches` stay (the lowest positions go first), so loops far apart cost reads, never
 * memory. The runner lets the other loops run after each batch, which keeps loops that start
 * together close enough to share most batches; sharing is an optimisation, never needed for
 * correctness.
 *
 * The reader that reads a batch for others may be interrupted (a switch stops the old generation's
 * loop): the read stops, the batch is forgotten, and those waiting for it read it themselves. A
 * failed read is not kept either: each waiter gets the failure, as from its own read.
 */
import type { EventStoreService, GlobalPosition, RecordedEvent, StoreUnavailable } from "@relata/domain"
import { Deferred, Effect, Exit, Result, Stream } from "effect"

/** How one decoder read an event. */
type Decoded = Result.Result<unknown, unknown>

/** The batch's reader was interrupted: read it again. */
class ReadAbandoned {
  readonly _tag = "ReadAbandoned"
}

type Batch = Deferred.Deferred<ReadonlyArray<RecordedEvent>, StoreUnavailable | ReadAbandoned>

export interface SharedCatchUp {
  /**
   * The events after `after`, up to the batch size: fewer only at the head. `reader` is the loop
   * asking; it counts as catching up until `leave`.
   */
  readonly read: (
    reader: object,
    after: GlobalPosition,
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable>
  /** The reader no longer reads through here (it follows the subscription, or stopped). */
  readonly leave: (reader: object) => void
  /** `decode(recorded)`, computed once per decoder for an event that several loops apply. */
  readonly decode: (decode: (recorded: RecordedEvent) => Decoded, recorded: RecordedEvent) => Decoded
}

/** The most batches kept for loops that have not read them yet. */
const maxBatches = 4

export const makeSharedCatchUp = (eventStore: EventStoreService, batchSize: number): SharedCatchUp => {
  /** Batches by the position they follow. */
  const batches = new Map<GlobalPosition, Batch>()
  /** Where each catching-up reader is. */
  const readers = new Map<object, GlobalPosition>()
  // Events of a shared batch, by decoder: projections that share a codec decode each event once.
  const decoded = new WeakMap<RecordedEvent, { readonly decoder: unknown; readonly result: Decoded }>()

  /** Forgets the batches every catching-up reader has passed (all when none is), then the lowest beyond the cap. */
  const prune = (): void => {
    let lowest: GlobalPosition | undefined
    for (const position of readers.values()) if (lowest === undefined || position < lowest) lowest = position
    for (const after of batches.keys()) if (lowest === undefined || after < lowest) batches.delete(after)
    if (batches.size > maxBatches) {
      const kept = [...batches.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      for (const after of kept.slice(0, kept.length - maxBatches)) batches.delete(after)
    }
  }

  const forget = (after: GlobalPosition, batch: Batch): void => {
    if (batches.get(after) === batch) batches.delete(after)
  }

  const read: SharedCatchUp["read"] = (reader, after) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend((): Effect.Effect<ReadonlyArray<RecordedEvent>, StoreUnavailable> => {
        readers.set(reader, after)
        prune()
        const shared = batches.get(after)
        if (shared !== undefined) {
          return restore(Deferred.await(shared)).pipe(
            Effect.catchTag("ReadAbandoned", () => read(reader, after)),
          )
        }
        const batch: Batch = Deferred.makeUnsafe()
        batches.set(after, batch)
        prune()
        // Only the read can be interrupted; the batch is completed whatever happens to it.
        return restore(Stream.runCollect(eventStore.readAll({ after, limit: batchSize }))).pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) {
                Deferred.doneUnsafe(batch, exit)
                return
              }
              forget(after, batch)
              Deferred.doneUnsafe(
                batch,
                Exit.hasInterrupts(exit)
                  ? Exit.fail(new ReadAbandoned())
                  : (exit as Exit.Exit<never, StoreUnavailable>),
              )
            }),
          ),
        )
      }),
    )

  const leave: SharedCatchUp["leave"] = (reader) => {
    readers.delete(reader)
    prune()
  }

  const decode: SharedCatchUp["decode"] = (decoder, recorded) => {
    const known = decoded.get(recorded)
    if (known !== undefined && known.decoder === decoder) return known.result
    let result: Decoded
    try {
      result = decoder(recorded)
    } catch (cause) {
      result = Result.fail(cause)
    }
    decoded.set(recorded, { decoder, result })
    return result
  }

  return { read, leave, decode }
}
