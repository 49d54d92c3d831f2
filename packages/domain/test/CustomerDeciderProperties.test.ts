import {
  type ActorId,
  addDays,
  addMonths,
  type ContactId,
  type CustomerCommand,
  type CustomerCommandType,
  CustomerDecider,
  type CustomerEvent,
  CustomerState,
  decodeCustomerEvent,
  encodeCustomerEvent,
  foldEvents,
  type Instant,
  LifecycleStage,
  lifecycleCommandTypes,
  type Tier,
} from "@relata/domain"
import { Result, Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { owners, type Step, steps, toCommand } from "./CustomerCommandSequences.ts"
import { t0 } from "./CustomerTestData.ts"
import { type Position, positionOf, stageOf, transitions } from "./LifecycleReferenceModel.ts"

const numRuns = 1_000

/** The reference model: just enough of a customer to predict every decision's outcome. */
interface Model {
  readonly registered: boolean
  readonly position: Position
  readonly frozen: boolean
  readonly tier: Tier
  readonly owner: ActorId
  readonly contacts: ReadonlySet<ContactId>
  readonly purchases: ReadonlyArray<Instant>
}
const unregistered: Model = {
  registered: false,
  position: "lead",
  frozen: false,
  tier: "D",
  owner: owners[0] as ActorId,
  contacts: new Set(),
  purchases: [],
}

const managerOnly: ReadonlyArray<CustomerCommandType> = ["FreezeAccount", "UnfreezeAccount", "AssignOwner"]
const isLifecycle = (type: CustomerCommandType): type is (typeof lifecycleCommandTypes)[number] =>
  (lifecycleCommandTypes as ReadonlyArray<string>).includes(type)

/** What the model expects: a rejection's tag, or acceptance with the model's next state. */
type Expectation = { readonly rejected: string } | { readonly accepted: Model }

const expectation = (model: Model, command: CustomerCommand): Expectation => {
  const role = command.actor.role
  if (role === "viewer" || role === "auditor" || (role === "rep" && managerOnly.includes(command._tag))) {
    return { rejected: "ActorNotPermitted" }
  }
  if (command.effectiveAt !== undefined && command.effectiveAt > command.issuedAt) {
    return { rejected: "BusinessDateInFuture" }
  }
  const at = command.effectiveAt ?? command.issuedAt
  if (!model.registered) {
    if (command._tag !== "RegisterLead") return { rejected: "CustomerNotFound" }
    if (command.duplicateOf !== undefined && command.allowDuplicateReason === undefined) {
      return { rejected: "PossibleDuplicateCustomer" }
    }
    return { accepted: { ...unregistered, registered: true, owner: command.owner } }
  }
  if (model.frozen && command._tag !== "UnfreezeAccount") return { rejected: "AccountIsFrozen" }
  if (isLifecycle(command._tag)) {
    const target = transitions[command._tag][model.position]
    if (target === undefined) return { rejected: "InvalidLifecycleTransition" }
    const purchases =
      command._tag === "RecordPurchase" || command._tag === "ConvertToCustomer"
        ? [...model.purchases, at]
        : model.purchases
    const windowStart = addMonths(at, -12)
    const loyalByPolicy =
      command._tag === "RecordPurchase" &&
      target === "customer" &&
      purchases.filter((p) => p >= windowStart && p <= at).length >= 3
    return { accepted: { ...model, position: loyalByPolicy ? "loyal" : target, purchases } }
  }
  switch (command._tag) {
    case "RegisterLead":
      return { rejected: "CustomerAlreadyExists" }
    case "ChangeTier":
      return { accepted: { ...model, tier: command.to } }
    case "ClassifyCustomer":
      return { accepted: model } // the tier follows the emitted event, checked separately
    case "FreezeAccount":
      return { accepted: { ...model, frozen: true } }
    case "UnfreezeAccount":
      return model.frozen ? { accepted: { ...model, frozen: false } } : { rejected: "AccountNotFrozen" }
    case "AssignOwner":
      return { accepted: { ...model, owner: command.to } }
    case "AddContact":
      return model.contacts.has(command.contact.contactId)
        ? { rejected: "ContactAlreadyExists" }
        : { accepted: { ...model, contacts: new Set([...model.contacts, command.contact.contactId]) } }
    case "UpdateContact":
      return model.contacts.has(command.contactId) ? { accepted: model } : { rejected: "ContactNotFound" }
    case "RemoveContact":
      return model.contacts.has(command.contactId)
        ? {
            accepted: {
              ...model,
              contacts: new Set([...model.contacts].filter((c) => c !== command.contactId)),
            },
          }
        : { rejected: "ContactNotFound" }
    case "RecordFollowUp":
      return command.contactId !== undefined && !model.contacts.has(command.contactId)
        ? { rejected: "ContactNotFound" }
        : { accepted: model }
    case "UpdateProfile":
      return { accepted: model }
    default:
      return { rejected: "unexpected command" }
  }
}

interface Run {
  readonly command: CustomerCommand
  readonly before: CustomerState
  readonly after: CustomerState
  readonly result: Result.Result<ReadonlyArray<CustomerEvent>, { readonly _tag: string }>
  readonly modelBefore: Model
}

/** Runs steps through the decider, yielding each decision with the states around it. */
const run = (
  steps: ReadonlyArray<Step>,
): {
  readonly runs: ReadonlyArray<Run>
  readonly events: ReadonlyArray<CustomerEvent>
  readonly state: CustomerState
} => {
  let state = CustomerDecider.initialState
  let model = unregistered
  let issuedAt = t0
  const runs: Array<Run> = []
  const events: Array<CustomerEvent> = []
  steps.forEach((s, index) => {
    issuedAt = addDays(issuedAt, s.daysLater)
    const command = toCommand(s, issuedAt, index)
    const result = CustomerDecider.decide(command, state)
    const before = state
    const modelBefore = model
    if (Result.isSuccess(result)) {
      events.push(...result.success)
      state = foldEvents(CustomerDecider, result.success, state)
      const expected = expectation(model, command)
      if ("accepted" in expected) model = expected.accepted
      if (state.status === "registered") model = { ...model, tier: state.tier }
    }
    runs.push({ command, before, after: state, result, modelBefore })
  })
  return { runs, events, state }
}

describe("CustomerDecider properties", () => {
  it("agrees with the reference model on every decision, and the stage is always legal", () => {
    fc.assert(
      fc.property(steps, (s) => {
        for (const { command, result, modelBefore, after } of run(s).runs) {
          const expected = expectation(modelBefore, command)
          if ("rejected" in expected) {
            expect(Result.isFailure(result) && result.failure._tag).toBe(expected.rejected)
            continue
          }
          expect(Result.isSuccess(result)).toBe(true)
          expect(after.status).toBe("registered")
          if (after.status !== "registered") continue
          expect(LifecycleStage.literals).toContain(after.stage)
          expect(positionOf(after.stage, after.lostDeal !== null)).toBe(expected.accepted.position)
          expect(after.stage).toBe(stageOf(expected.accepted.position))
          expect(after.frozen !== null).toBe(expected.accepted.frozen)
          expect(new Set(after.contacts.map((c) => c.contactId))).toEqual(expected.accepted.contacts)
          if (command._tag !== "ClassifyCustomer") expect(after.tier).toBe(expected.accepted.tier)
          expect(after.owner).toBe(expected.accepted.owner)
        }
      }),
      { numRuns },
    )
  })

  it("a rejected command emits nothing and leaves the state as it was", () => {
    fc.assert(
      fc.property(steps, (s) => {
        for (const { result, before, after } of run(s).runs) {
          if (Result.isFailure(result)) expect(after).toBe(before)
        }
      }),
      { numRuns },
    )
  })

  it("folding the emitted events reproduces the state, also through storage, and the state is valid JSON", () => {
    fc.assert(
      fc.property(steps, (s) => {
        const { events, state } = run(s)
        expect(foldEvents(CustomerDecider, events)).toEqual(state)
        const stored = events.map((event) => JSON.parse(JSON.stringify(encodeCustomerEvent(event))))
        const decoded = stored.map((event) => Result.getOrThrow(decodeCustomerEvent(event)))
        expect(foldEvents(CustomerDecider, decoded)).toEqual(state)
        // The state is JSON too, so a read model can store the card as it is.
        expect(Schema.decodeUnknownSync(CustomerState)(JSON.parse(JSON.stringify(state)))).toEqual(state)
      }),
      { numRuns },
    )
  })

  it("a frozen account rejects every command but UnfreezeAccount", () => {
    fc.assert(
      fc.property(steps, (s) => {
        for (const { command, before, result } of run(s).runs) {
          if (before.status !== "registered" || before.frozen === null) continue
          if (command._tag === "UnfreezeAccount") continue
          expect(Result.isFailure(result)).toBe(true)
          // Only the checks that come before the account's state may answer instead.
          expect(["AccountIsFrozen", "ActorNotPermitted", "BusinessDateInFuture"]).toContain(
            Result.isFailure(result) && result.failure._tag,
          )
        }
      }),
      { numRuns },
    )
  })
})

describe("the command generator", () => {
  it("reaches every lifecycle position, frozen accounts and loyalty by policy", () => {
    const seen = new Map<string, number>()
    const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1)
    for (const s of fc.sample(steps, { numRuns: 1_000, seed: 42 })) {
      for (const { after, result } of run(s).runs) {
        if (after.status === "registered") count(positionOf(after.stage, after.lostDeal !== null))
        if (after.status === "registered" && after.frozen !== null) count("frozen")
        if (
          Result.isSuccess(result) &&
          result.success.some((e) => e._tag === "CustomerBecameLoyal" && e.by === "policy")
        ) {
          count("loyal by policy")
        }
      }
    }
    for (const key of [
      "lead",
      "lead (lost)",
      "prospect",
      "prospect (lost)",
      "customer",
      "loyal",
      "churned",
      "frozen",
    ]) {
      expect(seen.get(key) ?? 0, key).toBeGreaterThan(100)
    }
    expect(seen.get("loyal by policy") ?? 0).toBeGreaterThan(5)
  })
})
