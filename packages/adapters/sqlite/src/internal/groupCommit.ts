/**
 * Group commit (decision 0014): appends that arrive in the same turn of the event loop share one
 * `BEGIN IMMEDIATE ... COMMIT`, so one fsync makes all of them durable. `append` queues its append and
 * completes when the transaction holding it has committed; the first append of a turn schedules the
 * flush with `setImmediate`, which runs after every fiber the current turn has woken has queued its
 * append. Inside the transaction each append's expected-version check sees the appends before it in
 * the batch, and a rejected append leaves the others untouched: a wrong version is found before
 * anything is written, and a duplicate event id makes the batch start over with a SAVEPOINT per append,
 * rolled back alone when it fails. A failure of the transaction itself (the write lock not taken in
 * time, an I/O error, a failed COMMIT) rolls everything back and fails every append of the
 * batch alike: nothing is half-written.
 *
 * Interruption: an append interrupted before its batch starts is dropped and never written; once its
 * batch has started (synchronously, to COMMIT) it is written whatever becomes of its fiber, as with any
 * store when the caller gives up on a request already sent.
 */
import type { DatabaseSync } from "node:sqlite"
import {
  type AppendResult,
  type EventToAppend,
  ExpectedVersion,
  type StoreUnavailable,
  WrongExpectedVersion,
} from "@relata/domain"
import { Effect, Exit } from "effect"
import type { CommitSignal } from "./CommitSignal.ts"
import type { Statements } from "./queries.ts"
import { primaryCode, SQLITE_CONSTRAINT } from "./sqliteErrors.ts"

/**
 * At most this many events per transaction (an append larger than this goes alone). Bigger batches
 * write less: every commit rewrites each index page it touched, so 10-event appends to new streams
 * wrote about 4.5 KB per event in batches of 1,000 events and 2.4 KB in batches of 5,000 (without cache
 * spills, see SqliteEventStore; measured with the store-wide event id index that decision 0018
 * replaced, which touched a random page per event). Smaller batches hold the write
 * lock, which other processes and this process's event loop wait for, for less: 5,000 events take
 * some tens of milliseconds.
 */
export const maxEventsPerCommit = 5_000

type AppendExit = Exit.Exit<AppendResult, WrongExpectedVersion | StoreUnavailable>

interface QueuedAppend {
  readonly streamId: string
  readonly events: ReadonlyArray<EventToAppend>
  /** data and metadata as JSON text, serialised before the write lock is taken. */
  readonly rows: ReadonlyArray<readonly [string, string]>
  readonly expected: ExpectedVersion
  readonly resume: (exit: AppendExit) => void
  interrupted: boolean
}

/** What the event store hands the group commit: its connection and how it reports failures. */
export interface GroupCommitOptions {
  readonly db: DatabaseSync
  readonly st: Statements
  readonly signal: CommitSignal
  readonly isClosed: () => boolean
  /** A StoreUnavailable for a failed call, as the store reports it (closed, busy, anything else). */
  readonly unavailable: (action: string, cause: unknown) => StoreUnavailable
  /** An append rejected by a constraint (UNIQUE on version or event id), read inside the transaction. */
  readonly constraintFailure: (
    streamId: string,
    expected: ExpectedVersion,
    cause: unknown,
  ) => WrongExpectedVersion | StoreUnavailable
}

export interface GroupCommit {
  readonly append: (
    streamId: string,
    events: ReadonlyArray<EventToAppend>,
    expected: ExpectedVersion,
  ) => Effect.Effect<AppendResult, WrongExpectedVersion | StoreUnavailable>
  /**
   * Commits the appends queued so far, now, in batches: close calls it so that appends accepted before
   * it land. Appends their callers make meanwhile are queued for the next turn as usual.
   */
  readonly flushAll: () => void
}

