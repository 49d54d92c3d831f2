/**
 * The simulation engine. Every customer is an agent with up to three plans in one agenda (the next
 * lifecycle step, the next follow-up, the next other account activity) plus one-off actions; the
 * engine pops the earliest action across all customers, sets the simulated clock to its instant,
 * issues the commands it calls for through the real command handler, and plans what comes next.
 *
 * Before each command the engine predicts the outcome from its own model of the customer (events
 * appended, nothing to change, or the rule violation it provokes on purpose) and fails with
 * SimulationDiverged when the handler disagrees, so the tally it keeps always describes the store.
 */
import {
  type Actor,
  type ActorId,
  type ClassificationSubject,
  type CommandEnvelope,
  type CommandId,
  type CompanySize,
  type ContactId,
  type CreditLevel,
  type CurrencyCode,
  type CustomerCommand,
  type CustomerCommandHandlerService,
  type CustomerCommandType,
  type CustomerEventType,
  type CustomerId,
  type CustomerRuleViolation,
  classify,
  type Department,
  type Email,
  type FollowUpChannel,
  type Industry,
  type Instant,
  isLoyaltyRuleMet,
  type LeadSource,
  type LifecycleStage,
  type Phone,
  type Purchase,
  type PurchaseId,
  type Region,
  recentPurchaseLimit,
  type StoredEventUnreadable,
  type StoreUnavailable,
  type Tier,
  type WrongExpectedVersion,
} from "@relata/domain"
import { Clock, Effect, Result } from "effect"
import type { Behaviour, ResolvedSimulationConfig } from "../SimulationConfig.ts"
import { SimulationDiverged } from "../SimulationDiverged.ts"
import type { Tally } from "../Tally.ts"
import { type Action, ActionQueue } from "./ActionQueue.ts"
import {
  backwardToWorkingTime,
  dayMs,
  forwardToWorkingTime,
  hourMs,
  monthIndexOf,
  monthStarts,
} from "./Calendar.ts"
import * as Words from "./Catalogue.ts"
import { Random } from "./Random.ts"
import type { SimCustomer } from "./SimCustomer.ts"
import { TallyBuilder } from "./TallyBuilder.ts"

/** How far the simulation has come, in simulated days, and what it has issued so far. */
export interface SimulationProgress {
  readonly done: number
  readonly total: number
  readonly commands: number
  readonly events: number
}

export type EngineError = SimulationDiverged | StoreUnavailable | StoredEventUnreadable | WrongExpectedVersion

type Expectation =
  | { readonly _tag: "accept"; readonly events: ReadonlyArray<CustomerEventType> }
  | { readonly _tag: "unchanged" }
  | { readonly _tag: "reject"; readonly violation: CustomerRuleViolation["_tag"] }

const accept = (...events: ReadonlyArray<CustomerEventType>): Expectation => ({ _tag: "accept", events })
const unchanged: Expectation = { _tag: "unchanged" }
const reject = (violation: CustomerRuleViolation["_tag"]): Expectation => ({ _tag: "reject", violation })

const describe = (expectation: Expectation): string =>
  expectation._tag === "accept"
    ? `events [${expectation.events.join(", ")}]`
    : expectation._tag === "unchanged"
      ? "no events"
      : `rejection ${expectation.violation}`

type Fields<T extends CustomerCommandType> = Omit<
  Extract<CustomerCommand, { readonly _tag: T }>,
  keyof CommandEnvelope | "_tag"
>

const infrastructureErrors = new Set(["WrongExpectedVersion", "StoreUnavailable", "StoredEventUnreadable"])

interface RepState {
  readonly index: number
  readonly id: ActorId
  readonly department: string
  readonly diligence: number
  active: boolean
}

const iso = (ms: number): Instant => new Date(ms).toISOString() as Instant

const tierOrder: ReadonlyArray<Tier> = ["A", "B", "C", "D"]
const sizeOrder: ReadonlyArray<CompanySize> = ["micro", "small", "medium", "large", "enterprise"]
const creditLevels: ReadonlyArray<CreditLevel> = ["excellent", "good", "fair", "poor"]
/** How much more a company of each size spends per purchase than a small one. */
const spendFactor: Readonly<Record<CompanySize, number>> = {
  micro: 0.4,
  small: 1,
  medium: 3,
  large: 8,
  enterprise: 20,
}
/** How much longer than average a company of each size waits between purchases. */
const intervalFactor: Readonly<Record<CompanySize, number>> = {
  micro: 1.4,
  small: 1.2,
  medium: 1,
  large: 0.75,
  enterprise: 0.5,
}
const channels: ReadonlyArray<{ readonly name: FollowUpChannel; readonly weight: number }> = [
  { name: "phone", weight: 5 },
  { name: "email", weight: 3 },
  { name: "visit", weight: 2 },
  { name: "meeting", weight: 1 },
  { name: "message", weight: 2 },
]
const daysPerMonth = 30.44

export class Simulator {
  private readonly queue = new ActionQueue()
  private readonly customers: Array<SimCustomer> = []
  private readonly registered: Array<number> = []
  private readonly reps: ReadonlyArray<RepState>
  private readonly managers = new Map<string, ActorId>()
  private readonly unitsPerBase = new Map<string, number>()
  private readonly tally: TallyBuilder
  private readonly months: ReadonlyArray<number>
  private readonly startMs: number
  private readonly endMs: number
  private readonly behaviour: Behaviour
  private now: number
  private commandSeq = 0
  private purchaseSeq = 0
  private clock: Clock.Clock | undefined

  private readonly config: ResolvedSimulationConfig
  private readonly handler: CustomerCommandHandlerService
  private readonly onProgress: ((progress: SimulationProgress) => void) | undefined

  constructor(
    config: ResolvedSimulationConfig,
    handler: CustomerCommandHandlerService,
    onProgress: ((progress: SimulationProgress) => void) | undefined,
  ) {
    this.config = config
    this.handler = handler
    this.onProgress = onProgress
    this.behaviour = config.behaviour
    this.months = monthStarts(Date.parse(config.start), config.months)
    this.startMs = this.months[0] as number
    this.endMs = this.months[config.months] as number
    this.now = this.startMs
    this.tally = new TallyBuilder(this.months, config.seed)
    for (const department of config.departments) this.managers.set(department.name, department.manager)
    for (const currency of config.currencies) this.unitsPerBase.set(currency.code, currency.unitsPerBase)
    this.reps = config.reps.map((rep, index) => ({
      index,
      id: rep.id,
      department: rep.department,
      diligence: rep.diligence ?? 0.85,
      active: (rep.joinsAtMonth ?? 0) === 0,
    }))
  }

