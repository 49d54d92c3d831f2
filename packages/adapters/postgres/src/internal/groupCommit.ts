/**
 * Group commit (docs/decisions/0015-postgres-group-commit.md): appends issued while the store is
 * busy, or from the same synchronous run of code, go to the server together, as one call of the
 * schema's batch append function: one round trip, one turn of the append lock, one commit (one WAL
 * flush) for all of them, instead of one each, queued on the lock. Each append still gets its own
 * answer; one that fails its expectation does not affect the others.
 *
 * A few statements are in flight at a time; appends arriving meanwhile wait and form the next batch,
 * so batches grow with the load, and a lone writer sends its appends one by one through the single
 * append function, as before. Within a batch order is kept: a batch is a prefix of the waiting
 * appends, and the function hands out positions in batch order. Two batches in flight take the lock
 * in whichever order the server grants it; positions stay dense and in commit order either way.
 */
import type pg from "pg"
import { isTransient } from "./pgErrors.ts"
import type { AppendRow, BatchedAppend, BatchRow, Queries } from "./queries.ts"

/** What the server answered for one append: its row, or the error that failed its statement. */
export type AppendOutcome = { readonly row: AppendRow | undefined } | { readonly error: unknown }

/** How large one batch may grow (an append larger than `maxEvents` goes alone), and how many may be in flight. */
export interface GroupCommitLimits {
  readonly maxAppends: number
  readonly maxEvents: number
  readonly inFlight: number
}

// Large enough that a busy server commits hundreds of appends at once; small enough to keep one
// statement's parameters (every event's JSON) to a few megabytes. Two statements in flight: while
// one holds the lock, the server parses the next one's parameters (most of its cost, and outside
// the lock) and this process serialises the one after; more would only queue on the lock.
export const defaultLimits: GroupCommitLimits = { maxAppends: 256, maxEvents: 4_096, inFlight: 2 }

interface Waiting {
  readonly append: BatchedAppend
  readonly resolve: (outcome: AppendOutcome) => void
}

/** Returns `submit`, which sends an append with the others waiting and resolves with its answer; never rejects. */
export const makeGroupCommit = (
  pool: pg.Pool,
  queries: Queries,
  limits: GroupCommitLimits = defaultLimits,
): ((append: BatchedAppend) => Promise<AppendOutcome>) => {
  let waiting: Array<Waiting> = []
  let inFlight = 0
  let scheduled = false

  const schedule = (): void => {
    if (scheduled || inFlight >= limits.inFlight || waiting.length === 0) return
    scheduled = true
    // Once the code running now is done: the appends it issues (say, every fiber a scheduler tick
    // starts) join the batch, and a lone append waits for nothing.
    queueMicrotask(flush)
  }

  const one = async ({ streamId, events, expected }: BatchedAppend): Promise<AppendOutcome> => {
    try {
      return { row: (await pool.query<AppendRow>(queries.append(streamId, events, expected))).rows[0] }
    } catch (error) {
      return { error }
    }
  }

  const many = async (batch: ReadonlyArray<Waiting>): Promise<void> => {
    let rows: ReadonlyArray<BatchRow>
    try {
      rows = (await pool.query<BatchRow>(queries.appendBatch(batch.map((w) => w.append)))).rows
    } catch (error) {
      // The statement was rolled back whole (or never sent), so nothing of the batch is written. A
      // failure a retry can help with (a lost connection, a lock timeout) is every append's, and each
      // may retry. Any other (a duplicate event id, a value the server refuses) is one append's
      // fault: run them one by one, in order, so each gets the answer it would have had alone.
      if (isTransient(error)) {
        for (const w of batch) w.resolve({ error })
      } else {
        for (const w of batch) w.resolve(await one(w.append))
      }
      return
    }
    const byOrdinal = new Map(rows.map((row) => [row.ord, row]))
    batch.forEach((w, index) => {
      w.resolve({ row: byOrdinal.get(index + 1) })
    })
  }

  const take = (): Array<Waiting> => {
    let events = 0
    let count = 0
    for (const w of waiting) {
      if (count >= limits.maxAppends) break
      if (count > 0 && events + w.append.events.length > limits.maxEvents) break
      events += w.append.events.length
      count++
    }
    const batch = waiting.slice(0, count)
    waiting = waiting.slice(count)
    return batch
  }

  function flush(): void {
    scheduled = false
    const batch = take()
    const [only] = batch
    if (only === undefined) return
    inFlight++
    const sent = batch.length === 1 ? one(only.append).then(only.resolve) : many(batch)
    void sent.then(() => {
      inFlight--
      // Appends that arrived meanwhile, and those the answered callers issue next, form the next batch.
      schedule()
    })
    schedule()
  }

  return (append) =>
    new Promise((resolve) => {
      waiting.push({ append, resolve })
      schedule()
    })
}
