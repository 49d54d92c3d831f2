/**
 * What a simulation run looks like: its seed and size, the sales organisation (departments,
 * managers, reps who join and leave), the market (regions with their currencies, industries, sizes,
 * credit levels), the behaviour (the probabilities and mean delays of the lifecycle) and the policies
 * the command handler applies. Every field has a realistic default; the README lists them.
 */
import {
  ActorId,
  ClassificationPolicy,
  CompanySize,
  CreditLevel,
  CurrencyCode,
  Department,
  defaultClassificationPolicy,
  defaultFollowUpCadence,
  defaultLoyaltyPolicy,
  FollowUpCadence,
  Industry,
  type Instant,
  InstantFromString,
  instantToMillis,
  LoyaltyPolicy,
  Region,
} from "@relata/domain"
import { Effect, Schema, Struct } from "effect"

const Share = Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
const Weight = Schema.Finite.check(Schema.isGreaterThan(0))
const Days = Schema.Finite.check(Schema.isBetween({ minimum: 0.01, maximum: 3650 }))
const MonthIndex = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 120 }))

/** A sales department (branch, team) and its manager, who freezes, unfreezes and hands accounts over. */
export const DepartmentConfig = Schema.Struct({ name: Department, manager: ActorId })
export type DepartmentConfig = typeof DepartmentConfig.Type

/**
 * A sales rep: owns customers and issues their day-to-day commands. `diligence` is the share of
 * follow-ups the rep plans on time (default 0.85); `joinsAtMonth` / `leavesAtMonth` (month index from the start)
 * bound when the rep works; a leaving rep's customers are handed over to colleagues.
 */
export const RepConfig = Schema.Struct({
  id: ActorId,
  department: Department,
  diligence: Schema.optionalKey(Share),
  joinsAtMonth: Schema.optionalKey(MonthIndex),
  leavesAtMonth: Schema.optionalKey(MonthIndex),
})
export type RepConfig = typeof RepConfig.Type

/** A sales region; its customers buy in its currency. */
export const RegionConfig = Schema.Struct({ name: Region, currency: CurrencyCode, weight: Weight })
export type RegionConfig = typeof RegionConfig.Type

/** A currency and how many of its units one unit of the base price list is worth. */
export const CurrencyConfig = Schema.Struct({ code: CurrencyCode, unitsPerBase: Weight })
export type CurrencyConfig = typeof CurrencyConfig.Type

export const IndustryWeight = Schema.Struct({ name: Industry, weight: Weight })
export const SizeWeight = Schema.Struct({ size: CompanySize, weight: Weight })
export const CreditLevelWeight = Schema.Struct({ level: CreditLevel, weight: Weight })

/**
 * The lifecycle's probabilities and mean delays. "Decision" rates are the chances at each decision
 * point; what is left over means "not yet", and the customer is looked at again later.
 */