  run(): Effect.Effect<Tally, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const real = yield* Clock.Clock
      this.clock = simulatedClock(real, () => this.now)
      this.planRegistrations()
      this.planStaffChanges()
      const total = Math.round((this.endMs - this.startMs) / dayMs)
      let reportedDay = -1
      for (;;) {
        const action = this.queue.pop()
        if (action === undefined || action.at >= this.endMs) break
        this.now = action.at
        yield* this.dispatch(action)
        const day = Math.floor((this.now - this.startMs) / dayMs)
        if (day > reportedDay) {
          reportedDay = day
          this.report(day, total)
        }
      }
      this.report(total, total)
      return this.tally.finish(
        this.customers,
        (owner) => this.reps[owner]?.id ?? "",
        this.config.followUpCadence,
      )
    })
  }

  private report(done: number, total: number): void {
    this.onProgress?.({ done, total, commands: this.tally.commands.issued, events: this.tally.events })
  }

  // -------------------------------------------------------------------------------------------
  // The agenda
  // -------------------------------------------------------------------------------------------

  /** Registrations grow over the period: the last month sees about twice the leads of the first. */
  private planRegistrations(): void {
    const random = new Random(this.config.seed, 0)
    const growth = 1
    const span = this.endMs - this.startMs
    const arrivals: Array<number> = []
    for (let i = 0; i < this.config.customers; i++) {
      const u = random.next()
      // Inverse of the CDF of a density rising linearly from 1 to 1 + growth over [0, 1].
      const x = (-1 + Math.sqrt(1 + 2 * growth * u * (1 + growth / 2))) / growth
      let at = forwardToWorkingTime(this.startMs + Math.floor(x * span), random)
      if (at >= this.endMs) at = backwardToWorkingTime(this.endMs - 1, random)
      arrivals.push(at)
    }
    arrivals.sort((a, b) => a - b)
    const width = String(this.config.customers).length
    arrivals.forEach((at, index) => {
      const customer = newCustomer(
        index,
        `${this.config.idPrefix}-cus-${String(index + 1).padStart(width, "0")}` as CustomerId,
        new Random(this.config.seed, index + 1),
      )
      this.customers.push(customer)
      this.queue.push(at, "register", index)
    })
  }

  private planStaffChanges(): void {
    this.config.reps.forEach((rep, index) => {
      const joins = rep.joinsAtMonth ?? 0
      if (joins > 0 && joins < this.config.months)
        this.queue.push(this.months[joins] as number, "repJoins", index)
    })
    this.config.reps.forEach((rep, index) => {
      const leaves = rep.leavesAtMonth
      if (leaves !== undefined && leaves < this.config.months) {
        this.queue.push((this.months[leaves] as number) + 9 * hourMs, "repLeaves", index)
      }
    })
  }

  private dispatch(action: Action): Effect.Effect<void, EngineError> {
    if (action.kind === "repJoins" || action.kind === "repLeaves") {
      const rep = this.reps[action.subject] as RepState
      if (action.kind === "repJoins") {
        rep.active = true
        return Effect.void
      }
      return this.repLeaves(rep)
    }
    const c = this.customers[action.subject] as SimCustomer
    switch (action.kind) {
      case "register":
        return this.register(c)
      case "lifecycle":
        return action.gen === c.lifecycleGen ? this.lifecycle(c, action.step) : Effect.void
      case "followUp":
        return action.gen === c.followUpGen ? this.followUp(c) : Effect.void
      case "account":
        return action.gen === c.accountGen ? this.accountActivity(c) : Effect.void
      case "oneOff":
        return this.oneOff(c, action.step)
    }
  }

  private after(days: number, random: Random): number {
    return forwardToWorkingTime(this.now + Math.max(hourMs, Math.floor(days * dayMs)), random)
  }

  private planLifecycle(c: SimCustomer, meanDays: number, step: string): void {
    c.lifecycleGen++
    this.queue.push(
      this.after(c.random.exponential(meanDays), c.random),
      "lifecycle",
      c.index,
      step,
      c.lifecycleGen,
    )
  }

  private stopLifecycle(c: SimCustomer): void {
    c.lifecycleGen++
  }

  private planAccount(c: SimCustomer, slower: number): void {
    c.accountGen++
    const days = c.random.exponential(this.behaviour.accountActivityDays * slower)
    this.queue.push(this.after(days, c.random), "account", c.index, "", c.accountGen)
  }

  private planOneOff(c: SimCustomer, meanDays: number, step: string): void {
    this.queue.push(this.after(c.random.exponential(meanDays), c.random), "oneOff", c.index, step)
  }

  /** The next purchase or the churn, whichever comes first (two memoryless clocks). */
  private planCustomerStep(c: SimCustomer): void {
    const b = this.behaviour
    const purchaseIn = c.random.exponential(b.purchaseIntervalDays * intervalFactor[c.trueSize])
    const churnMonths = c.stage === "loyal" ? b.loyalChurnMonths : b.customerChurnMonths
    const churnIn = c.random.exponential(churnMonths * daysPerMonth)
    c.lifecycleGen++
    const [days, step] = purchaseIn <= churnIn ? [purchaseIn, "purchase"] : [churnIn, "churn"]
    this.queue.push(this.after(days, c.random), "lifecycle", c.index, step, c.lifecycleGen)
  }

  /** The follow-up cadence's due instant, as the domain's FollowUpCadence defines it. */
  private dueOf(c: SimCustomer): number | null {
    if (c.frozen || c.lost || c.stage === "churned") return null
    return (c.lastFollowUpAt ?? c.registeredAt) + this.config.followUpCadence[c.tier] * dayMs
  }

  /** Plans the owner's next follow-up when the due instant moved: on time for a diligent rep, else late. */
  private planFollowUp(c: SimCustomer): void {
    const due = this.dueOf(c)
    if (due === c.plannedDue) return
    c.plannedDue = due
    c.followUpGen++
    if (due === null) return
    const random = c.random
    const rep = this.reps[c.owner] as RepState
    const cadenceDays = this.config.followUpCadence[c.tier]
    const earliest = this.now + 10 * 60_000
    let at: number
    if (random.chance(rep.diligence) && due > earliest) {
      const window = Math.min(cadenceDays * 0.2, 2) * dayMs
      at = Math.max(earliest, due - Math.floor(random.next() * window))
      const snapped = backwardToWorkingTime(at, random)
      if (snapped >= earliest) at = snapped
    } else {
      at = forwardToWorkingTime(
        Math.max(earliest, due) + Math.floor(random.exponential(cadenceDays * 0.3 + 2) * dayMs),
        random,
      )
    }
    this.queue.push(at, "followUp", c.index, "", c.followUpGen)
  }

  // -------------------------------------------------------------------------------------------
  // Issuing commands
  // -------------------------------------------------------------------------------------------

  private command<T extends CustomerCommandType>(
    type: T,
    c: SimCustomer,
    actor: Actor,
    fields: Fields<T>,
    options: { readonly effectiveAt?: number; readonly correlationId?: string } = {},
  ): CustomerCommand {
    const envelope: { -readonly [K in keyof CommandEnvelope]: CommandEnvelope[K] } = {
      commandId: `${this.config.idPrefix}-cmd-${++this.commandSeq}` as CommandId,
      customerId: c.id,
      actor,
      issuedAt: iso(this.now),
    }
    if (options.effectiveAt !== undefined) envelope.effectiveAt = iso(options.effectiveAt)
    if (options.correlationId !== undefined) envelope.correlationId = options.correlationId
    return { _tag: type, ...envelope, ...fields } as unknown as CustomerCommand
  }

  /** Runs a command through the handler at the simulated instant and checks the prediction. */
  private issue(command: CustomerCommand, expectation: Expectation): Effect.Effect<void, EngineError> {
    const clock = this.clock as Clock.Clock
    return this.handler.handle(command).pipe(
      Effect.provideService(Clock.Clock, clock),
      Effect.result,
      Effect.flatMap((result) => {
        const diverged = (actual: string) =>
          Effect.fail(
            new SimulationDiverged({
              commandId: command.commandId,
              commandType: command._tag,
              customerId: command.customerId,
              expected: describe(expectation),
              actual,
            }),
          )
        if (Result.isFailure(result)) {
          const error = result.failure
          if (infrastructureErrors.has(error._tag)) return Effect.fail(error as EngineError)
          if (expectation._tag !== "reject" || expectation.violation !== error._tag) {
            return diverged(`rejection ${error._tag}: ${error.message}`)
          }
          this.tally.command(command._tag, "rejected", [])
          this.tally.rejection(error._tag)
          return Effect.void
        }
        const { events, replayed } = result.success
        const types = events.map((event) => event._tag)
        const expected = expectation._tag === "accept" ? expectation.events : []
        if (
          replayed ||
          expectation._tag === "reject" ||
          types.length !== expected.length ||
          types.some((type, i) => type !== expected[i])
        ) {
          return diverged(replayed ? "a replay of an earlier command" : `events [${types.join(", ")}]`)
        }
        this.tally.command(command._tag, types.length === 0 ? "unchanged" : "accepted", types)
        return Effect.void
      }),
    )
  }

  private repActor(c: SimCustomer): Actor {
    return { id: (this.reps[c.owner] as RepState).id, role: "rep" }
  }

  private managerActor(c: SimCustomer): Actor {
    return { id: this.managers.get(c.department) as ActorId, role: "manager" }
  }

  // -------------------------------------------------------------------------------------------
  // Model updates shared by several actions
  // -------------------------------------------------------------------------------------------

  private enterStage(c: SimCustomer, stage: LifecycleStage): void {
    c.stage = stage
    c.stageAt.push(this.now)
    c.stageOf.push(stage)
    if (stage === "prospect") c.everProspect = true
    if (stage === "customer") c.everCustomer = true
    if (stage === "loyal") c.everLoyal = true
  }

  private changeTier(c: SimCustomer, to: Tier, at: number): void {
    c.tier = to
    c.lastTierChangeAt = at
    c.tierAt.push(at)
    c.tierOf.push(to)
  }

  private recordPurchase(c: SimCustomer, purchase: Purchase): void {
    c.purchases.push(iso(this.now))
    c.revenueMinor += purchase.amount.amountMinor
    const currency = purchase.amount.currency
    this.tally.purchasesByCurrency[currency] = (this.tally.purchasesByCurrency[currency] ?? 0) + 1
  }

  /** After any accepted command: the customer's clock moves and the follow-up plan follows its due date. */
  private accepted(c: SimCustomer): void {
    c.lastEventAt = Math.max(c.lastEventAt, this.now)
    this.planFollowUp(c)
  }

  private purchase(c: SimCustomer): Purchase {
    const random = c.random
    const major =
      random.logNormal(this.behaviour.medianPurchase * spendFactor[c.trueSize], 0.8) *
      (this.unitsPerBase.get(c.currency) ?? 1)
    return {
      purchaseId: `${this.config.idPrefix}-po-${++this.purchaseSeq}` as PurchaseId,
      amount: { amountMinor: Math.max(1, Math.round(major)) * 100, currency: c.currency as CurrencyCode },
      description: random.pick(Words.productLines),
    }
  }

  private subject(c: SimCustomer): ClassificationSubject {
    return {
      profile: c.profile,
      contacts: c.contacts,
      stage: c.stage,
      purchases: { recent: c.purchases.slice(-recentPurchaseLimit) },
    }
  }

  // -------------------------------------------------------------------------------------------
  // Registration
  // -------------------------------------------------------------------------------------------

  private register(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const random = c.random
      const b = this.behaviour
      const original =
        this.registered.length > 10 && random.chance(b.duplicateRate)
          ? (this.customers[random.pick(this.registered)] as SimCustomer)
          : undefined
      this.makeProfile(c, original)
      const rep = this.pickOwner(random, c.trueSize, original?.owner)
      c.owner = rep.index
      c.department = rep.department
      if (random.chance(b.violationRate)) {
        // A rep qualifies a lead that was never registered.
        yield* this.issue(this.command("QualifyLead", c, this.repActor(c), {}), reject("CustomerNotFound"))
      }
      const tier = this.registrationTier(random, c.trueSize)
      const fields: Fields<"RegisterLead"> = {
        // Copies: the model's objects change later, the command's must not.
        profile: { ...c.profile },
        source: random.weighted(Words.leadSources, (s) => s.weight).name as LeadSource,
        owner: rep.id,
        department: rep.department as Department,
        ...(tier === undefined ? {} : { tier }),
      }
      if (original !== undefined) {
        // The duplicate check flags the lead; the rep confirms it with the manager's reason.
        const duplicateOf = original.id
        yield* this.issue(
          this.command("RegisterLead", c, this.repActor(c), { ...fields, duplicateOf }),
          reject("PossibleDuplicateCustomer"),
        )
        yield* this.issue(
          this.command("RegisterLead", c, this.repActor(c), {
            ...fields,
            duplicateOf,
            allowDuplicateReason: Words.duplicateReason,
          }),
          accept("LeadRegistered"),
        )
        this.tally.accounts.duplicates++
      } else {
        yield* this.issue(this.command("RegisterLead", c, this.repActor(c), fields), accept("LeadRegistered"))
      }
      c.registered = true
      c.registeredAt = this.now
      c.tier = tier ?? "D"
      c.lastTierChangeAt = this.now
      c.tierAt.push(this.now)
      c.tierOf.push(c.tier)
      this.enterStage(c, "lead")
      this.tally.entries.lead.registered++
      this.registered.push(c.index)
      this.accepted(c)
      this.planLifecycle(c, b.leadDecisionDays, "decide")
      this.planAccount(c, 1)
      if (random.chance(0.7)) this.planOneOff(c, 2, "contacts")
    })
  }

  private makeProfile(c: SimCustomer, original: SimCustomer | undefined): void {
    const random = c.random
    const config = this.config
    const region = original?.profile.region ?? random.weighted(config.regions, (r) => r.weight).name
    const regionConfig = config.regions.find((r) => r.name === region) ?? (config.regions[0] as never)
    const industry = original?.profile.industry ?? random.weighted(config.industries, (i) => i.weight).name
    c.trueSize = original?.trueSize ?? random.weighted(config.sizes, (s) => s.weight).size
    c.currency = original?.currency ?? regionConfig.currency
    const city = random.pick(Words.cities[region] ?? Words.otherCities)
    const nouns = Words.companyNouns[industry] ?? Words.genericNouns
    const name =
      original?.profile.name ??
      `${random.pick(Words.companyPrefixes)} ${random.pick(nouns)}${random.chance(0.5) ? ` (${city})` : ""}`
    const slug = name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "")
    c.domain = original?.domain ?? `${slug}-${c.index.toString(36)}.example`
    const profile: SimCustomer["profile"] = { name }
    if (random.chance(0.6)) profile.company = `${name} ${random.pick(Words.legalSuffixes)}`
    const email = original?.profile.email ?? (random.chance(0.9) ? (`info@${c.domain}` as Email) : undefined)
    if (email !== undefined) profile.email = email
    const phone =
      original?.profile.phone ?? (random.chance(0.85) ? this.phoneNumber(random, region) : undefined)
    if (phone !== undefined) profile.phone = phone
    if (random.chance(0.15)) profile.fax = this.phoneNumber(random, region)
    if (random.chance(0.6)) profile.address = `${random.int(1, 999)} ${random.pick(Words.streets)}, ${city}`
    if (random.chance(0.5)) profile.website = `https://www.${c.domain}`
    if (original !== undefined || random.chance(0.85)) profile.industry = industry as Industry
    if (random.chance(0.8)) profile.size = c.trueSize
    if (original !== undefined || random.chance(0.95)) profile.region = region as Region
    if (random.chance(0.6)) {
      profile.creditLevel = random.weighted(config.creditLevels, (l) => l.weight).level
    }
    c.profile = profile
  }

  private phoneNumber(random: Random, region: string): Phone {
    let digits = ""
    for (let i = 0; i < 10; i++) digits += String(random.int(i === 0 ? 1 : 0, 9))
    return `${Words.callingCodes[region] ?? "+1"}${digits}` as Phone
  }

  private registrationTier(random: Random, size: CompanySize): Tier | undefined {
    const x = random.next()
    if (size === "large" || size === "enterprise") return x < 0.2 ? "B" : x < 0.6 ? "C" : undefined
    if (size === "medium") return x < 0.2 ? "C" : undefined
    return undefined
  }

  /**
   * The rep for a new lead: large companies go to the first department, medium ones to the middle
   * one, small ones to the last (7 times in 10), among the reps working then.
   */
  private pickOwner(random: Random, size: CompanySize, avoid: number | undefined): RepState {
    const departments = this.config.departments
    const position = size === "large" || size === "enterprise" ? 0 : size === "medium" ? 0.5 : 1
    const preferred = departments[Math.round(position * (departments.length - 1))]?.name
    const active = this.reps.filter((rep) => rep.active && rep.index !== avoid)
    const pool = active.length > 0 ? active : this.reps.filter((rep) => rep.active)
    const inDepartment = pool.filter((rep) => rep.department === preferred)
    return random.pick(inDepartment.length > 0 && random.chance(0.7) ? inDepartment : pool)
  }

  // -------------------------------------------------------------------------------------------
  // The lifecycle
  // -------------------------------------------------------------------------------------------

  private lifecycle(c: SimCustomer, step: string): Effect.Effect<void, EngineError> {
    if (c.frozen) {
      c.deferredStep = step
      // Now and then the rep tries anyway and the frozen account refuses.
      return c.random.chance(0.25)
        ? this.issue(this.attemptFor(c, step), reject("AccountIsFrozen"))
        : Effect.void
    }
    switch (step) {
      case "decide":
        return c.stage === "lead" ? this.leadDecision(c) : this.prospectDecision(c)
      case "reopen":
        return this.reopen(c)
      case "purchase":
        return this.repeatPurchase(c)
      case "churn":
        return this.churn(c)
      case "winBack":
        return this.winBack(c)
      default:
        return Effect.die(new Error(`unknown lifecycle step ${step}`))
    }
  }

  private attemptFor(c: SimCustomer, step: string): CustomerCommand {
    const actor = this.repActor(c)
    switch (step) {
      case "decide":
        return c.stage === "lead"
          ? this.command("QualifyLead", c, actor, {})
          : this.command("ConvertToCustomer", c, actor, { firstPurchase: this.purchase(c) })
      case "reopen":
        return this.command("ReopenLead", c, actor, {})
      case "churn":
        return this.command("ChurnCustomer", c, actor, { reason: Words.churnReasons[0].name })
      case "winBack":
        return this.command("WinBackCustomer", c, actor, {})
      default:
        return this.command("RecordPurchase", c, actor, this.purchase(c))
    }
  }

  private leadDecision(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const b = this.behaviour
      const random = c.random
      if (random.chance(b.violationRate)) {
        // A rep tries to book a first purchase before the lead was qualified.
        yield* this.issue(
          this.command("ConvertToCustomer", c, this.repActor(c), { firstPurchase: this.purchase(c) }),
          reject("InvalidLifecycleTransition"),
        )
      }
      const stalled = c.undecidedRounds >= b.maxUndecidedRounds
      const x = random.next()
      if (!stalled && x < b.qualifyRate) {
        const reason = random.chance(0.5) ? { reason: random.pick(Words.qualifyReasons) } : {}
        yield* this.issue(this.command("QualifyLead", c, this.repActor(c), reason), accept("LeadQualified"))
        this.enterStage(c, "prospect")
        this.tally.entries.prospect.qualified++
        c.undecidedRounds = 0
        c.winBackProspect = false
        this.accepted(c)
        this.planLifecycle(c, b.prospectDecisionDays, "decide")
        if (random.chance(0.3)) this.planOneOff(c, 3, "classify")
      } else if (stalled || x < b.qualifyRate + b.leadLossRate) {
        const reason = stalled
          ? Words.stalledReason
          : random.weighted(Words.leadLossReasons, (r) => r.weight).name
        yield* this.loseDeal(c, "lead", reason)
      } else {
        c.undecidedRounds++
        this.planLifecycle(c, b.leadDecisionDays, "decide")
      }
    })
  }

  private prospectDecision(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const b = this.behaviour
      const random = c.random
      if (random.chance(b.violationRate)) {
        // A repeat purchase booked for someone who never bought.
        yield* this.issue(
          this.command("RecordPurchase", c, this.repActor(c), this.purchase(c)),
          reject("InvalidLifecycleTransition"),
        )
      }
      const wonBack = c.winBackProspect
      const convertRate = wonBack ? b.winBackConvertRate : b.convertRate
      const lossRate = wonBack ? b.winBackLossRate : b.prospectLossRate
      const stalled = c.undecidedRounds >= b.maxUndecidedRounds
      const x = random.next()
      if (!stalled && x < convertRate) {
        const firstPurchase = this.purchase(c)
        yield* this.issue(
          this.command("ConvertToCustomer", c, this.repActor(c), { firstPurchase }),
          accept("CustomerConverted"),
        )
        this.enterStage(c, "customer")
        this.tally.entries.customer++
        this.recordPurchase(c, firstPurchase)
        const last = c.winBackAttempts.length - 1
        if (last >= 0 && c.winBackAttempts[last] !== "succeeded") c.winBackAttempts[last] = "succeeded"
        c.undecidedRounds = 0
        c.winBackProspect = false
        this.accepted(c)
        this.planCustomerStep(c)
        if (random.chance(0.5)) this.planOneOff(c, 5, "classify")
      } else if (stalled || x < convertRate + lossRate) {
        const reason = wonBack
          ? Words.winBackLossReason
          : stalled
            ? Words.stalledReason
            : random.weighted(Words.prospectLossReasons, (r) => r.weight).name
        yield* this.loseDeal(c, "prospect", reason)
      } else {
        c.undecidedRounds++
        this.planLifecycle(c, b.prospectDecisionDays, "decide")
      }
    })
  }

  private loseDeal(
    c: SimCustomer,
    stage: "lead" | "prospect",
    reason: string,
  ): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      yield* this.issue(this.command("MarkDealLost", c, this.repActor(c), { reason }), accept("DealLost"))
      c.lost = true
      this.tally.lostDeal(stage, reason)
      const last = c.winBackAttempts.length - 1
      if (last >= 0 && c.winBackAttempts[last] === "open") c.winBackAttempts[last] = "failed"
      const reopenRate = this.behaviour.reopenRate * (c.winBackProspect ? 0.3 : 1)
      if (c.random.chance(reopenRate)) this.planLifecycle(c, this.behaviour.reopenAfterDays, "reopen")
      else this.stopLifecycle(c)
      this.accepted(c)
    })
  }

  private reopen(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const reason = c.random.chance(0.7) ? { reason: c.random.pick(Words.reopenReasons) } : {}
      yield* this.issue(this.command("ReopenLead", c, this.repActor(c), reason), accept("LeadReopened"))
      c.lost = false
      this.enterStage(c, "lead")
      this.tally.entries.lead.reopened++
      this.tally.lostDeals.reopened++
      c.undecidedRounds = 0
      c.winBackProspect = false
      this.accepted(c)
      this.planLifecycle(c, this.behaviour.leadDecisionDays, "decide")
    })
  }

  private repeatPurchase(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const purchase = this.purchase(c)
      const at = iso(this.now)
      const becomesLoyal =
        c.stage === "customer" &&
        isLoyaltyRuleMet(this.config.loyalty, [...c.purchases.slice(-recentPurchaseLimit), at], at)
      yield* this.issue(
        this.command("RecordPurchase", c, this.repActor(c), purchase),
        becomesLoyal ? accept("PurchaseRecorded", "CustomerBecameLoyal") : accept("PurchaseRecorded"),
      )
      this.recordPurchase(c, purchase)
      if (becomesLoyal) {
        this.enterStage(c, "loyal")
        this.tally.entries.loyal.byPolicy++
      } else if (
        c.stage === "customer" &&
        c.purchases.length >= 2 &&
        c.random.chance(this.behaviour.handPromotionRate)
      ) {
        this.planOneOff(c, 10, "promote")
      }
      this.accepted(c)
      this.planCustomerStep(c)
      if (c.random.chance(0.15)) this.planOneOff(c, 3, "classify")
    })
  }

  private churn(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const reason = c.random.weighted(Words.churnReasons, (r) => r.weight).name
      yield* this.issue(
        this.command("ChurnCustomer", c, this.repActor(c), { reason }),
        accept("CustomerChurned"),
      )
      this.enterStage(c, "churned")
      this.tally.churned(monthIndexOf(this.months, this.now), reason)
      if (c.random.chance(this.behaviour.winBackAttemptRate)) {
        this.planLifecycle(c, this.behaviour.winBackAfterDays, "winBack")
      } else {
        this.stopLifecycle(c)
      }
      this.accepted(c)
      if (c.random.chance(0.3)) this.planOneOff(c, 7, "classify")
    })
  }

  private winBack(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const reason = c.random.chance(0.7) ? { reason: c.random.pick(Words.winBackReasons) } : {}
      yield* this.issue(
        this.command("WinBackCustomer", c, this.repActor(c), reason),
        accept("CustomerWinBackStarted"),
      )
      this.enterStage(c, "prospect")
      this.tally.entries.prospect.wonBack++
      c.winBackAttempts.push("open")
      c.winBackProspect = true
      c.undecidedRounds = 0
      this.accepted(c)
      this.planLifecycle(c, this.behaviour.prospectDecisionDays, "decide")
    })
  }

  // -------------------------------------------------------------------------------------------
  // Follow-ups
  // -------------------------------------------------------------------------------------------

  private followUp(c: SimCustomer): Effect.Effect<void, EngineError> {
    const due = this.dueOf(c)
    return due === null ? Effect.void : this.recordFollowUp(c, due)
  }

  /** A follow-up now (sometimes logged a day late, `at` back-dated); `due` is the due instant or null. */
  private recordFollowUp(c: SimCustomer, due: number | null): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const random = c.random
      const note = random.pick(Words.followUpNotes)
      const fields: { -readonly [K in keyof Fields<"RecordFollowUp">]: Fields<"RecordFollowUp">[K] } = {
        channel: random.weighted(channels, (ch) => ch.weight).name,
        summary: note.summary,
        outcome: note.outcome,
      }
      if (c.contacts.length > 0 && random.chance(0.6)) fields.contactId = random.pick(c.contacts).contactId
      let at = this.now
      if (random.chance(this.behaviour.lateLoggingRate)) {
        const earlier = this.now - Math.floor(random.between(2, 26) * hourMs)
        if (earlier > c.lastEventAt && earlier > (c.lastFollowUpAt ?? Number.NEGATIVE_INFINITY)) {
          at = earlier
          fields.at = iso(at)
        }
      }
      const owner = (this.reps[c.owner] as RepState).id
      yield* this.issue(
        this.command("RecordFollowUp", c, this.repActor(c), fields),
        accept("FollowUpRecorded"),
      )
      this.tally.followUp(owner, at, due)
      c.lastFollowUpAt = Math.max(c.lastFollowUpAt ?? at, at)
      this.accepted(c)
    })
  }

  // -------------------------------------------------------------------------------------------
  // Other account activity
  // -------------------------------------------------------------------------------------------

  private accountActivity(c: SimCustomer): Effect.Effect<void, EngineError> {
    const dormant = c.lost || c.stage === "churned"
    this.planAccount(c, dormant ? 3 : 1)
    if (c.frozen) return Effect.void
    const b = this.behaviour
    const random = c.random
    const x = random.next()
    let bound = b.freezeRate
    if (x < bound) return dormant ? Effect.void : this.freeze(c)
    bound += b.handoverRate
    if (x < bound) return this.handover(c, random.pick(Words.handoverReasons), true)
    bound += b.tierChangeRate
    if (x < bound) return this.changeTierByHand(c)
    bound += b.classifyRate
    if (x < bound) return this.classifyNow(c)
    if (random.chance(b.violationRate * 3)) return this.provokeViolation(c)
    return this.housekeeping(c, dormant)
  }

  private housekeeping(c: SimCustomer, dormant: boolean): Effect.Effect<void, EngineError> {
    type Chore = "addContact" | "updateContact" | "removeContact" | "updateProfile" | "unscheduledFollowUp"
    const chores: Array<{ readonly name: Chore; readonly weight: number }> = [
      { name: "updateProfile", weight: 2 },
    ]
    if (c.contacts.length < 4) chores.push({ name: "addContact", weight: 3 })
    if (c.contacts.length >= 1) chores.push({ name: "updateContact", weight: 2 })
    if (c.contacts.length >= 2) chores.push({ name: "removeContact", weight: 0.7 })
    if (dormant) chores.push({ name: "unscheduledFollowUp", weight: 3 })
    switch (c.random.weighted(chores, (chore) => chore.weight).name) {
      case "addContact":
        return this.addContact(c)
      case "updateContact":
        return this.updateContact(c)
      case "removeContact":
        return this.removeContact(c)
      case "updateProfile":
        return this.updateProfile(c)
      case "unscheduledFollowUp":
        return this.recordFollowUp(c, null)
    }
  }

  private oneOff(c: SimCustomer, step: string): Effect.Effect<void, EngineError> {
    switch (step) {
      case "contacts":
        return c.frozen
          ? Effect.void
          : Effect.andThen(this.addContact(c), c.random.chance(0.4) ? this.addContact(c) : Effect.void)
      case "classify":
        return c.frozen ? Effect.void : this.classifyNow(c)
      case "promote":
        return c.frozen || c.stage !== "customer" ? Effect.void : this.promote(c)
      case "unfreeze":
        return c.frozen ? this.unfreeze(c) : Effect.void
      case "frozenAttempt": {
        if (!c.frozen) return Effect.void
        const actor = this.repActor(c)
        const note = Words.followUpNotes[0]
        const attempt =
          c.stage === "customer" || c.stage === "loyal"
            ? this.command("RecordPurchase", c, actor, this.purchase(c))
            : this.command("RecordFollowUp", c, actor, { channel: "phone", ...note })
        return this.issue(attempt, reject("AccountIsFrozen"))
      }
      default:
        return Effect.die(new Error(`unknown one-off step ${step}`))
    }
  }

  private promote(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const reason = c.random.pick(Words.handPromotionReasons)
      yield* this.issue(
        this.command("PromoteToLoyal", c, this.repActor(c), { reason }),
        accept("CustomerBecameLoyal"),
      )
      this.enterStage(c, "loyal")
      this.tally.entries.loyal.byHand++
      this.accepted(c)
    })
  }

  private classifyNow(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const { tier } = classify(this.config.classification, this.subject(c), iso(this.now))
      const changes = tier !== c.tier
      yield* this.issue(
        this.command("ClassifyCustomer", c, this.repActor(c), {}),
        changes ? accept("TierChanged") : unchanged,
      )
      if (!changes) return
      this.changeTier(c, tier, this.now)
      this.tally.tierChanges.byClassification++
      this.accepted(c)
    })
  }

  private changeTierByHand(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const random = c.random
      const suggested = classify(this.config.classification, this.subject(c), iso(this.now)).tier
      let fields: Fields<"ChangeTier">
      if (suggested !== c.tier && random.chance(0.5)) {
        fields = { to: suggested, reason: Words.suggestedTierReason, suggestion: suggested }
      } else {
        const index = tierOrder.indexOf(c.tier)
        const up = index === tierOrder.length - 1 || (index > 0 && random.chance(0.5))
        const to = tierOrder[up ? index - 1 : index + 1] as Tier
        fields = { to, reason: random.pick(up ? Words.tierUpReasons : Words.tierDownReasons) }
      }
      let effectiveAt: number | undefined
      if (random.chance(this.behaviour.backDatedTierChangeRate)) {
        // Back-dated, but never before the customer's previous tier change: the tier's history
        // keeps one order whether it is read as recorded or as effective.
        const candidate = this.now - Math.floor(random.between(1, 21) * dayMs)
        if (candidate > Math.max(c.lastTierChangeAt, c.registeredAt) + hourMs) effectiveAt = candidate
      }
      const actor = random.chance(0.5) ? this.managerActor(c) : this.repActor(c)
      yield* this.issue(
        this.command("ChangeTier", c, actor, fields, effectiveAt === undefined ? {} : { effectiveAt }),
        accept("TierChanged"),
      )
      this.changeTier(c, fields.to, effectiveAt ?? this.now)
      this.tally.tierChanges.byHand++
      if (effectiveAt !== undefined) this.tally.tierChanges.byHandBackDated++
      this.accepted(c)
    })
  }

  private freeze(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const random = c.random
      const reason = random.pick(Words.freezeReasons)
      if (random.chance(this.behaviour.violationRate * 5)) {
        // Freezing is the manager's call; the rep's attempt is refused.
        yield* this.issue(
          this.command("FreezeAccount", c, this.repActor(c), { reason }),
          reject("ActorNotPermitted"),
        )
      }
      yield* this.issue(
        this.command("FreezeAccount", c, this.managerActor(c), { reason }),
        accept("AccountFrozen"),
      )
      c.frozen = true
      this.tally.accounts.freezes++
      this.accepted(c)
      const duration = Math.max(1, random.exponential(this.behaviour.freezeDays)) * dayMs
      this.queue.push(
        forwardToWorkingTime(this.now + Math.floor(duration), random),
        "oneOff",
        c.index,
        "unfreeze",
      )
      if (random.chance(0.4)) {
        const during = this.now + Math.floor(random.between(0.1, 0.9) * duration)
        this.queue.push(during, "oneOff", c.index, "frozenAttempt")
      }
    })
  }

  private unfreeze(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const reason = c.random.pick(Words.unfreezeReasons)
      yield* this.issue(
        this.command("UnfreezeAccount", c, this.managerActor(c), { reason }),
        accept("AccountUnfrozen"),
      )
      c.frozen = false
      this.tally.accounts.unfreezes++
      this.accepted(c)
      if (c.pendingHandover) {
        c.pendingHandover = false
        yield* this.handover(c, Words.repLeftReason, false)
      }
      if (c.deferredStep !== null) {
        const step = c.deferredStep
        c.deferredStep = null
        this.planLifecycle(c, 3, step)
      }
    })
  }

  private handoverTarget(c: SimCustomer): RepState | undefined {
    const others = this.reps.filter((rep) => rep.active && rep.index !== c.owner)
    const colleagues = others.filter((rep) => rep.department === c.department)
    const pool = colleagues.length > 0 && c.random.chance(0.7) ? colleagues : others
    return pool.length === 0 ? undefined : c.random.pick(pool)
  }

  private handover(
    c: SimCustomer,
    reason: string,
    repMayTry: boolean,
    correlationId?: string,
  ): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const target = this.handoverTarget(c)
      if (target === undefined) return
      const fields: Fields<"AssignOwner"> = {
        to: target.id,
        department: target.department as Department,
        reason,
      }
      const options = correlationId === undefined ? {} : { correlationId }
      if (repMayTry && c.random.chance(this.behaviour.violationRate * 5)) {
        // Reassigning is the manager's call; the rep's attempt is refused.
        yield* this.issue(
          this.command("AssignOwner", c, this.repActor(c), fields, options),
          reject("ActorNotPermitted"),
        )
      }
      yield* this.issue(
        this.command("AssignOwner", c, this.managerActor(c), fields, options),
        accept("OwnerAssigned"),
      )
      c.owner = target.index
      c.department = target.department
      this.tally.accounts.handovers++
      this.accepted(c)
    })
  }

  /** A rep leaves: the managers hand every account over; a frozen one waits for its unfreeze. */
  private repLeaves(rep: RepState): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      rep.active = false
      const correlationId = `${this.config.idPrefix}-handover-${rep.id}`
      for (const index of this.registered) {
        const c = this.customers[index] as SimCustomer
        if (c.owner !== rep.index) continue
        if (!c.frozen) {
          yield* this.handover(c, Words.repLeftReason, false, correlationId)
          continue
        }
        c.pendingHandover = true
        const target = this.handoverTarget(c)
        if (target !== undefined && c.random.chance(0.5)) {
          yield* this.issue(
            this.command(
              "AssignOwner",
              c,
              this.managerActor(c),
              { to: target.id, department: target.department as Department, reason: Words.repLeftReason },
              { correlationId },
            ),
            reject("AccountIsFrozen"),
          )
        }
      }
    })
  }

  private addContact(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const random = c.random
      const given = random.pick(Words.givenNames)
      const family = random.pick(Words.familyNames)
      const contact: SimCustomer["contacts"][number] = {
        contactId: `ct-${++c.contactSeq}` as ContactId,
        name: `${given} ${family}`,
      }
      if (random.chance(0.8)) contact.title = random.pick(Words.contactTitles)
      if (random.chance(0.6)) contact.phone = this.phoneNumber(random, c.profile.region ?? "")
      if (random.chance(0.7)) contact.email = `${given}.${family}@${c.domain}`.toLowerCase() as Email
      yield* this.issue(
        this.command("AddContact", c, this.repActor(c), { contact: { ...contact } }),
        accept("ContactAdded"),
      )
      c.contacts.push(contact)
      this.accepted(c)
    })
  }

  private updateContact(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const contact = c.random.pick(c.contacts)
      const titles = Words.contactTitles.filter((title) => title !== contact.title)
      const title = c.random.pick(titles)
      yield* this.issue(
        this.command("UpdateContact", c, this.repActor(c), {
          contactId: contact.contactId,
          changes: { title },
        }),
        accept("ContactUpdated"),
      )
      contact.title = title
      this.accepted(c)
    })
  }

  private removeContact(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const contact = c.random.pick(c.contacts)
      yield* this.issue(
        this.command("RemoveContact", c, this.repActor(c), {
          contactId: contact.contactId,
          reason: "Left the company",
        }),
        accept("ContactRemoved"),
      )
      c.contacts = c.contacts.filter((other) => other !== contact)
      this.accepted(c)
    })
  }

  /** One real change to the profile: a detail filled in, or one that changed (never cleared). */
  private updateProfile(c: SimCustomer): Effect.Effect<void, EngineError> {
    return Effect.gen({ self: this }, function* () {
      const random = c.random
      const profile = c.profile
      const changes: { -readonly [K in keyof SimCustomer["profile"]]?: SimCustomer["profile"][K] } = {}
      switch (random.int(0, 5)) {
        case 0:
          changes.creditLevel = random.pick(creditLevels.filter((level) => level !== profile.creditLevel))
          break
        case 1: {
          const phone = this.phoneNumber(random, profile.region ?? "")
          if (phone !== profile.phone) changes.phone = phone
          break
        }
        case 2: {
          const address = `${random.int(1, 999)} ${random.pick(Words.streets)}, ${random.pick(Words.cities[profile.region ?? ""] ?? Words.otherCities)}`
          if (address !== profile.address) changes.address = address
          break
        }
        case 3:
          if (profile.size === undefined) {
            changes.size = c.trueSize
          } else {
            // The company grew (or shrank) into the next band.
            const index = sizeOrder.indexOf(profile.size)
            const next =
              sizeOrder[
                index === sizeOrder.length - 1 || (index > 0 && random.chance(0.3)) ? index - 1 : index + 1
              ]
            changes.size = next as CompanySize
          }
          break
        case 4:
          if (profile.website === undefined) changes.website = `https://www.${c.domain}`
          else if (profile.company === undefined) changes.company = `${profile.name} Ltd.`
          else
            changes.creditLevel = random.pick(creditLevels.filter((level) => level !== profile.creditLevel))
          break
        default:
          if (profile.email === undefined) changes.email = `sales@${c.domain}` as Email
          else
            changes.creditLevel = random.pick(creditLevels.filter((level) => level !== profile.creditLevel))
      }
      if (Object.keys(changes).length === 0) return
      yield* this.issue(
        this.command("UpdateProfile", c, this.repActor(c), { changes }),
        accept("ProfileUpdated"),
      )
      Object.assign(profile, changes)
      if (changes.size !== undefined) c.trueSize = changes.size
      this.accepted(c)
    })
  }

  /** A mistake a user makes now and then; the decider refuses it and nothing is appended. */
  private provokeViolation(c: SimCustomer): Effect.Effect<void, EngineError> {
    const random = c.random
    const rep = this.repActor(c)
    const candidates: Array<() => Effect.Effect<void, EngineError>> = [
      () =>
        this.issue(
          this.command("UnfreezeAccount", c, this.managerActor(c), { reason: "Unfreeze requested" }),
          reject("AccountNotFrozen"),
        ),
      () =>
        this.issue(
          this.command("RecordFollowUp", c, rep, {
            channel: "visit",
            summary: "Planned visit",
            outcome: "Not yet held",
            at: iso(this.now + dayMs),
          }),
          reject("BusinessDateInFuture"),
        ),
      () =>
        c.stage === "customer"
          ? this.issue(this.command("WinBackCustomer", c, rep, {}), reject("InvalidLifecycleTransition"))
          : this.issue(
              this.command("PromoteToLoyal", c, rep, { reason: "Looks promising" }),
              reject("InvalidLifecycleTransition"),
            ),
      () =>
        this.issue(
          this.command("UpdateContact", c, rep, {
            contactId: `ct-${c.contactSeq + 1}` as ContactId,
            changes: { title: "Buyer" },
          }),
          reject("ContactNotFound"),
        ),
      () =>
        this.issue(
          this.command("FreezeAccount", c, rep, { reason: "Payment overdue" }),
          reject("ActorNotPermitted"),
        ),
    ]
    if (c.contacts.length > 0) {
      const existing = c.random.pick(c.contacts)
      candidates.push(() =>
        this.issue(
          this.command("AddContact", c, rep, { contact: { ...existing } }),
          reject("ContactAlreadyExists"),
        ),
      )
    }
    return random.pick(candidates)()
  }
}

