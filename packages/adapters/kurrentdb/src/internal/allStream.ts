/**
 * `$all` as Effect streams: a paged read that ends, and a catch-up subscription that does not.
 *
 * Both deliver each event strictly after the position they start from, once, in log order, and
 * do not depend on whether the server's start position is inclusive: anything at or before the
 * last position seen is dropped. A subscription that breaks for a reason a retry can help with
 * (server restart, leader change, network) is opened again after the last position it delivered.
 */
import { type ReadPosition, START } from "@kurrent/kurrentdb-client"
import { type GlobalPosition, type RecordedEvent, StartOfStore, type StoreUnavailable } from "@relata/domain"
import { Array as Arr, Cause, Effect, Result, Stream } from "effect"
import { classify, type Failure, invalid, isRetryable, toStoreUnavailable } from "./errors.ts"
import type { ResolvedEventLike } from "./events.ts"
import { positionOf, readPositionAfter, toLogPosition } from "./position.ts"

/** Our event for a server event, `undefined` to skip it (filtered out), or why it cannot be read. */
export type Accept = (
  resolved: ResolvedEventLike,
) => Result.Result<RecordedEvent | undefined, StoreUnavailable>

type Pull = Effect.Effect<Arr.NonEmptyReadonlyArray<RecordedEvent>, StoreUnavailable | Cause.Done>

export interface PagedReadOptions {
  /** Reads up to `maxCount` events forwards from `from` (the server may include the event at `from`). */
  readonly readPage: (
    from: ReadPosition,
    maxCount: number,
  ) => Effect.Effect<ReadonlyArray<ResolvedEventLike>, StoreUnavailable>
  /** The position of the newest event the pages can return, undefined when there is none. */
  readonly readHead: Effect.Effect<GlobalPosition | undefined, StoreUnavailable>
  readonly after: GlobalPosition
  /** Events per page; at least 2, so a page that repeats its start still moves on. */
  readonly batchSize: number
  readonly limit: number
  readonly accept: Accept
  readonly operation: string
}

/**
 * Pages forwards through `$all` from `after` up to the newest event as of the start, then ends.
 * The end is that head position, not a short page: nothing then depends on whether the server
 * fills every page of a filtered read, and a read under constant appends still ends.
 */
