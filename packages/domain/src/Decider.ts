import type { Result } from "effect"

/**
 * The shape of a decider (Jérémie Chassaing's pattern): an initial state, `evolve` folding one event
 * into the state, and `decide` turning a command and the current state into events or an error.
 * Both functions are pure; time and ids come in on the command.
 */
export interface Decider<Command, Event, State, Error> {
  readonly initialState: State
  readonly evolve: (state: State, event: Event) => State
  readonly decide: (command: Command, state: State) => Result.Result<ReadonlyArray<Event>, Error>
}

/** The state after folding `events` into `from` (the decider's initial state by default). */
export const foldEvents = <Command, Event, State, Error>(
  decider: Decider<Command, Event, State, Error>,
  events: Iterable<Event>,
  from: State = decider.initialState,
): State => {
  let state = from
  for (const event of events) state = decider.evolve(state, event)
  return state
}