export const Behaviour = Schema.Struct({
  /** Mean days from a lead's (re)entry to the rep's next decision on it. */
  leadDecisionDays: Days,
  /** At a lead decision: qualified as a prospect. */
  qualifyRate: Share,
  /** At a lead decision: deal lost. */
  leadLossRate: Share,
  /** Mean days from a prospect's entry to the next decision on it. */
  prospectDecisionDays: Days,
  /** At a prospect decision: converted with a first purchase. */
  convertRate: Share,
  /** At a prospect decision: deal lost. */
  prospectLossRate: Share,
  /** Decisions that end in "not yet" before the deal is given up as lost. */
  maxUndecidedRounds: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 20 })),
  /** A lost deal is reopened later (once per loss). */
  reopenRate: Share,
  /** Mean days from a lost deal to its reopening. */
  reopenAfterDays: Days,
  /** Mean days between a customer's purchases (scaled by company size: larger buys more often). */
  purchaseIntervalDays: Days,
  /** Median amount of a purchase in the base price list's major units (scaled by size and currency). */
  medianPurchase: Weight,
  /** Mean months a first-time customer stays before churning (a memoryless hazard). */
  customerChurnMonths: Weight,
  /** Mean months a loyal customer stays before churning. */
  loyalChurnMonths: Weight,
  /** After a repeat purchase that did not trigger the loyalty policy: promoted to loyal by hand. */
  handPromotionRate: Share,
  /** A churned customer gets a win-back attempt. */
  winBackAttemptRate: Share,
  /** Mean days from churn to the win-back attempt. */
  winBackAfterDays: Days,
  /** At a decision on a won-back prospect: converted again. */
  winBackConvertRate: Share,
  /** At a decision on a won-back prospect: deal lost again. */
  winBackLossRate: Share,
  /** Mean days between other account activity (contacts, profile, tier, handover, freeze). */
  accountActivityDays: Days,
  /** Per account activity: the account is frozen. */
  freezeRate: Share,
  /** Mean days an account stays frozen. */
  freezeDays: Days,
  /** Per account activity: the account is handed over to another rep. */
  handoverRate: Share,
  /** Per account activity: the tier is changed by hand. */
  tierChangeRate: Share,
  /** A hand tier change is back-dated (`effectiveAt` days before it is recorded). */
  backDatedTierChangeRate: Share,
  /** Per account activity: the classification policy is applied. */
  classifyRate: Share,
  /** A new lead is a suspected duplicate of an existing customer, confirmed with a reason. */
  duplicateRate: Share,
  /** A follow-up is recorded a day after it took place (`at` back-dated). */
  lateLoggingRate: Share,
  /** Scale of the rule violations provoked on purpose (each kind at a few per hundred chances). */
  violationRate: Share,
})
export type Behaviour = typeof Behaviour.Type

/** The defaults of `Behaviour`: about 1 in 4 win-back attempts succeeds, as the sources report. */
export const defaultBehaviour: Behaviour = {
  leadDecisionDays: 14,
  qualifyRate: 0.5,
  leadLossRate: 0.25,
  prospectDecisionDays: 21,
  convertRate: 0.45,
  prospectLossRate: 0.3,
  maxUndecidedRounds: 3,
  reopenRate: 0.3,
  reopenAfterDays: 90,
  purchaseIntervalDays: 100,
  medianPurchase: 2_000,
  customerChurnMonths: 30,
  loyalChurnMonths: 90,
  handPromotionRate: 0.08,
  winBackAttemptRate: 0.6,
  winBackAfterDays: 45,
  winBackConvertRate: 0.15,
  winBackLossRate: 0.6,
  accountActivityDays: 45,
  freezeRate: 0.03,
  freezeDays: 30,
  handoverRate: 0.03,
  tierChangeRate: 0.08,
  backDatedTierChangeRate: 0.3,
  classifyRate: 0.15,
  duplicateRate: 0.01,
  lateLoggingRate: 0.1,
  violationRate: 0.02,
}

const IdPrefix = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,40}$/, {
    expected: "letters, digits and _ . : @ - (at most 41 characters), starting with a letter or digit",
  }),
)

/** A simulation's configuration, every field optional; `resolveSimulationConfig` fills in the defaults. */
export const SimulationConfig = Schema.Struct({
  /** Seeds every random choice: the same seed (and configuration) gives the same events. */
  seed: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4_294_967_295 }))),
  /** Customers registered over the period (suspected duplicates included). */
  customers: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000_000 }))),
  /** The first instant of the period; must be the first instant of a UTC month (`2023-01-01`). */
  start: Schema.optionalKey(InstantFromString),
  /** The length of the period in calendar months. */
  months: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 120 }))),
  /** Prefix of every customer and command id; defaults to `s<seed>`, so runs with other seeds never clash. */
  idPrefix: Schema.optionalKey(IdPrefix),
  departments: Schema.optionalKey(Schema.NonEmptyArray(DepartmentConfig)),
  reps: Schema.optionalKey(Schema.NonEmptyArray(RepConfig)),
  regions: Schema.optionalKey(Schema.NonEmptyArray(RegionConfig)),
  currencies: Schema.optionalKey(Schema.NonEmptyArray(CurrencyConfig)),
  industries: Schema.optionalKey(Schema.NonEmptyArray(IndustryWeight)),
  sizes: Schema.optionalKey(Schema.NonEmptyArray(SizeWeight)),
  creditLevels: Schema.optionalKey(Schema.NonEmptyArray(CreditLevelWeight)),
  /** Overrides of single behaviour figures. */
  behaviour: Schema.optionalKey(Behaviour.mapFields(Struct.map(Schema.optionalKey))),
  /** The loyalty policy of the decider the handler uses (the simulator predicts with it). */
  loyalty: Schema.optionalKey(LoyaltyPolicy),
  /** The classification policy of the decider the handler uses. */
  classification: Schema.optionalKey(ClassificationPolicy),
  /** The follow-up cadence the reps work to (and the tally's follow-up figures are judged by). */
  followUpCadence: Schema.optionalKey(FollowUpCadence),
})
/** The configuration as callers write it (plain JSON: `start` may be `"2023-01-01"`). */
export type SimulationConfig = typeof SimulationConfig.Encoded

