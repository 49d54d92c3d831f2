import {
  CustomerDecider,
  type CustomerEvent,
  foldEvents,
  InvalidLifecycleTransition,
  type LifecycleCommandType,
  lifecycleCommandTypes,
} from "@relata/domain"
import { customerCommand as command, deciderSpecification } from "@relata/domain/testing"
import { describe, expect, it } from "vitest"
import { asChurned, asCustomer, asLead, asLoyal, asProspect, dealLost, purchase } from "./CustomerTestData.ts"
import { isLost, type Position, positions, stageOf, transitions } from "./LifecycleReferenceModel.ts"

const given = deciderSpecification(CustomerDecider)

const histories: Record<Position, ReadonlyArray<CustomerEvent>> = {
  lead: asLead,
  "lead (lost)": [...asLead, dealLost()],
  prospect: asProspect,
  "prospect (lost)": [...asProspect, dealLost()],
  customer: asCustomer,
  loyal: asLoyal,
  churned: asChurned,
}

const lifecycleCommand = (type: LifecycleCommandType) => {
  switch (type) {
    case "QualifyLead":
    case "ReopenLead":
    case "WinBackCustomer":
      return command(type, {})
    case "MarkDealLost":
    case "PromoteToLoyal":
    case "ChurnCustomer":
      return command(type, { reason: "a reason" })
    case "ConvertToCustomer":
      return command(type, { firstPurchase: purchase() })
    case "RecordPurchase":
      return command(type, purchase())
  }
}

const cells = positions.flatMap((position) => lifecycleCommandTypes.map((type) => ({ position, type })))

describe("the customer lifecycle", () => {
  it("has a table cell for every position and lifecycle command", () => {
    expect(cells).toHaveLength(positions.length * lifecycleCommandTypes.length)
  })

  it.each(cells)("$type from $position", ({ position, type }) => {
    const target = transitions[type][position]
    const when = given(histories[position]).when(lifecycleCommand(type))
    if (target === undefined) {
      when.thenFails(
        new InvalidLifecycleTransition({ stage: stageOf(position), lost: isLost(position), command: type }),
      )
      return
    }
    const result = CustomerDecider.decide(
      lifecycleCommand(type),
      foldEvents(CustomerDecider, histories[position]),
    )
    expect(result._tag).toBe("Success")
    const events = result._tag === "Success" ? result.success : []
    expect(events).toHaveLength(1)
    const state = foldEvents(CustomerDecider, [...histories[position], ...events])
    expect(state).toMatchObject({
      stage: stageOf(target),
      lostDeal: isLost(target) ? expect.anything() : null,
    })
  })

  it("rejects every lifecycle command before registration with CustomerNotFound", () => {
    for (const type of lifecycleCommandTypes)
      given().when(lifecycleCommand(type)).thenFails("CustomerNotFound")
  })
})