export const groupCommit = (options: GroupCommitOptions): GroupCommit => {
  const { db, st, signal, unavailable, constraintFailure } = options
  let queue: Array<QueuedAppend> = []
  let scheduled: ReturnType<typeof setImmediate> | undefined

  /** How many of `pending` the next batch takes: in order, up to the event cap, at least one. */
  const batchLength = (pending: ReadonlyArray<QueuedAppend>): number => {
    let events = 0
    let count = 0
    while (count < pending.length) {
      const size = (pending[count] as QueuedAppend).events.length
      if (count > 0 && events + size > maxEventsPerCommit) break
      events += size
      count++
    }
    return count
  }

  /**
   * One append inside the batch's transaction: its outcome. Throws only what fails the whole batch
   * (anything but a constraint on this append's rows). Without `isolated`, no savepoint is taken (it
   * costs a copy of every page the append touches), so an append a constraint rejects cannot be undone
   * alone: the answer is then undefined, and the batch must start over isolated.
   */
  const appendInBatch = (entry: QueuedAppend, isolated: boolean): AppendExit | undefined => {
    const { streamId, events, expected, rows } = entry
    const last = st.streamHead(streamId)
    const current = last?.version ?? 0
    if (!ExpectedVersion.isMetBy(expected, current)) {
      return Exit.fail(
        new WrongExpectedVersion({ streamId, expected: ExpectedVersion.format(expected), actual: current }),
      )
    }
    if (events.length === 0) {
      return Exit.succeed({ streamVersion: current, position: BigInt(last?.position ?? 0) })
    }
    if (isolated) st.savepoint.run()
    let version = current
    let position: number | bigint = 0
    try {
      for (let index = 0; index < events.length; index++) {
        const event = events[index] as EventToAppend
        const [data, metadata] = rows[index] as readonly [string, string]
        version++
        position = st.insert.run(
          streamId,
          version,
          event.eventId,
          event.type,
          event.schemaVersion,
          data,
          metadata,
        ).lastInsertRowid
      }
    } catch (cause) {
      if (primaryCode(cause) !== SQLITE_CONSTRAINT) throw cause
      if (!isolated) return undefined
      st.rollbackToSavepoint.run()
      st.releaseSavepoint.run()
      return Exit.fail(constraintFailure(streamId, expected, cause))
    }
    if (isolated) st.releaseSavepoint.run()
    return Exit.succeed({ streamVersion: version, position: BigInt(position) })
  }

  /** Every append of the batch in the open transaction; `complete` is false if one needs isolation. */
  const appendAll = (
    batch: ReadonlyArray<QueuedAppend>,
    isolated: boolean,
  ): { readonly outcomes: Array<AppendExit>; readonly complete: boolean } => {
    const outcomes: Array<AppendExit> = []
    for (const entry of batch) {
      const outcome = appendInBatch(entry, isolated)
      if (outcome === undefined) return { outcomes, complete: false }
      outcomes.push(outcome)
    }
    return { outcomes, complete: true }
  }

  const rollback = (): void => {
    try {
      if (db.isOpen && db.isTransaction) st.rollback.run()
    } catch {
      // The connection is unusable; the error that brought us here is the one to report.
    }
  }

  /**
   * Runs one batch to COMMIT: every append's outcome, or one failure for all of them. Optimistically
   * without savepoints; if a constraint rejects an append (a duplicate event id, rare), everything is
   * rolled back and the batch runs again with a savepoint per append.
   */
  const commitBatch = (batch: ReadonlyArray<QueuedAppend>): Array<AppendExit> => {
    try {
      st.begin.run()
      let run = appendAll(batch, false)
      if (!run.complete) {
        st.rollback.run()
        st.begin.run()
        run = appendAll(batch, true)
      }
      // run() has stepped and reset every statement, so COMMIT finds none in progress.
      st.commit.run()
      return run.outcomes
    } catch (cause) {
      rollback()
      return batch.map((entry) => Exit.fail(unavailable(`append to ${entry.streamId}`, cause)))
    }
  }

  /** Commits one batch and completes its appends. */
  const run = (taken: ReadonlyArray<QueuedAppend>): void => {
    const batch = taken.filter((entry) => !entry.interrupted)
    if (batch.length === 0) return
    const outcomes = commitBatch(batch)
    // Resuming runs each caller's fiber on at once, and it may queue its next append: this batch is
    // already out of the queue, so that append goes into a later one.
    for (let index = 0; index < batch.length; index++) {
      ;(batch[index] as QueuedAppend).resume(outcomes[index] as AppendExit)
    }
    // Subscribers (this process's projections) wake after the appenders, so a caller's answer does
    // not wait behind the projection work its commit sets off.
    const wrote = outcomes.some(
      (outcome, index) => Exit.isSuccess(outcome) && (batch[index] as QueuedAppend).events.length > 0,
    )
    if (wrote) signal.notify()
  }

  const flush = (): void => {
    scheduled = undefined
    const count = batchLength(queue)
    const batch = queue.slice(0, count)
    queue = queue.slice(count)
    // The rest waits for the next turn, so reads and other work of this process get the thread between.
    if (queue.length > 0) schedule()
    run(batch)
  }

  const schedule = (): void => {
    if (scheduled === undefined) scheduled = setImmediate(flush)
  }

  const append = (
    streamId: string,
    events: ReadonlyArray<EventToAppend>,
    expected: ExpectedVersion,
  ): Effect.Effect<AppendResult, WrongExpectedVersion | StoreUnavailable> =>
    Effect.suspend(() => {
      if (options.isClosed()) return Effect.fail(unavailable(`append to ${streamId}`, undefined))
      // Serialised before taking the file's write lock, so a large payload does not lengthen it.
      const rows = events.map(
        (event) => [JSON.stringify(event.data), JSON.stringify(event.metadata)] as const,
      )
      return Effect.callback<AppendResult, WrongExpectedVersion | StoreUnavailable>((resume) => {
        const entry: QueuedAppend = { streamId, events, rows, expected, resume, interrupted: false }
        queue.push(entry)
        schedule()
        return Effect.sync(() => {
          entry.interrupted = true
        })
      })
    })

  const flushAll = (): void => {
    if (scheduled !== undefined) clearImmediate(scheduled)
    scheduled = undefined
    let pending = queue
    queue = []
    while (pending.length > 0) {
      const count = batchLength(pending)
      run(pending.slice(0, count))
      pending = pending.slice(count)
    }
  }

  return { append, flushAll }
}
