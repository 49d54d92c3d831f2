/**
 * Given/when/then for any decider: `given(events).when(command).then(events)` or
 * `.thenFails(tagOrError)`. Pure: the given events are folded with `evolve`, the command goes
 * through `decide`; no store, no mocks.
 */
import { Result } from "effect"
import { assert, expect } from "vitest"
import { type Decider, foldEvents } from "../Decider.ts"

/** The outcome half of a specification. */
export interface DeciderThen<Event, State, Err> {
  /**
   * Asserts the command is accepted with exactly these events and returns the state after them.
   * Named `then` because the specification reads given/when/then; do not `await` it.
   */
  readonly then: (expected: ReadonlyArray<Event>) => State
  /** Asserts the command is accepted with no events (a no-op) and returns the unchanged state. */
  readonly thenNothing: () => State
  /** Asserts the command is rejected: with an error of this `_tag`, or equal to this error. Returns the error. */
  readonly thenFails: (expected: string | Err) => Err
}

/** The "when" half of a specification. */
export interface DeciderWhen<Command, Event, State, Err> {
  readonly when: (command: Command) => DeciderThen<Event, State, Err>
}

/** Starts a specification from a history of events (none by default). */
export type DeciderGiven<Command, Event, State, Err> = (
  events?: ReadonlyArray<Event>,
) => DeciderWhen<Command, Event, State, Err>

/** Builds `given` for a decider: `const given = deciderSpecification(CustomerDecider)`. */
export const deciderSpecification =
  <Command, Event, State, Err>(
    decider: Decider<Command, Event, State, Err>,
  ): DeciderGiven<Command, Event, State, Err> =>
  (events = []) => ({
    when: (command) => {
      const state = foldEvents(decider, events)
      const result = decider.decide(command, state)
      const accepted = (expected: ReadonlyArray<Event>): State => {
        if (Result.isFailure(result)) {
          return assert.fail(`Expected events, but the command was rejected: ${String(result.failure)}`)
        }
        expect(result.success).toEqual(expected)
        return foldEvents(decider, result.success, state)
      }
      const thenFails = (expected: string | Err): Err => {
        if (Result.isSuccess(result)) {
          return assert.fail(
            `Expected a rejection, but the command emitted ${JSON.stringify(result.success)}`,
          )
        }
        const error = result.failure
        if (typeof expected === "string") {
          expect((error as { readonly _tag?: unknown })._tag).toBe(expected)
        } else {
          expect(Object.getPrototypeOf(error)).toBe(Object.getPrototypeOf(expected))
          expect({ ...error }).toEqual({ ...expected })
        }
        return error
      }
      // biome-ignore lint/suspicious/noThenProperty: the kit reads given/when/then; the object is never awaited.
      return { then: accepted, thenNothing: () => accepted([]), thenFails }
    },
  })
