/** Small helpers shared by this package's integration tests. */
import { randomUUID } from "node:crypto"
import type { EventToAppend, JsonObject, RecordedEvent, StoreUnavailable } from "@relata/domain"
import { Effect, type Fiber, type Scope, Stream } from "effect"
import pg from "pg"

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

/** A client of its own for the duration of `use`. */
export const withClient = async <A>(
  connectionString: string,
  use: (client: pg.Client) => Promise<A>,
): Promise<A> => {
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

/**
 * Terminates the connection named `applicationName` once it waits on a lock, as a server restart
 * or a lost network would end it mid-statement; fails when it never waits.
 */
export const terminateWhenWaitingOnLock = (adminConnectionString: string, applicationName: string) =>
  withClient(adminConnectionString, async (admin) => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [applicationName],
      )
      if (killed.rowCount === 1) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`${applicationName} never waited on a lock`)
  })
