/**
 * How often each tier is followed up (revisited): key accounts weekly, then every two weeks,
 * monthly, quarterly. A follow-up is due that many days after the last one (or after registration
 * when there was none yet); missing it makes the customer overdue, which reminds the rep.
 */
import { Schema } from "effect"
import type { CustomerState } from "./CustomerDecider.ts"
import { addDays, type Instant } from "./Instant.ts"

const Days = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 3660 }))

/** Days between follow-ups, per tier. */
export const FollowUpCadence = Schema.Struct({ A: Days, B: Days, C: Days, D: Days })
export type FollowUpCadence = typeof FollowUpCadence.Type

/** The default: A every 7 days, B 14, C 30, D 90. */
export const defaultFollowUpCadence: FollowUpCadence = { A: 7, B: 14, C: 30, D: 90 }

/** The cadence's two questions, answered from a customer's state. */
export interface FollowUpSchedule {
  /**
   * When the next follow-up is due, or null when none is: the customer is not registered, frozen
   * (inactive), holds a lost deal or has churned (win-back is its own decision).
   */
  readonly nextFollowUpDue: (state: CustomerState) => Instant | null
  /** Whether the due follow-up is later than `now` allows: due strictly before `now`. */
  readonly isFollowUpOverdue: (state: CustomerState, now: Instant) => boolean
}

/** A schedule for the given cadence. */
export const makeFollowUpSchedule = (cadence: FollowUpCadence): FollowUpSchedule => {
  const nextFollowUpDue = (state: CustomerState): Instant | null => {
    if (state.status !== "registered") return null
    if (state.frozen !== null || state.lostDeal !== null || state.stage === "churned") return null
    return addDays(state.lastFollowUpAt ?? state.registeredAt, cadence[state.tier])
  }
  const isFollowUpOverdue = (state: CustomerState, now: Instant): boolean => {
    const due = nextFollowUpDue(state)
    return due !== null && due < now
  }
  return { nextFollowUpDue, isFollowUpOverdue }
}

const defaultSchedule = makeFollowUpSchedule(defaultFollowUpCadence)

/** When the next follow-up is due under the default cadence (null when none is). */
export const nextFollowUpDue: (state: CustomerState) => Instant | null = defaultSchedule.nextFollowUpDue

/** Whether the customer's follow-up is overdue at `now` under the default cadence. */
export const isFollowUpOverdue: (state: CustomerState, now: Instant) => boolean =
  defaultSchedule.isFollowUpOverdue
