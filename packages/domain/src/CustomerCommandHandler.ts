/**
 * The command handler wired for the Customer: one stream per customer (`customer-<id>`), the
 * Customer decider, its event codec, its metadata, and snapshots of its state.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import {
  type CommandHandler,
  type CommandHandlerConfig,
  type EventSourcedModel,
  makeCommandHandler,
} from "./CommandHandler.ts"
import type { CustomerCommand } from "./CustomerCommand.ts"
import {
  CustomerDecider,
  type CustomerDecider as CustomerDeciderShape,
  CustomerState,
} from "./CustomerDecider.ts"
import type { CustomerEvent } from "./CustomerEvent.ts"
import {
  type CustomerEventDecodeError,
  decodeCustomerEvent,
  encodeCustomerEvent,
} from "./CustomerEventCodec.ts"
import { customerStreamId } from "./CustomerId.ts"
import type { CustomerRuleViolation } from "./CustomerRuleViolation.ts"
import { EventStore, type JsonObject } from "./EventStore.ts"
import { SnapshotStore } from "./SnapshotStore.ts"

/** The prefix of every customer stream; projections subscribe with it. */
export const customerStreamPrefix = "customer-"

/** Bump when CustomerState's shape changes: older snapshots are then ignored and rebuilt from events. */
export const customerStateSchemaVersion = 1

const encodeState = Schema.encodeSync(CustomerState)
const decodeState = Schema.decodeUnknownResult(CustomerState)

/** The metadata every event of a command carries: who, why, under which correlation, effective when. */
export const customerEventMetadata = (command: CustomerCommand): JsonObject => {
  const metadata: Record<string, JsonObject[string]> = {
    commandType: command._tag,
    actor: { id: command.actor.id, role: command.actor.role },
    correlationId: command.correlationId ?? command.commandId,
    causationId: command.causationId ?? command.commandId,
  }
  if (command.effectiveAt !== undefined) metadata.effectiveAt = command.effectiveAt
  if ("reason" in command && typeof command.reason === "string") metadata.reason = command.reason
  return metadata
}

/** The Customer as the command handler stores it, for a given decider (policies). */
export const customerModel = (
  decider: CustomerDeciderShape = CustomerDecider,
): EventSourcedModel<
  CustomerCommand,
  CustomerEvent,
  CustomerState,
  CustomerRuleViolation,
  CustomerEventDecodeError
> => ({
  decider,
  streamIdOf: (command) => customerStreamId(command.customerId),
  commandIdOf: (command) => command.commandId,
  encodeEvent: encodeCustomerEvent,
  decodeEvent: decodeCustomerEvent,
  metadataOf: customerEventMetadata,
  snapshot: {
    stateSchemaVersion: customerStateSchemaVersion,
    encode: (state) => encodeState(state) as JsonObject,
    decode: decodeState,
  },
})

export type CustomerCommandHandlerService = CommandHandler<
  CustomerCommand,
  CustomerEvent,
  CustomerState,
  CustomerRuleViolation
>

/** The Customer command handler as a service: needs an EventStore, uses a SnapshotStore when one is provided. */
export class CustomerCommandHandler extends Context.Service<
  CustomerCommandHandler,
  CustomerCommandHandlerService
>()("@relata/domain/CustomerCommandHandler") {
  static readonly layer = (
    options: { readonly decider?: CustomerDeciderShape; readonly config?: CommandHandlerConfig } = {},
  ): Layer.Layer<CustomerCommandHandler, never, EventStore> =>
    Layer.effect(
      CustomerCommandHandler,
      Effect.gen(function* () {
        const eventStore = yield* EventStore
        const snapshotStore = Option.getOrUndefined(yield* Effect.serviceOption(SnapshotStore))
        return makeCommandHandler(
          customerModel(options.decider),
          snapshotStore === undefined ? { eventStore } : { eventStore, snapshotStore },
          options.config,
        )
      }),
    )
}
