/**
 * Query-string pieces the read routes share: positions, page sizes, and read-your-writes (wait
 * until the read models include a position a command returned).
 */
import { EventStore } from "@relata/domain"
import { Effect, Option, Schema } from "effect"
import { InvalidInput, ReadModelBehind } from "../ApiError.ts"
import { ProjectionProgress } from "../ProjectionProgress.ts"

/** A global position in a query string: a decimal integer. */
export const Position = Schema.String.check(
  Schema.makeFilter((s: string) => /^\d{1,19}$/.test(s), {
    expected: "a global position (a decimal integer)",
  }),
)

/** A page size: 1 to 1000. */
export const Limit = Schema.String.check(
  Schema.makeFilter((s: string) => /^\d{1,4}$/.test(s) && Number(s) >= 1 && Number(s) <= 1000, {
    expected: "a whole number from 1 to 1000",
  }),
).annotate({ description: "Items per page, 1 to 1000 (default 50)." })

/**
 * Waits until every read model includes `minPosition` (at most `timeoutMs`); fails at once for a
 * position no event has yet, and with ReadModelBehind when the wait runs out: never older data.
 */
export const readYourWrites = (minPosition: string | undefined, timeoutMs: number) =>
  Effect.gen(function* () {
    if (minPosition === undefined) return
    const position = BigInt(minPosition)
    const head = yield* (yield* EventStore).headPosition
    if (position > head) {
      return yield* new InvalidInput({
        errors: [
          {
            in: "query",
            path: "/minPosition",
            message: `No event has been written at position ${position} yet`,
          },
        ],
      })
    }
    const progress = yield* ProjectionProgress
    const reached = yield* progress.waitFor(position).pipe(Effect.timeoutOption(timeoutMs))
    if (Option.isNone(reached)) {
      const statuses = yield* progress.status
      const checkpoint = statuses.reduce((min, s) => (s.checkpoint < min ? s.checkpoint : min), head)
      return yield* new ReadModelBehind({ minPosition, position: String(checkpoint) })
    }
  })
