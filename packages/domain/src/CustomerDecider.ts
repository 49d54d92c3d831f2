/**
 * The Customer decider: the state a customer's events fold into, `evolve` (the fold step) and
 * `decide` (the rules). Events and commands live in their own files; this file reads top-down:
 * state, evolve, decide.
 *
 * Lost deals: MarkDealLost keeps the customer in its stage (lead or prospect) and sets `lostDeal`.
 * While a deal is lost, the only lifecycle command accepted is ReopenLead, which makes it a lead
 * again; non-lifecycle commands (contacts, follow-ups, profile, tier, owner) still work, so a lost
 * lead can be nurtured.
 *
 * No-ops: a "setting" command whose target already holds returns no events (ChangeTier to the
 * current tier, ClassifyCustomer when the tier is already right, AssignOwner to the current owner
 * and department, UpdateProfile or UpdateContact that change nothing). A transition that is not
 * allowed is an error, never a silent no-op.
 */
import { Result, Schema } from "effect"
import { absurd } from "effect/Function"
import { ActorId } from "./ActorId.ts"
import { ClassificationPolicy, classify, defaultClassificationPolicy } from "./Classification.ts"
import { CommandPermissions, defaultCommandPermissions, makePermissionCheck } from "./CommandPermissions.ts"
import { Contact } from "./Contact.ts"
import type { ContactId } from "./ContactId.ts"
import type * as Command from "./CustomerCommand.ts"
import type { CustomerCommand, CustomerCommandType } from "./CustomerCommand.ts"
import type * as Event from "./CustomerEvent.ts"
import type { CustomerEvent } from "./CustomerEvent.ts"
import { CustomerId } from "./CustomerId.ts"
import { CustomerProfile } from "./CustomerProfile.ts"
import {
  AccountIsFrozen,
  AccountNotFrozen,
  ActorNotPermitted,
  BusinessDateInFuture,
  ContactAlreadyExists,
  ContactNotFound,
  CustomerAlreadyExists,
  CustomerNotFound,
  type CustomerRuleViolation,
  InvalidLifecycleTransition,
  PossibleDuplicateCustomer,
} from "./CustomerRuleViolation.ts"
import type { Decider } from "./Decider.ts"
import { Department } from "./Department.ts"
import { Instant, latestInstant } from "./Instant.ts"
import { LeadSource } from "./LeadSource.ts"
import { LifecycleStage } from "./LifecycleStage.ts"
import {
  defaultLoyaltyPolicy,
  describeLoyaltyRule,
  isLoyaltyRuleMet,
  LoyaltyPolicy,
  recentPurchaseLimit,
} from "./LoyaltyPolicy.ts"
import { CurrencyCode } from "./Money.ts"
import type { Purchase } from "./Purchase.ts"
import { Reason } from "./Reason.ts"
import { defaultTier, Tier } from "./Tier.ts"

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Since = Schema.Struct({ reason: Reason, since: Instant })

/** Before its first event: the customer does not exist. */
export const UnregisteredCustomer = Schema.Struct({ status: Schema.Literal("unregistered") })
export type UnregisteredCustomer = typeof UnregisteredCustomer.Type

/** What a registered customer's history adds up to: everything the customer card shows. */
export const RegisteredCustomer = Schema.Struct({
  status: Schema.Literal("registered"),
  customerId: CustomerId,
  profile: CustomerProfile,
  source: LeadSource,
  stage: LifecycleStage,
  /** When the customer entered its current stage. */
  stageSince: Instant,
  /** Set while the deal with a lead or prospect is lost; only ReopenLead clears it. */
  lostDeal: Schema.NullOr(Since),
  /** The most recent churn, kept after a win-back. */
  lastChurn: Schema.NullOr(Since),
  winBacks: Count,
  tier: Tier,
  tierSince: Instant,
  owner: ActorId,
  department: Schema.NullOr(Department),
  frozen: Schema.NullOr(Since),
  contacts: Schema.Array(Contact),
  purchases: Schema.Struct({
    /** Every purchase, the first (converting) one included. */
    count: Count,
    /** Total spent per currency, in minor units. */
    totals: Schema.Record(CurrencyCode, Count),
    firstAt: Schema.NullOr(Instant),
    lastAt: Schema.NullOr(Instant),
    /** The most recent purchase instants (at most `recentPurchaseLimit`), oldest first. */
    recent: Schema.Array(Instant),
  }),
  followUps: Count,
  lastFollowUpAt: Schema.NullOr(Instant),
  duplicateOf: Schema.NullOr(CustomerId),
  registeredAt: Instant,
  /** The latest business instant of any event. */
  updatedAt: Instant,
})
export type RegisteredCustomer = typeof RegisteredCustomer.Type

