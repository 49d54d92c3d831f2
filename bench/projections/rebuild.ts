/**
 * Rebuilds every projection the API runs (customer cards, the audit trail, analytics) from scratch
 * into an empty read-model store, as the server does on a fresh store: the runner's first
 * generations serve at once and catch up, the three projections concurrently in one process. Times
 * how long each takes to reach the head, and reads the process's peak RSS once a quarter of the
 * events is in and at the end, so a reader sees whether memory grows with the number of events.
 *
 * Then, with the runner still going, a trickle: `trickle.commands` commands through the command
 * handler at `trickle.perSecond` (new customers, one event each), each followed by the wait for the
 * card projection to reach its position, as the API's POST routes wait: the latency from the append
 * to the card's commit.
 */

import { customerModel, type EventStoreService, makeCommandHandler } from "@relata/domain"
import {
  AnalyticsProjection,
  type AnyProjection,
  AuditTrailProjection,
  CustomerCardProjection,
  makeProjectionRunner,
  type ProjectionRunnerConfig,
  type ReadModelStoreService,
} from "@relata/projections"
import { Effect, Fiber } from "effect"
import { commandFor, latencies, workloadDecider } from "../stores/workload.ts"

/** The projections the API runs (packages/api's apiProjections), in its order. */
export const apiProjections: ReadonlyArray<AnyProjection> = [
  CustomerCardProjection as AnyProjection,
  AuditTrailProjection as AnyProjection,
  AnalyticsProjection as AnyProjection,
]

export interface RebuildFigures {
  readonly events: number
  /** All projections at the head: events per second, end to end. */
  readonly eventsPerSecond: number
  /** Per projection: events per second until it reached the head (while the others ran beside it). */
  readonly perProjection: ReadonlyArray<{ readonly name: string; readonly eventsPerSecond: number }>
  /** The process's peak RSS in MB when the slowest projection had passed a quarter of the events. */
  readonly peakRssFirstQuarterMb: number
  /** The process's peak RSS in MB when every projection had reached the head. */
  readonly peakRssMb: number
  /** The trickle after the rebuild: append to card commit, p50 and p99 in ms; achieved commands/s. */
  readonly trickle?: { readonly p50: number; readonly p99: number; readonly perSecond: number }
}

/** Rebuilds `projections` from the store's first event into `readModels`, which holds none of them yet. */
export const rebuildAll = (
  eventStore: EventStoreService,
  readModels: ReadModelStoreService,
  projections: ReadonlyArray<AnyProjection> = apiProjections,
  trickle?: { readonly commands: number; readonly perSecond: number },
  config: ProjectionRunnerConfig = {},
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const head = yield* eventStore.headPosition
      const events = Number(head)
      globalThis.gc?.()
      // The process's high-water mark, kept by the OS: a sampler could miss a peak while a batch's
      // synchronous SQLite work holds the event loop. The suite's earlier work counts in it too, so
      // each rebuild reports it at its first quarter and at its end.
      const maxRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024)
      let peakFirstQuarter: number | undefined
      const started = performance.now()
      const runner = yield* makeProjectionRunner(projections, { eventStore, readModels }, config)
      const handler = makeCommandHandler(customerModel(workloadDecider), { eventStore })
      const trickleLatency = (options: { readonly commands: number; readonly perSecond: number }) =>
        Effect.gen(function* () {
          // 50 new customers, their histories in turn: register, qualify, convert, purchases...
          const customers = 50
          const times: Array<number> = []
          const first = performance.now()
          for (let i = 0; i < options.commands; i++) {
            const due = first + (i * 1000) / options.perSecond
            const wait = due - performance.now()
            if (wait > 0) yield* Effect.sleep(wait)
            const command = commandFor(900_000_000 + (i % customers), Math.floor(i / customers))
            const sent = performance.now()
            const result = yield* handler.handle(command)
            yield* runner.waitFor(result.position, { projections: [projections[0]?.name ?? ""] })
            times.push(performance.now() - sent)
          }
          const perSecond = Math.round(options.commands / ((performance.now() - first) / 1000))
          return { ...latencies(times), perSecond }
        })
      const sampler = yield* Effect.forkScoped(
        Effect.gen(function* () {
          for (;;) {
            const statuses = yield* runner.status
            const slowest = statuses.reduce((min, s) => (s.checkpoint < min ? s.checkpoint : min), head)
            if (Number(slowest) >= events / 4) {
              peakFirstQuarter = maxRssMb()
              return
            }
            yield* Effect.sleep(20)
          }
        }),
      )
      const perProjection = yield* Effect.forEach(
        projections,
        (projection) =>
          Effect.map(runner.waitFor(head, { projections: [projection.name] }), () => ({
            name: projection.name,
            eventsPerSecond: Math.round(events / ((performance.now() - started) / 1000)),
          })),
        { concurrency: "unbounded" },
      )
      const seconds = (performance.now() - started) / 1000
      const peak = maxRssMb()
      yield* Fiber.interrupt(sampler)
      const trickled = trickle === undefined ? undefined : yield* trickleLatency(trickle)
      return {
        events,
        eventsPerSecond: Math.round(events / seconds),
        perProjection,
        peakRssFirstQuarterMb: peakFirstQuarter ?? peak,
        peakRssMb: peak,
        ...(trickled === undefined ? {} : { trickle: trickled }),
      } satisfies RebuildFigures
    }),
  )
