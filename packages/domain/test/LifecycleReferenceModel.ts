/**
 * The lifecycle table, written out independently of the decider: the reference the table test,
 * the property tests and the docs test compare against.
 */
import type { LifecycleCommandType, LifecycleStage } from "@relata/domain"

/** Where a registered customer can stand: a stage, and for leads and prospects whether the deal is lost. */
export type Position =
  | "lead"
  | "lead (lost)"
  | "prospect"
  | "prospect (lost)"
  | "customer"
  | "loyal"
  | "churned"

export const positions: ReadonlyArray<Position> = [
  "lead",
  "lead (lost)",
  "prospect",
  "prospect (lost)",
  "customer",
  "loyal",
  "churned",
]

/** The position each lifecycle command leads to from each position; absent means not allowed. */
export const transitions: Record<LifecycleCommandType, Partial<Record<Position, Position>>> = {
  QualifyLead: { lead: "prospect" },
  MarkDealLost: { lead: "lead (lost)", prospect: "prospect (lost)" },
  ReopenLead: { "lead (lost)": "lead", "prospect (lost)": "lead" },
  ConvertToCustomer: { prospect: "customer" },
  // A purchase keeps the stage; the loyalty policy may then promote a customer (checked separately).
  RecordPurchase: { customer: "customer", loyal: "loyal" },
  PromoteToLoyal: { customer: "loyal" },
  ChurnCustomer: { customer: "churned", loyal: "churned" },
  WinBackCustomer: { churned: "prospect" },
}

export const stageOf = (position: Position): LifecycleStage =>
  position === "lead (lost)" ? "lead" : position === "prospect (lost)" ? "prospect" : position

export const isLost = (position: Position): boolean => position.endsWith("(lost)")

export const positionOf = (stage: LifecycleStage, lost: boolean): Position =>
  lost ? (stage === "lead" ? "lead (lost)" : stage === "prospect" ? "prospect (lost)" : stage) : stage
