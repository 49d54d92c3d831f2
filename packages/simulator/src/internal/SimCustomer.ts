/**
 * The simulator's own model of one customer: what it believes the customer's state is, kept up to
 * date from the commands it saw accepted, plus the history the tally is computed from. It never
 * reads the event store: the tally stays an independent account that projections are checked against.
 */
import type {
  CompanySize,
  Contact,
  CustomerId,
  CustomerProfile,
  Instant,
  LifecycleStage,
  Tier,
} from "@relata/domain"
import type { Random } from "./Random.ts"

export type WinBackAttempt = "open" | "succeeded" | "failed"

export interface SimCustomer {
  readonly index: number
  readonly id: CustomerId
  readonly random: Random
  registered: boolean
  registeredAt: number
  /** Business instant of the last accepted command (a floor for back-dated follow-ups). */
  lastEventAt: number
  owner: number
  department: string
  currency: string
  /** The made-up domain of the company's e-mail addresses and website. */
  domain: string
  /** The company's real size: drives purchases even when the profile does not say it. */
  trueSize: CompanySize
  profile: { -readonly [K in keyof CustomerProfile]: CustomerProfile[K] }
  contacts: Array<{ -readonly [K in keyof Contact]: Contact[K] }>
  contactSeq: number
  stage: LifecycleStage
  lost: boolean
  frozen: boolean
  tier: Tier
  lastTierChangeAt: number
  lastFollowUpAt: number | null
  /** Purchase instants, oldest first. */
  purchases: Array<Instant>
  revenueMinor: number
  undecidedRounds: number
  /** The current prospect stay began with a win-back. */
  winBackProspect: boolean
  winBackAttempts: Array<WinBackAttempt>
  lifecycleGen: number
  followUpGen: number
  accountGen: number
  /** The lifecycle step that came due while the account was frozen; planned again on unfreeze. */
  deferredStep: string | null
  plannedDue: number | null
  /** The owner left while the account was frozen: hand it over on unfreeze. */
  pendingHandover: boolean
  /** Stage entries: when (business instant) and which stage, in order. */
  stageAt: Array<number>
  stageOf: Array<LifecycleStage>
  /** Tier as effective from each instant (back-dated changes at their effective instant), in order. */
  tierAt: Array<number>
  tierOf: Array<Tier>
  everProspect: boolean
  everCustomer: boolean
  everLoyal: boolean
}

/** The value in force at `ms`: the last entry of a history whose instant is before `ms`. */
export const valueBefore = <A>(
  at: ReadonlyArray<number>,
  of: ReadonlyArray<A>,
  ms: number,
): A | undefined => {
  let lo = 0
  let hi = at.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((at[mid] as number) < ms) lo = mid + 1
    else hi = mid
  }
  return lo === 0 ? undefined : of[lo - 1]
}
