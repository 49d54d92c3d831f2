import {
  type ClassificationSubject,
  classify,
  defaultClassificationPolicy,
  Email,
  type Instant,
  Phone,
  tierForScore,
} from "@relata/domain"
import { describe, expect, it } from "vitest"
import { day, t0 } from "./CustomerTestData.ts"

const policy = defaultClassificationPolicy
const fullProfile = {
  name: "Acme Trading",
  company: "Acme Ltd",
  email: Email.make("buy@acme.example"),
  phone: Phone.make("+861012345678"),
  fax: Phone.make("+861012345679"),
  address: "1 Harbour Road",
  website: "acme.example",
  industry: "Logistics",
  size: "large",
  region: "East",
  creditLevel: "good",
} as ClassificationSubject["profile"]
const subject = (overrides: Partial<ClassificationSubject>): ClassificationSubject => ({
  profile: { name: "Acme Trading" },
  contacts: [],
  stage: "lead",
  purchases: { recent: [] },
  ...overrides,
})
const purchasesAt = (...days: ReadonlyArray<number>): { recent: ReadonlyArray<Instant> } => ({
  recent: days.map(day),
})

describe("Classification", () => {
  it("makes a loyal, fully known, frequent buyer a key account (A), and says why", () => {
    const result = classify(
      policy,
      subject({
        profile: fullProfile,
        contacts: [{}],
        stage: "loyal",
        purchases: purchasesAt(-300, -200, -100, -50, -20, -1),
      }),
      t0,
    )
    expect(result).toEqual({
      tier: "A",
      score: 100,
      ruleVersion: "classification-v1",
      inputs: {
        profileFieldsFilled: 10,
        profileFieldsTotal: 10,
        hasContacts: true,
        stage: "loyal",
        purchasesInWindow: 6,
        purchaseWindowMonths: 12,
        classifiedAt: t0,
        profilePoints: 30,
        stagePoints: 30,
        purchasePoints: 40,
      },
    })
  })

  it("leaves a bare lead at D", () => {
    const result = classify(policy, subject({}), t0)
    expect(result).toMatchObject({
      tier: "D",
      score: 0,
      inputs: { profilePoints: 0, stagePoints: 0, purchasePoints: 0 },
    })
  })

  it("counts only purchases within the window before the classification", () => {
    const result = classify(policy, subject({ stage: "customer", purchases: purchasesAt(-400, -10, 5) }), t0)
    expect(result.inputs).toMatchObject({ purchasesInWindow: 1, purchasePoints: 6.7 })
  })

  it("puts each score in the tier its thresholds give", () => {
    expect([75, 74.9, 50, 49.9, 25, 24.9].map((score) => tierForScore(policy, score))).toEqual([
      "A",
      "B",
      "B",
      "C",
      "C",
      "D",
    ])
  })

  it("is deterministic: the same subject and instant give the same result", () => {
    const s = subject({ profile: fullProfile, stage: "prospect" })
    expect(classify(policy, s, t0)).toEqual(classify(policy, s, t0))
  })

  it("names its rule version, so old explanations stay readable", () => {
    const result = classify({ ...policy, ruleVersion: "classification-v2" }, subject({}), t0)
    expect(result.ruleVersion).toBe("classification-v2")
  })
})
