/**
 * The command handler the API runs commands through: the domain's handler (load, decide, append
 * with the expected version, retry conflicts, idempotency) over the Customer decider plus one rule
 * of the API's access model: a rep changes only the customers they own. The rule sits inside
 * `decide`, so it is checked against the same state the decision uses, atomically with the append:
 * a handover racing with a rep's command cannot let the command through.
 */
import {
  type CommandHandler,
  type CommandHandlerConfig,
  type CustomerCommand,
  CustomerDecider,
  type CustomerEvent,
  type CustomerRuleViolation,
  type CustomerState,
  customerModel,
  type Decider,
  EventStore,
  makeCommandHandler,
  SnapshotStore,
} from "@relata/domain"
import { Context, Effect, Layer, Option, Result } from "effect"
import { NotCustomerOwner } from "./ApiError.ts"

/** The rules a command can break through the API: the domain's, and ownership. */
export type ApiRuleViolation = CustomerRuleViolation | NotCustomerOwner

/** A Customer decider that also rejects a rep's command on a customer someone else owns. */
export const withOwnershipRule = (
  decider: Decider<CustomerCommand, CustomerEvent, CustomerState, CustomerRuleViolation>,
): Decider<CustomerCommand, CustomerEvent, CustomerState, ApiRuleViolation> => ({
  initialState: decider.initialState,
  evolve: decider.evolve,
  decide: (command, state) => {
    if (command.actor.role === "rep") {
      const owner =
        state.status === "registered"
          ? state.owner
          : command._tag === "RegisterLead"
            ? command.owner
            : command.actor.id
      if (owner !== command.actor.id) {
        return Result.fail(new NotCustomerOwner({ customerId: command.customerId, command: command._tag }))
      }
    }
    return decider.decide(command, state)
  },
})

export type ApiCommandHandlerService = CommandHandler<
  CustomerCommand,
  CustomerEvent,
  CustomerState,
  ApiRuleViolation
>

/** The API's Customer command handler: needs an EventStore, uses a SnapshotStore when provided. */
export class ApiCommandHandler extends Context.Service<ApiCommandHandler, ApiCommandHandlerService>()(
  "@relata/api/ApiCommandHandler",
) {
  static readonly layer = (
    config: CommandHandlerConfig = {},
  ): Layer.Layer<ApiCommandHandler, never, EventStore> =>
    Layer.effect(
      ApiCommandHandler,
      Effect.gen(function* () {
        const eventStore = yield* EventStore
        const snapshotStore = Option.getOrUndefined(yield* Effect.serviceOption(SnapshotStore))
        const model = { ...customerModel(), decider: withOwnershipRule(CustomerDecider) }
        return makeCommandHandler(
          model,
          snapshotStore === undefined ? { eventStore } : { eventStore, snapshotStore },
          config,
        )
      }),
    )
}
