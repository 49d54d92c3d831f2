/**
 * The A/B/C/D classification policy. Like Alibaba's CRM it scores how complete the customer's
 * information is and how far the customer has come (stage and recent purchases); every result
 * carries its inputs and points so a rep can see why a customer got its tier.
 */
import { Schema } from "effect"
import type { CustomerProfile } from "./CustomerProfile.ts"
import { addMonths, type Instant } from "./Instant.ts"
import { boundedText } from "./internal/Text.ts"
import type { LifecycleStage } from "./LifecycleStage.ts"
import type { Tier } from "./Tier.ts"

const Share = Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
const Points = Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 100 }))

/** Configuration of the classification: weights in points (summing to 100), stage shares and tier thresholds. */
export const ClassificationPolicy = Schema.Struct({
  /** Names this rule set; stored with every classification so old results stay explainable. */
  ruleVersion: boundedText(50),
  weights: Schema.Struct({ profile: Points, stage: Points, purchases: Points }),
  /** The share of the stage weight each stage earns. */
  stageShares: Schema.Struct({
    lead: Share,
    prospect: Share,
    customer: Share,
    loyal: Share,
    churned: Share,
  }),
  /** Purchases in the window that earn the full purchase weight. */
  purchasesForFullScore: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 24 })),
  purchaseWindowMonths: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 120 })),
  /** Lowest score of each tier; below `C` is `D`. */
  thresholds: Schema.Struct({ A: Points, B: Points, C: Points }),
})
export type ClassificationPolicy = typeof ClassificationPolicy.Type

/** The default rule set `classification-v1`: 30 points for the profile, 30 for the stage, 40 for purchases. */
export const defaultClassificationPolicy: ClassificationPolicy = {
  ruleVersion: "classification-v1",
  weights: { profile: 30, stage: 30, purchases: 40 },
  stageShares: { lead: 0, prospect: 0.35, customer: 0.7, loyal: 1, churned: 0 },
  purchasesForFullScore: 6,
  purchaseWindowMonths: 12,
  thresholds: { A: 75, B: 50, C: 25 },
}

/** One input of a classification, as stored in the event that applied it. */
export const ClassificationInput = Schema.Union([Schema.Finite, Schema.String, Schema.Boolean, Schema.Null])

/** Why a customer got its tier: the score, the rule set that computed it and what went in. */
export const ClassificationExplanation = Schema.Struct({
  score: Points,
  ruleVersion: boundedText(50),
  inputs: Schema.Record(Schema.String, ClassificationInput),
})
export type ClassificationExplanation = typeof ClassificationExplanation.Type

/** A classification: the tier it suggests and its explanation. */
export interface Classification extends ClassificationExplanation {
  readonly tier: Tier
}

/** What the classification looks at; a registered customer's state has all of it. */
export interface ClassificationSubject {
  readonly profile: CustomerProfile
  readonly contacts: ReadonlyArray<unknown>
  readonly stage: LifecycleStage
  /** Recent purchase instants, oldest first. */
  readonly purchases: { readonly recent: ReadonlyArray<Instant> }
}

const optionalProfileFields = [
  "company",
  "email",
  "phone",
  "fax",
  "address",
  "website",
  "industry",
  "size",
  "region",
  "creditLevel",
] as const satisfies ReadonlyArray<keyof CustomerProfile>

const round1 = (n: number): number => Math.round(n * 10) / 10

/** The tier a score earns under the policy's thresholds. */
export const tierForScore = (policy: ClassificationPolicy, score: number): Tier =>
  score >= policy.thresholds.A
    ? "A"
    : score >= policy.thresholds.B
      ? "B"
      : score >= policy.thresholds.C
        ? "C"
        : "D"

/** Classifies a customer as of `at`: pure, so the same state and instant always give the same tier. */
export const classify = (
  policy: ClassificationPolicy,
  subject: ClassificationSubject,
  at: Instant,
): Classification => {
  const filled = optionalProfileFields.filter((field) => subject.profile[field] !== undefined).length
  const hasContacts = subject.contacts.length > 0
  // A contact person counts like one more profile field: the card is incomplete without one.
  const completeness = (filled + (hasContacts ? 1 : 0)) / (optionalProfileFields.length + 1)
  const windowStart = addMonths(at, -policy.purchaseWindowMonths)
  const purchasesInWindow = subject.purchases.recent.filter((p) => p >= windowStart && p <= at).length
  const profilePoints = round1(policy.weights.profile * completeness)
  const stagePoints = round1(policy.weights.stage * policy.stageShares[subject.stage])
  const purchasePoints = round1(
    policy.weights.purchases * Math.min(1, purchasesInWindow / policy.purchasesForFullScore),
  )
  const score = Math.min(100, round1(profilePoints + stagePoints + purchasePoints))
  return {
    tier: tierForScore(policy, score),
    score,
    ruleVersion: policy.ruleVersion,
    inputs: {
      profileFieldsFilled: filled,
      profileFieldsTotal: optionalProfileFields.length,
      hasContacts,
      stage: subject.stage,
      purchasesInWindow,
      purchaseWindowMonths: policy.purchaseWindowMonths,
      classifiedAt: at,
      profilePoints,
      stagePoints,
      purchasePoints,
    },
  }
}
