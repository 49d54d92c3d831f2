/**
 * The rules a Customer command can break, one error per rule, named after the rule it protects.
 * The decider returns them as values; the API maps each tag to one HTTP status.
 */
import { Schema } from "effect"
import { ActorRole } from "./ActorRole.ts"
import { ContactId } from "./ContactId.ts"
import { CustomerId } from "./CustomerId.ts"
import { Instant } from "./Instant.ts"
import { LifecycleStage } from "./LifecycleStage.ts"

/** Only RegisterLead may address a customer that does not exist yet. */
export class CustomerNotFound extends Schema.TaggedError<CustomerNotFound>()("CustomerNotFound", {
  customerId: CustomerId,
  command: Schema.String,
}) {
  override get message(): string {
    return `Customer ${this.customerId} does not exist (command ${this.command})`
  }
}

/** A customer is registered once. */
export class CustomerAlreadyExists extends Schema.TaggedError<CustomerAlreadyExists>()(
  "CustomerAlreadyExists",
  {
    customerId: CustomerId,
  },
) {
  override get message(): string {
    return `Customer ${this.customerId} already exists`
  }
}

/** A lead that may duplicate an existing customer is registered only with a reason for allowing it. */
export class PossibleDuplicateCustomer extends Schema.TaggedError<PossibleDuplicateCustomer>()(
  "PossibleDuplicateCustomer",
  { customerId: CustomerId, duplicateOf: CustomerId },
) {
  override get message(): string {
    return `Customer ${this.customerId} may duplicate ${this.duplicateOf}; give a reason to register it anyway`
  }
}

/** The lifecycle moves only along its transition table; `lost` says the deal was marked lost. */
export class InvalidLifecycleTransition extends Schema.TaggedError<InvalidLifecycleTransition>()(
  "InvalidLifecycleTransition",
  { stage: LifecycleStage, lost: Schema.Boolean, command: Schema.String },
) {
  override get message(): string {
    return `${this.command} is not allowed for a ${this.lost ? "lost " : ""}${this.stage}`
  }
}

/** A frozen account accepts nothing but UnfreezeAccount. */
export class AccountIsFrozen extends Schema.TaggedError<AccountIsFrozen>()("AccountIsFrozen", {
  customerId: CustomerId,
  command: Schema.String,
  since: Instant,
}) {
  override get message(): string {
    return `Account ${this.customerId} is frozen since ${this.since}; ${this.command} is not accepted`
  }
}

/** Only a frozen account can be unfrozen. */
export class AccountNotFrozen extends Schema.TaggedError<AccountNotFrozen>()("AccountNotFrozen", {
  customerId: CustomerId,
}) {
  override get message(): string {
    return `Account ${this.customerId} is not frozen`
  }
}

/** A contact must belong to the account to be changed, removed or named on a follow-up. */
export class ContactNotFound extends Schema.TaggedError<ContactNotFound>()("ContactNotFound", {
  customerId: CustomerId,
  contactId: ContactId,
}) {
  override get message(): string {
    return `Customer ${this.customerId} has no contact ${this.contactId}`
  }
}

/** Contact ids are unique within an account. */
export class ContactAlreadyExists extends Schema.TaggedError<ContactAlreadyExists>()("ContactAlreadyExists", {
  customerId: CustomerId,
  contactId: ContactId,
}) {
  override get message(): string {
    return `Customer ${this.customerId} already has a contact ${this.contactId}`
  }
}

/** Business instants (`effectiveAt`, a follow-up's `at`) may be back-dated but never later than the command. */
export class BusinessDateInFuture extends Schema.TaggedError<BusinessDateInFuture>()("BusinessDateInFuture", {
  field: Schema.String,
  value: Instant,
  issuedAt: Instant,
}) {
  override get message(): string {
    return `${this.field} ${this.value} is later than the command's issuedAt ${this.issuedAt}`
  }
}

/** Each role may issue only the commands its permissions list. */
export class ActorNotPermitted extends Schema.TaggedError<ActorNotPermitted>()("ActorNotPermitted", {
  role: ActorRole,
  command: Schema.String,
}) {
  override get message(): string {
    return `A ${this.role} may not issue ${this.command}`
  }
}

/** Any rule a Customer command can break. */
export type CustomerRuleViolation =
  | CustomerNotFound
  | CustomerAlreadyExists
  | PossibleDuplicateCustomer
  | InvalidLifecycleTransition
  | AccountIsFrozen
  | AccountNotFrozen
  | ContactNotFound
  | ContactAlreadyExists
  | BusinessDateInFuture
  | ActorNotPermitted