/** A customer's state, keyed on `status`. */
export const CustomerState = Schema.Union([UnregisteredCustomer, RegisteredCustomer])
export type CustomerState = typeof CustomerState.Type

/** The state before any event. */
export const initialState: CustomerState = { status: "unregistered" }

// ---------------------------------------------------------------------------------------------
// Evolve
// ---------------------------------------------------------------------------------------------

const registered = (event: Event.LeadRegistered): RegisteredCustomer => ({
  status: "registered",
  customerId: event.customerId,
  profile: event.profile,
  source: event.source,
  stage: "lead",
  stageSince: event.occurredAt,
  lostDeal: null,
  lastChurn: null,
  winBacks: 0,
  tier: event.tier,
  tierSince: event.occurredAt,
  owner: event.owner,
  department: event.department ?? null,
  frozen: null,
  contacts: [],
  purchases: { count: 0, totals: {}, firstAt: null, lastAt: null, recent: [] },
  followUps: 0,
  lastFollowUpAt: null,
  duplicateOf: event.duplicateOf ?? null,
  registeredAt: event.occurredAt,
  updatedAt: event.occurredAt,
})

/** Applies a change set: a given field is set, `null` removes it. */
const applyChanges = <T extends object>(target: T, changes: { readonly [key: string]: unknown }): T => {
  // Builds a fresh object rather than `delete`-ing keys, which would leave it slow to copy later.
  const source = target as { readonly [key: string]: unknown }
  const result: Record<string, unknown> = {}
  for (const key in source) {
    const change = changes[key]
    const value = change === undefined ? source[key] : change
    if (value !== null) result[key] = value
  }
  for (const key in changes) {
    const value = changes[key]
    if (!(key in source) && value !== null && value !== undefined) result[key] = value
  }
  return result as T
}

const withPurchase = (
  purchases: RegisteredCustomer["purchases"],
  purchase: Purchase,
  at: Instant,
): RegisteredCustomer["purchases"] => {
  const { currency, amountMinor } = purchase.amount
  return {
    count: purchases.count + 1,
    totals: { ...purchases.totals, [currency]: (purchases.totals[currency] ?? 0) + amountMinor },
    firstAt: purchases.firstAt === null || at < purchases.firstAt ? at : purchases.firstAt,
    lastAt: purchases.lastAt === null ? at : latestInstant(purchases.lastAt, at),
    recent: withRecentPurchase(purchases.recent, at),
  }
}

/** Inserts an instant into the sorted list of recent purchases, keeping the newest `recentPurchaseLimit`. */
const withRecentPurchase = (recent: ReadonlyArray<Instant>, at: Instant): ReadonlyArray<Instant> => {
  // Back-dated purchases arrive out of order, but most arrive last: scan from the end, no sort.
  let index = recent.length
  while (index > 0 && (recent[index - 1] as Instant) > at) index--
  const full = recent.length >= recentPurchaseLimit
  if (full && index === 0) return recent // older than every purchase kept
  return [...recent.slice(full ? 1 : 0, index), at, ...recent.slice(index)]
}

