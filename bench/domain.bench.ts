/**
 * Domain benchmark: how fast the Customer decider folds, decodes and decides, with no I/O.
 *
 *   node bench/domain.bench.ts      (through ./npmw exec, or every suite with `npm run bench`)
 *
 * Prints one JSON object: {"suite":"domain","rows":[...],"maxRssKb":n}. Each row is the median of
 * several timed rounds after a warm-up.
 */
import {
  addDays,
  type CustomerCommand,
  CustomerDecider,
  type CustomerEvent,
  type CustomerState,
  decodeCustomerEvent,
  encodeCustomerEvent,
  foldEvents,
  type Instant,
} from "@relata/domain"
import { Result } from "effect"

const streamLength = 1_000
const rounds = 7
const firstIssuedAt = "2024-01-15T09:00:00.000Z" as Instant

// Not the testing kit's `customerCommand`: that module loads vitest, which would dominate the RSS.
const command = (type: CustomerCommand["_tag"], fields: object, issuedAt: Instant): CustomerCommand =>
  ({
    _tag: type,
    commandId: "command-1",
    customerId: "customer-1",
    actor: { id: "manager-1", role: "manager" },
    issuedAt,
    ...fields,
  }) as CustomerCommand

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** Runs `body` (which handles `perCall` items) until `ms` have passed; returns items per second. */
const throughput = (perCall: number, body: () => void, ms = 300): number => {
  let calls = 0
  const started = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    body()
    calls++
    elapsed = performance.now() - started
  }
  return (calls * perCall) / (elapsed / 1000)
}

// No forced gc() between measures: on Node 24 it left the decide phase slower and its heap larger.
const measure = (perCall: number, body: () => void): number => {
  throughput(perCall, body, 500) // warm-up, so V8 has optimised the code being timed
  return Math.round(median(Array.from({ length: rounds }, () => throughput(perCall, body))))
}

// The shared workload's event mix (registration, qualification, conversion, then purchases, tier
// changes and follow-ups), with a contact and profile changes as a real customer would have.
const tiers = ["C", "B", "A", "B"]
const purchase = (i: number) => ({
  purchaseId: `order-${i}`,
  amount: { amountMinor: 10_000 + i, currency: "EUR" },
})
const commandFor = (i: number): CustomerCommand => {
  const at = addDays(firstIssuedAt, i)
  if (i === 0)
    return command("RegisterLead", { profile: { name: "Acme Trading" }, source: "fair", owner: "rep-1" }, at)
  if (i === 1) return command("QualifyLead", {}, at)
  if (i === 2) return command("ConvertToCustomer", { firstPurchase: purchase(i) }, at)
  if (i === 3) return command("AddContact", { contact: { contactId: "c-1", name: "Li Wei" } }, at)
  switch (i % 4) {
    case 0:
      return command("RecordPurchase", purchase(i), at)
    case 1:
      return command(
        "RecordFollowUp",
        {
          channel: "phone",
          summary: `Call ${i} about the next order`,
          outcome: "order expected",
          contactId: "c-1",
        },
        at,
      )
    case 2:
      return command("ChangeTier", { to: tiers[(i >> 2) % tiers.length], reason: "quarterly review" }, at)
    default:
      return command("UpdateProfile", { changes: { address: `${i} Harbour Road` } }, at)
  }
}

const buildStream = (): ReadonlyArray<CustomerEvent> => {
  const events: Array<CustomerEvent> = []
  let state: CustomerState = CustomerDecider.initialState
  for (let i = 0; events.length < streamLength; i++) {
    const result = CustomerDecider.decide(commandFor(i), state)
    if (Result.isFailure(result)) throw result.failure
    for (const event of result.success) if (events.length < streamLength) events.push(event)
    state = foldEvents(CustomerDecider, result.success, state)
  }
  return events
}

const events = buildStream()
// As a store hands them back: parsed from JSON, every object fresh.
const stored = events.map((event) => JSON.parse(JSON.stringify(encodeCustomerEvent(event))))

let sink = 0 // consumed at the end, so no measured work is dead code

const fold = measure(streamLength, () => {
  const state = foldEvents(CustomerDecider, events)
  sink += state.status === "registered" ? state.followUps : 0
})

const decode = measure(streamLength, () => {
  for (const event of stored) {
    const result = decodeCustomerEvent(event)
    if (Result.isFailure(result)) throw result.failure
  }
})

const encode = measure(streamLength, () => {
  for (const event of events) sink += encodeCustomerEvent(event).schemaVersion
})

// Decide + evolve on a live customer: the stream's own commands, after registration.
const liveCommands = Array.from({ length: 1_000 }, (_, i) => commandFor(4 + i))
const registered = foldEvents(CustomerDecider, events.slice(0, 4))
const decideEvolve = measure(liveCommands.length, () => {
  let state = registered
  for (const next of liveCommands) {
    const result = CustomerDecider.decide(next, state)
    if (Result.isSuccess(result)) state = foldEvents(CustomerDecider, result.success, state)
  }
  sink += state.status === "registered" ? 1 : 0
})

if (sink < 0) process.exitCode = 1

const target = ">= 1000000"
console.log(
  JSON.stringify({
    suite: "domain",
    rows: [
      { name: "fold (evolve) over a 1,000-event stream", value: fold, unit: "events/s", target },
      { name: "decode stored events (upcast + schema)", value: decode, unit: "events/s", target },
      { name: "encode events to the stored shape", value: encode, unit: "events/s" },
      { name: "decide + evolve", value: decideEvolve, unit: "commands/s" },
    ],
    maxRssKb: process.resourceUsage().maxRSS,
  }),
)