/** A configuration with every default filled in and checked as a whole. */
export interface ResolvedSimulationConfig {
  readonly seed: number
  readonly customers: number
  readonly start: Instant
  readonly months: number
  readonly idPrefix: string
  readonly departments: ReadonlyArray<DepartmentConfig>
  readonly reps: ReadonlyArray<RepConfig>
  readonly regions: ReadonlyArray<RegionConfig>
  readonly currencies: ReadonlyArray<CurrencyConfig>
  readonly industries: ReadonlyArray<typeof IndustryWeight.Type>
  readonly sizes: ReadonlyArray<typeof SizeWeight.Type>
  readonly creditLevels: ReadonlyArray<typeof CreditLevelWeight.Type>
  readonly behaviour: Behaviour
  readonly loyalty: LoyaltyPolicy
  readonly classification: ClassificationPolicy
  readonly followUpCadence: FollowUpCadence
}

/** The configuration cannot be used; `issue` says why. */
export class InvalidSimulationConfig extends Schema.TaggedError<InvalidSimulationConfig>()(
  "InvalidSimulationConfig",
  { issue: Schema.String },
) {
  override get message(): string {
    return `Invalid simulation configuration: ${this.issue}`
  }
}

/** The default configuration, as `SimulationConfig` (every field given). */
export const defaultSimulationConfig = {
  seed: 20240101,
  customers: 3_000,
  start: "2023-01-01T00:00:00.000Z",
  months: 24,
  departments: [
    { name: "Key Accounts", manager: "mgr-zhang-wei" },
    { name: "Regional Sales", manager: "mgr-maria-rossi" },
    { name: "Inside Sales", manager: "mgr-li-na" },
  ],
  reps: [
    { id: "rep-chen-jing", department: "Key Accounts", diligence: 0.92 },
    { id: "rep-oliver-smith", department: "Key Accounts", diligence: 0.85 },
    { id: "rep-wang-fang", department: "Regional Sales", diligence: 0.88 },
    { id: "rep-lucas-martin", department: "Regional Sales", diligence: 0.72, leavesAtMonth: 14 },
    { id: "rep-zhao-lei", department: "Regional Sales", diligence: 0.9 },
    { id: "rep-huang-min", department: "Regional Sales", diligence: 0.86, joinsAtMonth: 13 },
    { id: "rep-sofia-muller", department: "Inside Sales", diligence: 0.8 },
    { id: "rep-liu-yang", department: "Inside Sales", diligence: 0.68 },
    { id: "rep-emma-dubois", department: "Inside Sales", diligence: 0.9, joinsAtMonth: 6 },
  ],
  regions: [
    { name: "North China", currency: "CNY", weight: 3 },
    { name: "East China", currency: "CNY", weight: 4 },
    { name: "South China", currency: "CNY", weight: 3 },
    { name: "Europe", currency: "EUR", weight: 3 },
    { name: "North America", currency: "USD", weight: 2 },
  ],
  currencies: [
    { code: "CNY", unitsPerBase: 7.8 },
    { code: "EUR", unitsPerBase: 1 },
    { code: "USD", unitsPerBase: 1.1 },
  ],
  industries: [
    { name: "Manufacturing", weight: 5 },
    { name: "Retail", weight: 4 },
    { name: "Software", weight: 3 },
    { name: "Logistics", weight: 3 },
    { name: "Construction", weight: 2 },
    { name: "Healthcare", weight: 2 },
    { name: "Finance", weight: 2 },
    { name: "Education", weight: 1 },
  ],
  sizes: [
    { size: "micro", weight: 4 },
    { size: "small", weight: 5 },
    { size: "medium", weight: 3 },
    { size: "large", weight: 1.5 },
    { size: "enterprise", weight: 0.5 },
  ],
  creditLevels: [
    { level: "excellent", weight: 2 },
    { level: "good", weight: 5 },
    { level: "fair", weight: 3 },
    { level: "poor", weight: 1 },
  ],
} satisfies SimulationConfig

