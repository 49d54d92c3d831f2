/** Small helpers shared by this package's integration tests. */
import { randomUUID } from "node:crypto"
import type { EventToAppend, JsonObject, RecordedEvent, StoreUnavailable } from "@relata/domain"
import { Effect, type Fiber, type Scope, Stream } from "effect"

export const newEvent = (
  type = "NoteAdded",
  data: JsonObject = {},
  metadata: JsonObject = {},
): EventToAppend => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  data,
  metadata,
})

export const newEvents = (count: number, type = "NoteAdded"): Array<EventToAppend> =>
  Array.from({ length: count }, (_, index) => newEvent(type, { index }))

/** Runs a test body with a scope that closes (stores, forked subscriptions) when it ends. */
export const runScoped = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.scoped(effect))

/** A subscription running in the background and what it has delivered so far. */
export interface Listening {
  readonly seen: ReadonlyArray<RecordedEvent>
  readonly fiber: Fiber.Fiber<void, StoreUnavailable>
}

export const listen = (stream: Stream.Stream<RecordedEvent, StoreUnavailable>) =>
  Effect.gen(function* () {
    const seen: Array<RecordedEvent> = []
    const fiber = yield* Effect.forkScoped(
      Stream.runForEach(stream, (event) => Effect.sync(() => seen.push(event))),
    )
    return { seen, fiber } satisfies Listening
  })

/** Polls `condition` every few milliseconds; dies with `what` after `timeoutMs`. */
export const waitFor = (condition: () => boolean, what: string, timeoutMs = 10_000): Effect.Effect<void> => {
  const loop: Effect.Effect<void> = Effect.suspend(() =>
    condition() ? Effect.void : Effect.andThen(Effect.sleep(5), loop),
  )
  return loop.pipe(
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () => Effect.die(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
    }),
  )
}

/** A readable line per event, so a failed comparison shows where a gap or a duplicate is. */
export const summary = (events: ReadonlyArray<RecordedEvent>): Array<string> =>
  events.map((event) => `${event.position} ${event.streamId}@${event.version} ${event.eventId}`)
