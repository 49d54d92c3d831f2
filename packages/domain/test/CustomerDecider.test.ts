import {
  AccountIsFrozen,
  BusinessDateInFuture,
  CustomerDecider,
  type CustomerEvent,
  CustomerNotFound,
  Department,
  Email,
  InvalidLifecycleTransition,
  makeCustomerDecider,
  Phone,
  PossibleDuplicateCustomer,
} from "@relata/domain"
import { customerCommand as command, deciderSpecification } from "@relata/domain/testing"
import { describe, expect, it } from "vitest"
import {
  accountFrozen,
  asChurned,
  asCustomer,
  asLead,
  asLoyal,
  asProspect,
  contactAdded,
  contactId,
  customerId,
  day,
  dealLost,
  leadRegistered,
  otherCustomerId,
  otherRep,
  purchase,
  purchaseRecorded,
  rep,
  source,
  t0,
} from "./CustomerTestData.ts"

const given = deciderSpecification(CustomerDecider)
const at = { customerId, occurredAt: t0 }

describe("CustomerDecider", () => {
  describe("RegisterLead", () => {
    it("registers a lead at tier D with its owner", () => {
      given()
        .when(command("RegisterLead", { profile: { name: "Acme Trading" }, source, owner: rep }))
        .then([leadRegistered()])
    })

    it("keeps the given tier and department", () => {
      const department = Department.make("East")
      const state = given()
        .when(
          command("RegisterLead", {
            profile: { name: "Acme Trading" },
            source,
            owner: rep,
            tier: "B",
            department,
          }),
        )
        .then([{ ...leadRegistered(), department, tier: "B" } as CustomerEvent])
      expect(state).toMatchObject({ status: "registered", stage: "lead", tier: "B", department, owner: rep })
    })

    it("rejects a suspected duplicate without a reason", () => {
      given()
        .when(
          command("RegisterLead", {
            profile: { name: "Acme Trading" },
            source,
            owner: rep,
            duplicateOf: otherCustomerId,
          }),
        )
        .thenFails(new PossibleDuplicateCustomer({ customerId, duplicateOf: otherCustomerId }))
    })

    it("registers a suspected duplicate with a reason, and records both", () => {
      const fields = { duplicateOf: otherCustomerId, allowDuplicateReason: "a different branch of the group" }
      const state = given()
        .when(command("RegisterLead", { profile: { name: "Acme Trading" }, source, owner: rep, ...fields }))
        .then([{ ...leadRegistered(), ...fields } as CustomerEvent])
      expect(state).toMatchObject({ duplicateOf: otherCustomerId })
    })

    it("fails on an existing customer", () => {
      given(asLead)
        .when(command("RegisterLead", { profile: { name: "Acme Trading" }, source, owner: rep }))
        .thenFails("CustomerAlreadyExists")
    })
  })

  it("rejects every other command for a customer that does not exist", () => {
    given()
      .when(command("QualifyLead", {}))
      .thenFails(new CustomerNotFound({ customerId, command: "QualifyLead" }))
  })

  it("QualifyLead makes a lead a prospect", () => {
    const state = given(asLead)
      .when(command("QualifyLead", { reason: "budget confirmed" }, { issuedAt: day(3) }))
      .then([{ _tag: "LeadQualified", customerId, occurredAt: day(3), reason: "budget confirmed" }])
    expect(state).toMatchObject({ stage: "prospect", stageSince: day(3) })
  })

  describe("MarkDealLost and ReopenLead", () => {
    it("marks a prospect lost without leaving its stage", () => {
      const state = given(asProspect)
        .when(command("MarkDealLost", { reason: "no budget this year" }))
        .then([dealLost()])
      expect(state).toMatchObject({
        stage: "prospect",
        lostDeal: { reason: "no budget this year", since: t0 },
      })
    })

    it("accepts only ReopenLead among lifecycle commands while lost", () => {
      given([...asProspect, dealLost()])
        .when(command("ConvertToCustomer", { firstPurchase: purchase() }))
        .thenFails(
          new InvalidLifecycleTransition({ stage: "prospect", lost: true, command: "ConvertToCustomer" }),
        )
    })

    it("still records follow-ups on a lost lead, so it can be nurtured", () => {
      given([...asLead, dealLost()])
        .when(
          command("RecordFollowUp", { channel: "phone", summary: "checked in", outcome: "call again in Q3" }),
        )
        .then([
          {
            _tag: "FollowUpRecorded",
            ...at,
            at: t0,
            channel: "phone",
            summary: "checked in",
            outcome: "call again in Q3",
          },
        ])
    })

    it("reopens a lost prospect as a lead", () => {
      const state = given([...asProspect, dealLost()])
        .when(command("ReopenLead", {}, { issuedAt: day(30) }))
        .then([{ _tag: "LeadReopened", customerId, occurredAt: day(30) }])
      expect(state).toMatchObject({ stage: "lead", lostDeal: null, stageSince: day(30) })
    })

    it("does not reopen a lead that is not lost", () => {
      given(asLead).when(command("ReopenLead", {})).thenFails("InvalidLifecycleTransition")
    })
  })

  it("ConvertToCustomer counts the first purchase", () => {
    const state = given(asProspect)
      .when(command("ConvertToCustomer", { firstPurchase: purchase(25_000) }))
      .then([{ _tag: "CustomerConverted", ...at, firstPurchase: purchase(25_000) }])
    expect(state).toMatchObject({
      stage: "customer",
      purchases: { count: 1, totals: { EUR: 25_000 }, firstAt: t0, lastAt: t0, recent: [t0] },
    })
  })

  describe("RecordPurchase", () => {
    it("records a purchase and adds it up per currency", () => {
      const state = given([...asCustomer, purchaseRecorded(day(400))])
        .when(command("RecordPurchase", purchase(500, "USD"), { issuedAt: day(800) }))
        .then([{ _tag: "PurchaseRecorded", customerId, occurredAt: day(800), ...purchase(500, "USD") }])
      expect(state).toMatchObject({
        purchases: { count: 3, totals: { EUR: 20_000, USD: 500 }, lastAt: day(800) },
      })
    })

    it("makes a customer loyal by policy on the third purchase within 12 months", () => {
      given([...asCustomer, purchaseRecorded(day(100))])
        .when(command("RecordPurchase", purchase(), { issuedAt: day(200) }))
        .then([
          { _tag: "PurchaseRecorded", customerId, occurredAt: day(200), ...purchase() },
          {
            _tag: "CustomerBecameLoyal",
            customerId,
            occurredAt: day(200),
            by: "policy",
            reason: "Met the loyalty rule: 3 purchases within 12 months",
            rule: "3 purchases within 12 months",
          },
        ])
    })

    it("applies a configured loyalty policy", () => {
      deciderSpecification(makeCustomerDecider({ loyalty: { purchases: 2, withinMonths: 1 } }))(asCustomer)
        .when(command("RecordPurchase", purchase(), { issuedAt: day(20) }))
        .then([
          { _tag: "PurchaseRecorded", customerId, occurredAt: day(20), ...purchase() },
          {
            _tag: "CustomerBecameLoyal",
            customerId,
            occurredAt: day(20),
            by: "policy",
            reason: "Met the loyalty rule: 2 purchases within 1 months",
            rule: "2 purchases within 1 months",
          },
        ])
    })

    it("only records the purchase of a customer who is already loyal", () => {
      given([...asLoyal, purchaseRecorded(day(1))])
        .when(command("RecordPurchase", purchase(), { issuedAt: day(2) }))
        .then([{ _tag: "PurchaseRecorded", customerId, occurredAt: day(2), ...purchase() }])
    })

    it("is not allowed before the first purchase made a customer", () => {
      given(asProspect).when(command("RecordPurchase", purchase())).thenFails("InvalidLifecycleTransition")
    })
  })

  it("PromoteToLoyal promotes a customer by hand, with the reason", () => {
    given(asCustomer)
      .when(command("PromoteToLoyal", { reason: "strategic partner" }))
      .then([{ _tag: "CustomerBecameLoyal", ...at, by: "hand", reason: "strategic partner" }])
  })

  it("ChurnCustomer records the loss of a loyal customer", () => {
    const state = given(asLoyal)
      .when(command("ChurnCustomer", { reason: "moved to a competitor" }))
      .then([{ _tag: "CustomerChurned", ...at, reason: "moved to a competitor" }])
    expect(state).toMatchObject({
      stage: "churned",
      lastChurn: { reason: "moved to a competitor", since: t0 },
    })
  })

  it("WinBackCustomer lists a churned customer as a prospect again", () => {
    const state = given(asChurned)
      .when(command("WinBackCustomer", { reason: "new management" }))
      .then([{ _tag: "CustomerWinBackStarted", ...at, reason: "new management" }])
    expect(state).toMatchObject({
      stage: "prospect",
      winBacks: 1,
      lastChurn: { reason: "moved to a competitor" },
    })
  })

  describe("ChangeTier", () => {
    it("changes the tier by hand with the reason and the suggestion acted on", () => {
      const state = given(asLead)
        .when(
          command(
            "ChangeTier",
            { to: "B", reason: "large order expected", suggestion: "B" },
            { effectiveAt: day(-5) },
          ),
        )
        .then([
          {
            _tag: "TierChanged",
            customerId,
            occurredAt: day(-5),
            from: "D",
            to: "B",
            reason: "large order expected",
            suggestion: "B",
          },
        ])
      expect(state).toMatchObject({ tier: "B", tierSince: day(-5) })
    })

    it("is a no-op when the customer is already at that tier", () => {
      given(asLead)
        .when(command("ChangeTier", { to: "D", reason: "check" }))
        .thenNothing()
    })

    it("cannot be dated later than it was issued", () => {
      given(asLead)
        .when(command("ChangeTier", { to: "A", reason: "key account" }, { effectiveAt: day(1) }))
        .thenFails(new BusinessDateInFuture({ field: "effectiveAt", value: day(1), issuedAt: t0 }))
    })
  })

  describe("ClassifyCustomer", () => {
    it("changes the tier to the classification's, with its explanation", () => {
      const history = [
        ...asCustomer,
        {
          _tag: "ProfileUpdated",
          ...at,
          changes: { company: "Acme Ltd", email: Email.make("buy@acme.example") },
        },
        purchaseRecorded(day(30)),
      ] as ReadonlyArray<CustomerEvent>
      const state = given(history)
        .when(command("ClassifyCustomer", {}, { issuedAt: day(60) }))
        .then([
          {
            _tag: "TierChanged",
            customerId,
            occurredAt: day(60),
            from: "D",
            to: "C",
            reason: "Classified C by classification-v1 with score 39.8",
            classification: {
              score: 39.8,
              ruleVersion: "classification-v1",
              inputs: {
                profileFieldsFilled: 2,
                profileFieldsTotal: 10,
                hasContacts: false,
                stage: "customer",
                purchasesInWindow: 2,
                purchaseWindowMonths: 12,
                classifiedAt: day(60),
                profilePoints: 5.5,
                stagePoints: 21,
                purchasePoints: 13.3,
              },
            },
          },
        ])
      expect(state).toMatchObject({ tier: "C", tierSince: day(60) })
    })

    it("is a no-op when the tier is already right", () => {
      given(asLead).when(command("ClassifyCustomer", {})).thenNothing()
    })
  })

  describe("FreezeAccount and UnfreezeAccount", () => {
    it("freezes an account with the reason", () => {
      const state = given(asCustomer)
        .when(command("FreezeAccount", { reason: "payment dispute" }))
        .then([accountFrozen()])
      expect(state).toMatchObject({ frozen: { reason: "payment dispute", since: t0 } })
    })

    it("rejects anything but UnfreezeAccount on a frozen account", () => {
      given([...asCustomer, accountFrozen()])
        .when(command("RecordPurchase", purchase()))
        .thenFails(new AccountIsFrozen({ customerId, command: "RecordPurchase", since: t0 }))
      given([...asCustomer, accountFrozen()])
        .when(command("FreezeAccount", { reason: "again" }))
        .thenFails("AccountIsFrozen")
    })

    it("unfreezes a frozen account", () => {
      const state = given([...asCustomer, accountFrozen()])
        .when(command("UnfreezeAccount", { reason: "dispute settled" }))
        .then([{ _tag: "AccountUnfrozen", ...at, reason: "dispute settled" }])
      expect(state).toMatchObject({ frozen: null })
    })

    it("does not unfreeze an account that is not frozen", () => {
      given(asCustomer)
        .when(command("UnfreezeAccount", { reason: "why not" }))
        .thenFails("AccountNotFrozen")
    })
  })

  describe("AssignOwner", () => {
    it("hands the customer over to another rep and department", () => {
      const department = Department.make("West")
      const state = given(asLead)
        .when(command("AssignOwner", { to: otherRep, department, reason: "rep left" }))
        .then([{ _tag: "OwnerAssigned", ...at, from: rep, to: otherRep, department, reason: "rep left" }])
      expect(state).toMatchObject({ owner: otherRep, department })
    })

    it("is a no-op for the current owner", () => {
      given(asLead)
        .when(command("AssignOwner", { to: rep }))
        .thenNothing()
    })
  })

  describe("contacts", () => {
    const contact = { contactId, name: "Li Wei", title: "Buyer" }

    it("AddContact adds a contact person", () => {
      const state = given(asLead).when(command("AddContact", { contact })).then([contactAdded()])
      expect(state).toMatchObject({ contacts: [contact] })
    })

    it("AddContact rejects a contact id already in use", () => {
      given([...asLead, contactAdded()])
        .when(command("AddContact", { contact }))
        .thenFails("ContactAlreadyExists")
    })

    it("UpdateContact records only the fields that change, and null clears one", () => {
      const phone = Phone.make("+861012345678")
      const state = given([...asLead, contactAdded()])
        .when(command("UpdateContact", { contactId, changes: { name: "Li Wei", title: null, phone } }))
        .then([{ _tag: "ContactUpdated", ...at, contactId, changes: { title: null, phone } }])
      expect(state).toMatchObject({ contacts: [{ contactId, name: "Li Wei", phone }] })
      expect(state.status === "registered" && state.contacts[0]).not.toHaveProperty("title")
    })

    it("UpdateContact with nothing new is a no-op", () => {
      given([...asLead, contactAdded()])
        .when(command("UpdateContact", { contactId, changes: { title: "Buyer" } }))
        .thenNothing()
    })

    it("UpdateContact and RemoveContact need an existing contact", () => {
      given(asLead)
        .when(command("UpdateContact", { contactId, changes: { title: "CEO" } }))
        .thenFails("ContactNotFound")
      given(asLead).when(command("RemoveContact", { contactId })).thenFails("ContactNotFound")
    })

    it("RemoveContact removes a contact person", () => {
      const state = given([...asLead, contactAdded()])
        .when(command("RemoveContact", { contactId, reason: "left the company" }))
        .then([{ _tag: "ContactRemoved", ...at, contactId, reason: "left the company" }])
      expect(state).toMatchObject({ contacts: [] })
    })
  })

  describe("RecordFollowUp", () => {
    it("records when the follow-up took place and with whom", () => {
      const state = given([...asCustomer, contactAdded()])
        .when(
          command(
            "RecordFollowUp",
            { channel: "visit", summary: "site visit", outcome: "order in May", at: day(-2), contactId },
            { issuedAt: t0 },
          ),
        )
        .then([
          {
            _tag: "FollowUpRecorded",
            ...at,
            at: day(-2),
            channel: "visit",
            contactId,
            summary: "site visit",
            outcome: "order in May",
          },
        ])
      expect(state).toMatchObject({ followUps: 1, lastFollowUpAt: day(-2) })
    })

    it("needs the named contact to exist", () => {
      given(asCustomer)
        .when(command("RecordFollowUp", { channel: "phone", summary: "call", outcome: "none", contactId }))
        .thenFails("ContactNotFound")
    })

    it("cannot take place after it was recorded", () => {
      given(asCustomer)
        .when(command("RecordFollowUp", { channel: "phone", summary: "call", outcome: "none", at: day(1) }))
        .thenFails(new BusinessDateInFuture({ field: "at", value: day(1), issuedAt: t0 }))
    })
  })

  describe("UpdateProfile", () => {
    it("records only the fields that change", () => {
      const email = Email.make("buy@acme.example")
      const state = given(asLead)
        .when(command("UpdateProfile", { changes: { name: "Acme Trading", email, region: null } }))
        .then([{ _tag: "ProfileUpdated", ...at, changes: { email } }])
      expect(state).toMatchObject({ profile: { name: "Acme Trading", email } })
    })

    it("clears a field with null", () => {
      const email = Email.make("buy@acme.example")
      const state = given([...asLead, { _tag: "ProfileUpdated", ...at, changes: { email } }])
        .when(command("UpdateProfile", { changes: { email: null } }))
        .then([{ _tag: "ProfileUpdated", ...at, changes: { email: null } }])
      expect(state.status === "registered" && state.profile).not.toHaveProperty("email")
    })

    it("is a no-op when nothing changes", () => {
      given(asLead)
        .when(command("UpdateProfile", { changes: { name: "Acme Trading" } }))
        .thenNothing()
    })
  })

  describe("permissions", () => {
    it("keeps viewers and auditors read-only", () => {
      for (const role of ["viewer", "auditor"] as const) {
        given(asLead)
          .when(command("QualifyLead", {}, { actor: { id: rep, role } }))
          .thenFails("ActorNotPermitted")
      }
    })

    it("leaves freezing and handovers to managers", () => {
      given(asLead)
        .when(command("FreezeAccount", { reason: "dispute" }, { actor: { id: rep, role: "rep" } }))
        .thenFails("ActorNotPermitted")
      given(asLead)
        .when(command("QualifyLead", {}, { actor: { id: rep, role: "rep" } }))
        .then([{ _tag: "LeadQualified", ...at }])
    })
  })

  it("evolve ignores events that cannot apply, so a projection never crashes", () => {
    const { evolve, initialState } = CustomerDecider
    expect(evolve(initialState, purchaseRecorded())).toEqual(initialState)
    const lead = evolve(initialState, leadRegistered())
    expect(evolve(lead, leadRegistered(day(5)))).toBe(lead)
  })
})