const decodeConfig = Schema.decodeUnknownEffect(SimulationConfig)

/** Decodes a configuration, fills in the defaults and checks that its parts fit together. */
export const resolveSimulationConfig = (
  input: SimulationConfig = {},
): Effect.Effect<ResolvedSimulationConfig, InvalidSimulationConfig> =>
  Effect.gen(function* () {
    const given = yield* decodeConfig({ ...defaultSimulationConfig, ...input }).pipe(
      Effect.mapError((error) => new InvalidSimulationConfig({ issue: error.message })),
    )
    const fail = (issue: string) => Effect.fail(new InvalidSimulationConfig({ issue }))
    const seed = given.seed ?? defaultSimulationConfig.seed
    const resolved: ResolvedSimulationConfig = {
      seed,
      customers: given.customers ?? defaultSimulationConfig.customers,
      start: given.start as Instant,
      months: given.months ?? defaultSimulationConfig.months,
      idPrefix: given.idPrefix ?? `s${seed}`,
      departments: given.departments ?? [],
      reps: given.reps ?? [],
      regions: given.regions ?? [],
      currencies: given.currencies ?? [],
      industries: given.industries ?? [],
      sizes: given.sizes ?? [],
      creditLevels: given.creditLevels ?? [],
      behaviour: { ...defaultBehaviour, ...given.behaviour },
      loyalty: given.loyalty ?? defaultLoyaltyPolicy,
      classification: given.classification ?? defaultClassificationPolicy,
      followUpCadence: given.followUpCadence ?? defaultFollowUpCadence,
    }
    const start = new Date(instantToMillis(resolved.start))
    if (start.getTime() !== Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1)) {
      return yield* fail(`start ${resolved.start} is not the first instant of a UTC month`)
    }
    const departments = new Set(resolved.departments.map((d) => d.name as string))
    if (departments.size !== resolved.departments.length) return yield* fail("department names repeat")
    const repIds = new Set(resolved.reps.map((r) => r.id as string))
    if (repIds.size !== resolved.reps.length) return yield* fail("rep ids repeat")
    for (const rep of resolved.reps) {
      if (!departments.has(rep.department)) {
        return yield* fail(`rep ${rep.id} is in department ${rep.department}, which is not configured`)
      }
      if ((rep.leavesAtMonth ?? Infinity) <= (rep.joinsAtMonth ?? 0)) {
        return yield* fail(`rep ${rep.id} leaves before joining`)
      }
    }
    for (const department of resolved.departments) {
      if (repIds.has(department.manager)) {
        return yield* fail(`manager ${department.manager} is also configured as a rep`)
      }
    }
    for (let month = 0; month < resolved.months; month++) {
      const working = resolved.reps.some(
        (rep) => (rep.joinsAtMonth ?? 0) <= month && month < (rep.leavesAtMonth ?? Infinity),
      )
      if (!working) return yield* fail(`no rep works in month ${month}`)
    }
    const currencies = new Set(resolved.currencies.map((c) => c.code as string))
    for (const region of resolved.regions) {
      if (!currencies.has(region.currency)) {
        return yield* fail(`region ${region.name} uses currency ${region.currency}, which is not configured`)
      }
    }
    const b = resolved.behaviour
    for (const [name, sum] of [
      ["qualifyRate + leadLossRate", b.qualifyRate + b.leadLossRate],
      ["convertRate + prospectLossRate", b.convertRate + b.prospectLossRate],
      ["winBackConvertRate + winBackLossRate", b.winBackConvertRate + b.winBackLossRate],
      [
        "freezeRate + handoverRate + tierChangeRate + classifyRate",
        b.freezeRate + b.handoverRate + b.tierChangeRate + b.classifyRate,
      ],
    ] as const) {
      if (sum > 1) return yield* fail(`${name} exceeds 1`)
    }
    return resolved
  })