const evolveRegistered = (state: RegisteredCustomer, event: CustomerEvent): RegisteredCustomer => {
  const at = event.occurredAt
  const updatedAt = latestInstant(state.updatedAt, at)
  switch (event._tag) {
    case "LeadRegistered":
      // A second registration cannot be decided; ignore it rather than rewrite history.
      return state
    case "LeadQualified":
      return { ...state, stage: "prospect", stageSince: at, updatedAt }
    case "DealLost":
      return { ...state, lostDeal: { reason: event.reason, since: at }, updatedAt }
    case "LeadReopened":
      return { ...state, stage: "lead", stageSince: at, lostDeal: null, updatedAt }
    case "CustomerConverted":
      return {
        ...state,
        stage: "customer",
        stageSince: at,
        lostDeal: null,
        purchases: withPurchase(state.purchases, event.firstPurchase, at),
        updatedAt,
      }
    case "PurchaseRecorded":
      return { ...state, purchases: withPurchase(state.purchases, event, at), updatedAt }
    case "CustomerBecameLoyal":
      return { ...state, stage: "loyal", stageSince: at, updatedAt }
    case "CustomerChurned":
      return {
        ...state,
        stage: "churned",
        stageSince: at,
        lastChurn: { reason: event.reason, since: at },
        updatedAt,
      }
    case "CustomerWinBackStarted":
      return { ...state, stage: "prospect", stageSince: at, winBacks: state.winBacks + 1, updatedAt }
    case "TierChanged":
      return { ...state, tier: event.to, tierSince: at, updatedAt }
    case "AccountFrozen":
      return { ...state, frozen: { reason: event.reason, since: at }, updatedAt }
    case "AccountUnfrozen":
      return { ...state, frozen: null, updatedAt }
    case "OwnerAssigned":
      return { ...state, owner: event.to, department: event.department ?? state.department, updatedAt }
    case "ContactAdded":
      return { ...state, contacts: [...state.contacts, event.contact], updatedAt }
    case "ContactUpdated":
      return {
        ...state,
        contacts: state.contacts.map((contact) =>
          contact.contactId === event.contactId ? applyChanges(contact, event.changes) : contact,
        ),
        updatedAt,
      }
    case "ContactRemoved":
      return {
        ...state,
        contacts: state.contacts.filter((contact) => contact.contactId !== event.contactId),
        updatedAt,
      }
    case "FollowUpRecorded":
      return {
        ...state,
        followUps: state.followUps + 1,
        lastFollowUpAt:
          state.lastFollowUpAt === null ? event.at : latestInstant(state.lastFollowUpAt, event.at),
        updatedAt,
      }
    case "ProfileUpdated":
      return { ...state, profile: applyChanges(state.profile, event.changes), updatedAt }
    default:
      return absurd(event)
  }
}

/**
 * Folds one event into the state. Total: an event that cannot apply (anything but LeadRegistered
 * before registration, a second LeadRegistered) leaves the state as it is, so a projection never
 * crashes on a stream it did not write.
 */
export const evolve = (state: CustomerState, event: CustomerEvent): CustomerState => {
  switch (state.status) {
    case "unregistered":
      return event._tag === "LeadRegistered" ? registered(event) : state
    case "registered":
      return evolveRegistered(state, event)
    default:
      return absurd(state)
  }
}

// ---------------------------------------------------------------------------------------------
// Decide
// ---------------------------------------------------------------------------------------------

/** The configurable policies the decider applies. */
export const CustomerPolicies = Schema.Struct({
  loyalty: LoyaltyPolicy,
  classification: ClassificationPolicy,
  permissions: CommandPermissions,
})
export type CustomerPolicies = typeof CustomerPolicies.Type

/** The policies `CustomerDecider` uses. */
export const defaultCustomerPolicies: CustomerPolicies = {
  loyalty: defaultLoyaltyPolicy,
  classification: defaultClassificationPolicy,
  permissions: defaultCommandPermissions,
}

/** The Customer decider's shape. */
export type CustomerDecider = Decider<CustomerCommand, CustomerEvent, CustomerState, CustomerRuleViolation>

type Decision = Result.Result<ReadonlyArray<CustomerEvent>, CustomerRuleViolation>

const accept = (...events: ReadonlyArray<CustomerEvent>): Decision => Result.succeed(events)
const nothing: Decision = Result.succeed([])
const reject = (error: CustomerRuleViolation): Decision => Result.fail(error)

type EnvelopeKey = keyof Command.CommandEnvelope | "_tag"

/** The command's own fields, without its envelope: for most commands, exactly the event's fields. */
const payload = <C extends CustomerCommand>(command: C): Omit<C, EnvelopeKey> => {
  const {
    _tag,
    commandId,
    customerId,
    actor,
    issuedAt,
    effectiveAt,
    correlationId,
    causationId,
    ...rest
  }: Command.CommandEnvelope & { readonly _tag: string } = command
  return rest as Omit<C, EnvelopeKey>
}

