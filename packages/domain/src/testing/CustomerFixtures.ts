/**
 * Terse, valid Customer commands for tests: `customerCommand("QualifyLead", {})` fills the envelope
 * (command id, customer, a manager as actor, an issue instant) with fixed defaults that any test can
 * override. Histories for projection tests come from running such commands through the decider.
 */
import { Result } from "effect"
import { ActorId } from "../ActorId.ts"
import { CommandId } from "../CommandId.ts"
import type { CommandEnvelope, CustomerCommand, CustomerCommandType } from "../CustomerCommand.ts"
import { CustomerDecider } from "../CustomerDecider.ts"
import type { CustomerEvent } from "../CustomerEvent.ts"
import { CustomerId } from "../CustomerId.ts"
import { foldEvents } from "../Decider.ts"
import { Instant } from "../Instant.ts"

/** The envelope `customerCommand` uses unless told otherwise. */
export const fixtureEnvelope: CommandEnvelope = {
  commandId: CommandId.make("command-1"),
  customerId: CustomerId.make("customer-1"),
  actor: { id: ActorId.make("manager-1"), role: "manager" },
  issuedAt: Instant.make("2024-01-15T09:00:00.000Z"),
}

/** The fields of one command type, without the envelope. */
export type CommandFields<T extends CustomerCommandType> = Omit<
  Extract<CustomerCommand, { readonly _tag: T }>,
  keyof CommandEnvelope | "_tag"
>

/** A command of `type` with the given fields; the envelope defaults to `fixtureEnvelope`. */
export const customerCommand = <T extends CustomerCommandType>(
  type: T,
  fields: CommandFields<T>,
  envelope: Partial<CommandEnvelope> = {},
): Extract<CustomerCommand, { readonly _tag: T }> =>
  ({ _tag: type, ...fixtureEnvelope, ...envelope, ...fields }) as unknown as Extract<
    CustomerCommand,
    { readonly _tag: T }
  >

/**
 * Runs commands through the default decider, one after the other, and returns every event they
 * emitted. A rejected command is a mistake in the test's setup, so it throws.
 */
export const historyOf = (commands: ReadonlyArray<CustomerCommand>): ReadonlyArray<CustomerEvent> => {
  const events: Array<CustomerEvent> = []
  let state = CustomerDecider.initialState
  for (const command of commands) {
    const result = CustomerDecider.decide(command, state)
    if (Result.isFailure(result)) throw result.failure
    events.push(...result.success)
    state = foldEvents(CustomerDecider, result.success, state)
  }
  return events
}