export const pagedRead = (options: PagedReadOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
  Stream.fromPull(
    Effect.sync(() => {
      let seen = options.after < StartOfStore ? StartOfStore : options.after
      let remaining = options.limit
      let end: GlobalPosition | undefined
      let done = remaining <= 0
      const batchSize = Math.max(2, options.batchSize)

      let headRead = false
      const next: Pull = Effect.suspend(() => {
        if (done) return Cause.done()
        if (!headRead) {
          return Effect.flatMap(options.readHead, (head) => {
            headRead = true
            end = head
            return next
          })
        }
        if (end === undefined || seen >= end) return Cause.done()
        const from: ReadPosition = seen <= StartOfStore ? START : toLogPosition(seen)
        return Effect.flatMap(options.readPage(from, batchSize), (events): Pull => {
          const out: Array<RecordedEvent> = []
          let advanced = false
          for (const resolved of events) {
            const position = positionOf(resolved)
            if (position === undefined) {
              return Effect.fail(invalid(options.operation, "the server sent an event without a position"))
            }
            if (position <= seen) continue
            if (end !== undefined && position > end) break
            seen = position
            advanced = true
            if (out.length >= remaining) continue
            const accepted = options.accept(resolved)
            if (Result.isFailure(accepted)) return Effect.fail(accepted.failure)
            if (accepted.success !== undefined) out.push(accepted.success)
          }
          remaining -= out.length
          // Nothing new before the head: the head's event is gone (scavenged), so is the rest.
          done = !advanced || remaining <= 0
          return Arr.isReadonlyArrayNonEmpty(out) ? Effect.succeed(out) : next
        })
      })
      return next
    }),
  )

/** What `liveEvents` needs of the client's subscription (a Node Readable in object mode). */
export interface SubscriptionLike {
  on(event: "error" | "end" | "close" | "readable", listener: (...args: Array<unknown>) => void): unknown
  read(): unknown
  unsubscribe(): Promise<void>
}

export interface LiveOptions {
  /** Opens a subscription delivering the events strictly after `from`; throws if it cannot. */
  readonly open: (from: ReadPosition) => SubscriptionLike
  readonly after: GlobalPosition
  readonly accept: Accept
  readonly operation: string
  /** How many times in a row a broken subscription is opened again before the stream fails. */
  readonly retries: number
  /** How long to wait before opening again, by attempt (1, 2, …). */
  readonly backoffMs: (attempt: number) => number
  /** The most events taken from the subscription's buffer at once. */
  readonly batchSize: number
}

class SubscriptionEnded extends Error {
  constructor() {
    super("the server ended the subscription")
  }
}

interface Connection {
  readonly subscription: SubscriptionLike
  /** The next events the subscription has buffered, waiting for some if none are. */
  readonly next: Effect.Effect<ReadonlyArray<ResolvedEventLike>, unknown>
}

const connect = (subscription: SubscriptionLike, batchSize: number): Connection => {
  let failure: { readonly error: unknown } | undefined
  let ended = false
  let waiting: (() => void) | undefined
  const wake = () => {
    const resume = waiting
    waiting = undefined
    resume?.()
  }
  // Listeners go on at once, in the same tick as the subscription is created: the client emits a
  // failure to connect as an "error" event, which would crash the process with no listener.
  subscription.on("error", (error) => {
    failure ??= { error }
    wake()
  })
  subscription.on("end", () => {
    ended = true
    wake()
  })
  subscription.on("close", () => {
    ended = true
    wake()
  })
  // Reading on "readable" (paused mode) keeps the client's backpressure: the subscription buffers
  // a bounded number of events and gRPC flow control holds the rest on the server.
  subscription.on("readable", wake)
  const next = Effect.callback<ReadonlyArray<ResolvedEventLike>, unknown>((resume) => {
    const attempt = () => {
      const batch: Array<ResolvedEventLike> = []
      while (batch.length < batchSize) {
        const item = subscription.read()
        if (item === null || item === undefined) break
        batch.push(item as ResolvedEventLike)
      }
      if (batch.length > 0) return resume(Effect.succeed(batch))
      if (failure !== undefined) return resume(Effect.fail(failure.error))
      if (ended) return resume(Effect.fail(new SubscriptionEnded()))
      waiting = attempt
    }
    attempt()
    return Effect.sync(() => {
      waiting = undefined
    })
  })
  return { subscription, next }
}

const close = (connection: Connection | undefined): Effect.Effect<void> =>
  connection === undefined
    ? Effect.void
    : Effect.promise(() => connection.subscription.unsubscribe().catch(() => undefined))

const failureOf = (error: unknown): Failure =>
  error instanceof SubscriptionEnded
    ? { _tag: "Unavailable", reason: error.message, cause: error }
    : classify(error)

/**
 * A catch-up subscription to `$all` from `after`, live once caught up, never ending by itself. It
 * fails when the server refuses it for good, when an event cannot be read, or after `retries`
 * failed attempts in a row to reopen it.
 */
export const liveEvents = (options: LiveOptions): Stream.Stream<RecordedEvent, StoreUnavailable> =>
  Stream.unwrap(
    Effect.gen(function* () {
      let seen = options.after < StartOfStore ? StartOfStore : options.after
      let failures = 0
      let current: Connection | undefined
      yield* Effect.addFinalizer(() => close(current))

      /** Opens the subscription again after a failure a retry can help with, or fails for good. */
      const recover = (error: unknown, broken: Connection | undefined): Pull => {
        const failure = failureOf(error)
        current = undefined
        return Effect.andThen(close(broken), () => {
          if (!isRetryable(failure) || failures >= options.retries) {
            return Effect.fail(toStoreUnavailable(options.operation, failure))
          }
          failures += 1
          return Effect.andThen(Effect.sleep(options.backoffMs(failures)), next)
        })
      }

      const next: Pull = Effect.suspend(() => {
        if (current === undefined) {
          try {
            current = connect(options.open(readPositionAfter(seen)), options.batchSize)
          } catch (error) {
            return recover(error, undefined)
          }
        }
        const connection = current
        return Effect.matchEffect(connection.next, {
          onSuccess: (batch): Pull => {
            const out: Array<RecordedEvent> = []
            for (const resolved of batch) {
              const position = positionOf(resolved)
              if (position !== undefined && position <= seen) continue
              const accepted = options.accept(resolved)
              if (Result.isFailure(accepted)) return Effect.fail(accepted.failure)
              if (accepted.success !== undefined) out.push(accepted.success)
              if (position !== undefined) seen = position
            }
            failures = 0
            return Arr.isReadonlyArrayNonEmpty(out) ? Effect.succeed(out) : next
          },
          onFailure: (error) => recover(error, connection),
        })
      })
      return Stream.fromPull(Effect.succeed(next))
    }),
  )