const newCustomer = (index: number, id: CustomerId, random: Random): SimCustomer => ({
  index,
  id,
  random,
  registered: false,
  registeredAt: 0,
  lastEventAt: 0,
  owner: 0,
  department: "",
  currency: "",
  domain: "",
  trueSize: "small",
  profile: { name: "" },
  contacts: [],
  contactSeq: 0,
  stage: "lead",
  lost: false,
  frozen: false,
  tier: "D",
  lastTierChangeAt: 0,
  lastFollowUpAt: null,
  purchases: [],
  revenueMinor: 0,
  undecidedRounds: 0,
  winBackProspect: false,
  winBackAttempts: [],
  lifecycleGen: 0,
  followUpGen: 0,
  accountGen: 0,
  deferredStep: null,
  plannedDue: null,
  pendingHandover: false,
  stageAt: [],
  stageOf: [],
  tierAt: [],
  tierOf: [],
  everProspect: false,
  everCustomer: false,
  everLoyal: false,
})

/**
 * A Clock whose wall time is the simulation's instant, so the handler stamps `recordedAt` with it.
 * Sleeping and monotonic time stay real: a retry's back-off against a real store really waits.
 */
const simulatedClock = (real: Clock.Clock, now: () => number): Clock.Clock => ({
  currentTimeMillisUnsafe: now,
  currentTimeMillis: Effect.sync(now),
  currentTimeNanosUnsafe: () => BigInt(now()) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => real.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: real.monotonicTimeNanos,
  sleep: (duration) => real.sleep(duration),
})
