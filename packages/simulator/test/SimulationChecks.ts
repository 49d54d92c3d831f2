/** Shared checks of the simulator's tests: a recording handler and the figure-by-figure comparison. */
import {
  type CustomerCommandHandlerService,
  defaultFollowUpCadence,
  type RecordedEvent,
} from "@relata/domain"
import type { Tally } from "@relata/simulator"
import { Effect } from "effect"
import { expect } from "vitest"
import { tallyFromEvents } from "./TallyFromEvents.ts"

type Counts = { issued: number; accepted: number; unchanged: number; rejected: number }

/** Wraps a handler to log every command's outcome, independently of the simulator's own counting. */
export const recording = (handler: CustomerCommandHandlerService) => {
  const log = {
    commands: { issued: 0, accepted: 0, unchanged: 0, rejected: 0 } as Counts,
    byType: {} as Record<string, Counts>,
    rejections: {} as Record<string, number>,
    rejectedIds: new Set<string>(),
  }
  const count = (type: string, outcome: "accepted" | "unchanged" | "rejected") => {
    log.byType[type] ??= { issued: 0, accepted: 0, unchanged: 0, rejected: 0 }
    log.byType[type].issued++
    log.byType[type][outcome]++
    log.commands.issued++
    log.commands[outcome]++
  }
  const wrapped: CustomerCommandHandlerService = {
    ...handler,
    handle: (command, options) =>
      handler.handle(command, options).pipe(
        Effect.tap((result) =>
          Effect.sync(() => count(command._tag, result.events.length === 0 ? "unchanged" : "accepted")),
        ),
        Effect.tapError((error) =>
          Effect.sync(() => {
            count(command._tag, "rejected")
            log.rejections[error._tag] = (log.rejections[error._tag] ?? 0) + 1
            log.rejectedIds.add(command.commandId)
          }),
        ),
      ),
  }
  return { handler: wrapped, log }
}

/** Checks every figure of the tally against a recount from the stored events and the handler's log. */
export const expectTallyMatches = (
  tally: Tally,
  events: ReadonlyArray<RecordedEvent>,
  log?: ReturnType<typeof recording>["log"],
) => {
  const months = tally.period.months.length
  const reference = tallyFromEvents(events, {
    start: tally.period.start,
    months,
    cadence: defaultFollowUpCadence,
  })
  expect(tally.period).toEqual({ seed: tally.period.seed, ...reference.period })
  expect(tally.events).toEqual(reference.events)
  expect(tally.commands.accepted).toEqual(reference.acceptedCommands)
  for (const [type, counts] of Object.entries(tally.commands.byType)) {
    expect({ type, accepted: counts.accepted }).toEqual({
      type,
      accepted: reference.acceptedByType[type] ?? 0,
    })
  }
  if (log !== undefined) {
    const { byType, ...totals } = tally.commands
    expect(totals).toEqual(log.commands)
    expect(byType).toEqual(log.byType)
    expect(tally.rejections).toEqual(log.rejections)
    // A rejected command leaves no trace in the store.
    const appended = new Set(events.map((e) => e.metadata.commandId as string))
    expect([...log.rejectedIds].filter((id) => appended.has(id))).toEqual([])
  }
  expect(tally.stages.now).toEqual(reference.stages.now)
  expect(tally.stages.lostDealsOpen).toEqual(reference.stages.lostDealsOpen)
  expect(tally.stages.atMonthEnd).toEqual(reference.stages.atMonthEnd)
  expect(tally.stages.entries).toEqual(reference.stages.entries)
  expect(tally.stages.funnel).toEqual(reference.stages.funnel)
  expect(tally.stages.durations).toEqual(reference.stages.durations)
  expect(tally.lostDeals).toEqual(reference.lostDeals)
  expect(tally.churn).toEqual(reference.churn)
  expect(tally.winBack).toEqual(reference.winBack)
  expect(tally.cohorts).toEqual(reference.cohorts)
  expect(tally.tiers).toEqual(reference.tiers)
  expect(tally.distribution).toEqual(reference.distribution)
  expect(tally.revenue).toEqual(reference.revenue)
  expect(tally.followUps).toEqual(reference.followUps)
  expect(tally.accounts).toEqual(reference.accounts)
}
