/**
 * Catch-up reads shared by the runner's loops. Loops that are behind at the same checkpoint (every
 * projection's first generation on a fresh store, rebuilds started together) ask for the same
 * batches: each batch is read from the store once, held in memory once, and each event decoded once
 * per decoder, instead of once per loop. A loop that is alone at its position reads as it would alone.
 *
 * A batch stays while a loop that is catching up has not passed it, and goes when they all have, or
 * when none is catching up any more: at the head, loops follow the store's subscription instead.
 * At most `maxBatches` stay, so a loop far behind the others costs reads, never memory. The runner
 * lets the other loops run after each batch, so loops at one checkpoint stay within a batch or two
 * of each other.
 */
import type { EventStoreService, GlobalPosition, RecordedEvent, StoreUnavailable } from "@relata/domain"
import { Deferred, Effect, type Exit, Result, Stream } from "effect"

/** How one decoder read an event. */
type Decoded = Result.Result<unknown, unknown>

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
  /** Batches by the position they follow, oldest first. */
  const batches = new Map<GlobalPosition, Deferred.Deferred<ReadonlyArray<RecordedEvent>, StoreUnavailable>>()
  /** Where each catching-up reader is. */
  const readers = new Map<object, GlobalPosition>()
  // Events of a shared batch, by decoder: projections that share a codec decode each event once.
  const decoded = new WeakMap<RecordedEvent, { readonly decoder: unknown; readonly result: Decoded }>()

  /** Forgets the batches every catching-up reader has passed (all of them when none is). */
  const prune = (): void => {
    let lowest: GlobalPosition | undefined
    for (const position of readers.values()) if (lowest === undefined || position < lowest) lowest = position
    for (const after of batches.keys()) if (lowest === undefined || after < lowest) batches.delete(after)
    for (const after of batches.keys()) {
      if (batches.size <= maxBatches) break
      batches.delete(after)
    }
  }

  const read: SharedCatchUp["read"] = (reader, after) =>
    Effect.suspend(() => {
      readers.set(reader, after)
      prune()
      const shared = batches.get(after)
      if (shared !== undefined) return Deferred.await(shared)
      const batch = Deferred.makeUnsafe<ReadonlyArray<RecordedEvent>, StoreUnavailable>()
      batches.set(after, batch)
      prune()
      // Uninterruptible: the others waiting for this batch must get it even if this reader is stopped.
      return Effect.uninterruptible(
        Effect.flatMap(
          Effect.exit(Stream.runCollect(eventStore.readAll({ after, limit: batchSize }))),
          (exit: Exit.Exit<ReadonlyArray<RecordedEvent>, StoreUnavailable>) => {
            // A failed read is not kept: the next reader tries again.
            if (exit._tag === "Failure") batches.delete(after)
            Deferred.doneUnsafe(batch, exit)
            return exit
          },
        ),
      )
    })

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