/** Keeps only the fields whose value differs from `current` (absent and `null` are the same). */
const realChanges = <C extends { readonly [key: string]: unknown }>(
  current: { readonly [key: string]: unknown },
  changes: C,
): Partial<C> | undefined => {
  const result: Record<string, unknown> = {}
  let changed = false
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue
    if ((value ?? undefined) !== current[key]) {
      result[key] = value
      changed = true
    }
  }
  return changed ? (result as Partial<C>) : undefined
}

const findContact = (state: RegisteredCustomer, contactId: ContactId): Contact | undefined =>
  state.contacts.find((contact) => contact.contactId === contactId)

/** Builds a Customer decider that applies the given policies (the defaults where not given). */
export const makeCustomerDecider = (policies: Partial<CustomerPolicies> = {}): CustomerDecider => {
  // Checked once, here: a bad configuration fails at start-up, not on some later command.
  const { loyalty, classification, permissions } = Schema.decodeUnknownSync(CustomerPolicies)({
    ...defaultCustomerPolicies,
    ...policies,
  })
  const isPermitted = makePermissionCheck(permissions)
  const loyaltyRule = describeLoyaltyRule(loyalty)

  const decideRegistered = (command: CustomerCommand, state: RegisteredCustomer, at: Instant): Decision => {
    const customerId = command.customerId
    const base = { customerId, occurredAt: at }
    const notAllowed = (): Decision =>
      reject(
        new InvalidLifecycleTransition({
          stage: state.stage,
          lost: state.lostDeal !== null,
          command: command._tag,
        }),
      )
    const transition = (allowed: boolean, event: CustomerEvent): Decision =>
      allowed ? accept(event) : notAllowed()
    const open = state.lostDeal === null
    switch (command._tag) {
      case "RegisterLead":
        return reject(new CustomerAlreadyExists({ customerId }))
      case "QualifyLead":
        return transition(state.stage === "lead" && open, {
          _tag: "LeadQualified",
          ...base,
          ...payload(command),
        })
      case "MarkDealLost":
        return transition((state.stage === "lead" || state.stage === "prospect") && open, {
          _tag: "DealLost",
          ...base,
          ...payload(command),
        })
      case "ReopenLead":
        return transition(!open, { _tag: "LeadReopened", ...base, ...payload(command) })
      case "ConvertToCustomer":
        return transition(state.stage === "prospect" && open, {
          _tag: "CustomerConverted",
          ...base,
          ...payload(command),
        })
      case "RecordPurchase": {
        if (state.stage !== "customer" && state.stage !== "loyal") return notAllowed()
        const recorded: CustomerEvent = { _tag: "PurchaseRecorded", ...base, ...payload(command) }
        const becomesLoyal =
          state.stage === "customer" && isLoyaltyRuleMet(loyalty, [...state.purchases.recent, at], at)
        return becomesLoyal
          ? accept(recorded, {
              _tag: "CustomerBecameLoyal",
              ...base,
              by: "policy",
              reason: `Met the loyalty rule: ${loyaltyRule}`,
              rule: loyaltyRule,
            })
          : accept(recorded)
      }
      case "PromoteToLoyal":
        return transition(state.stage === "customer", {
          _tag: "CustomerBecameLoyal",
          ...base,
          by: "hand",
          reason: command.reason,
        })
      case "ChurnCustomer":
        return transition(state.stage === "customer" || state.stage === "loyal", {
          _tag: "CustomerChurned",
          ...base,
          ...payload(command),
        })
      case "WinBackCustomer":
        return transition(state.stage === "churned", {
          _tag: "CustomerWinBackStarted",
          ...base,
          ...payload(command),
        })
      case "ChangeTier":
        return command.to === state.tier
          ? nothing
          : accept({ _tag: "TierChanged", ...base, from: state.tier, ...payload(command) })
      case "ClassifyCustomer": {
        const { tier, ...explanation } = classify(classification, state, at)
        return tier === state.tier
          ? nothing
          : accept({
              _tag: "TierChanged",
              ...base,
              from: state.tier,
              to: tier,
              reason:
                command.reason ??
                `Classified ${tier} by ${explanation.ruleVersion} with score ${explanation.score}`,
              classification: explanation,
            })
      }
      case "FreezeAccount":
        // A frozen account never gets here: it was rejected as AccountIsFrozen.
        return accept({ _tag: "AccountFrozen", ...base, ...payload(command) })
      case "UnfreezeAccount":
        return state.frozen === null
          ? reject(new AccountNotFrozen({ customerId }))
          : accept({ _tag: "AccountUnfrozen", ...base, ...payload(command) })
      case "AssignOwner": {
        const department =
          command.department !== undefined && command.department !== state.department
            ? command.department
            : undefined
        if (command.to === state.owner && department === undefined) return nothing
        return accept({
          _tag: "OwnerAssigned",
          ...base,
          from: state.owner,
          to: command.to,
          ...(department === undefined ? {} : { department }),
          ...(command.reason === undefined ? {} : { reason: command.reason }),
        })
      }
      case "AddContact":
        return findContact(state, command.contact.contactId) !== undefined
          ? reject(new ContactAlreadyExists({ customerId, contactId: command.contact.contactId }))
          : accept({ _tag: "ContactAdded", ...base, ...payload(command) })
      case "UpdateContact": {
        const contact = findContact(state, command.contactId)
        if (contact === undefined)
          return reject(new ContactNotFound({ customerId, contactId: command.contactId }))
        const changes = realChanges(contact, command.changes)
        return changes === undefined
          ? nothing
          : accept({ _tag: "ContactUpdated", ...base, contactId: command.contactId, changes })
      }
      case "RemoveContact":
        return findContact(state, command.contactId) === undefined
          ? reject(new ContactNotFound({ customerId, contactId: command.contactId }))
          : accept({ _tag: "ContactRemoved", ...base, ...payload(command) })
      case "RecordFollowUp": {
        if (command.contactId !== undefined && findContact(state, command.contactId) === undefined) {
          return reject(new ContactNotFound({ customerId, contactId: command.contactId }))
        }
        return accept({ _tag: "FollowUpRecorded", ...base, ...payload(command), at: command.at ?? at })
      }
      case "UpdateProfile": {
        const changes = realChanges(state.profile, command.changes)
        return changes === undefined ? nothing : accept({ _tag: "ProfileUpdated", ...base, changes })
      }
      default:
        return absurd(command)
    }
  }

  const registerLead = (command: Command.RegisterLead, at: Instant): Decision => {
    if (command.duplicateOf !== undefined && command.allowDuplicateReason === undefined) {
      return reject(
        new PossibleDuplicateCustomer({ customerId: command.customerId, duplicateOf: command.duplicateOf }),
      )
    }
    const { tier, ...rest } = payload(command)
    return accept({
      _tag: "LeadRegistered",
      customerId: command.customerId,
      occurredAt: at,
      ...rest,
      tier: tier ?? defaultTier,
    })
  }

  const futureDate = (command: CustomerCommand): BusinessDateInFuture | undefined => {
    if (command.effectiveAt !== undefined && command.effectiveAt > command.issuedAt) {
      return new BusinessDateInFuture({
        field: "effectiveAt",
        value: command.effectiveAt,
        issuedAt: command.issuedAt,
      })
    }
    if (command._tag === "RecordFollowUp" && command.at !== undefined && command.at > command.issuedAt) {
      return new BusinessDateInFuture({ field: "at", value: command.at, issuedAt: command.issuedAt })
    }
    return undefined
  }

  const decide = (command: CustomerCommand, state: CustomerState): Decision => {
    const type: CustomerCommandType = command._tag
    if (!isPermitted(command.actor.role, type)) {
      return reject(new ActorNotPermitted({ role: command.actor.role, command: type }))
    }
    const inFuture = futureDate(command)
    if (inFuture !== undefined) return reject(inFuture)
    const at = command.effectiveAt ?? command.issuedAt
    switch (state.status) {
      case "unregistered":
        return command._tag === "RegisterLead"
          ? registerLead(command, at)
          : reject(new CustomerNotFound({ customerId: command.customerId, command: type }))
      case "registered":
        if (state.frozen !== null && command._tag !== "UnfreezeAccount") {
          return reject(
            new AccountIsFrozen({ customerId: state.customerId, command: type, since: state.frozen.since }),
          )
        }
        return decideRegistered(command, state, at)
      default:
        return absurd(state)
    }
  }

  return { initialState, evolve, decide }
}

/** The Customer decider with the default policies. */
export const CustomerDecider: CustomerDecider = makeCustomerDecider()

/** Decides a command with the default policies. */
export const decide = CustomerDecider.decide
