/**
 * Read latencies on a rebuilt card read model, through the product's query functions
 * (`customerCard`, `listCustomerCards`, `overdueFollowUps`) as the API calls them: one card by id,
 * and lists a rep or a manager opens (filters, a sort, a page of 50; a second page by cursor; text
 * search). Each measure runs `samples` times after a warm-up, over varying ids, owners and stages.
 */
import type { ActorId, CustomerId, Instant, LifecycleStage } from "@relata/domain"
import {
  customerCard,
  type ListCustomerCardsOptions,
  listCustomerCards,
  overdueFollowUps,
  ReadModelStore,
  type ReadModelStoreService,
} from "@relata/projections"
import { Effect } from "effect"

export interface QueryFigures {
  readonly customers: number
  /** p50 and p99 in ms per measure, by name. */
  readonly latencies: ReadonlyArray<{ readonly name: string; readonly p50: number; readonly p99: number }>
}

const quantile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number

const stages: ReadonlyArray<LifecycleStage> = ["lead", "prospect", "customer", "loyal", "churned"]
const words = ["phoenix", "harbor", "logistics", "acme trading", "golden bridge", "medical"]
const now = "2024-03-01T00:00:00.000Z" as Instant

/** Times the query measures on `store`, whose active card generation is built. */
export const measureQueries = (store: ReadModelStoreService, samples: number) =>
  Effect.gen(function* () {
    const provide = <A, E>(effect: Effect.Effect<A, E, ReadModelStore>) =>
      Effect.provideService(effect, ReadModelStore, store)
    // Ids and owners to vary over: every card, in pages of 1,000 by id.
    const ids: Array<CustomerId> = []
    const owners = new Set<ActorId>()
    let after: string | undefined
    do {
      const page = yield* provide(
        listCustomerCards({
          sort: { by: "registeredAt" },
          limit: 1_000,
          now,
          ...(after === undefined ? {} : { after }),
        }),
      )
      for (const card of page.cards) {
        ids.push(card.customerId)
        owners.add(card.owner)
      }
      after = page.next
    } while (after !== undefined)
    const ownerList = [...owners]
    const pick = <A>(list: ReadonlyArray<A>, i: number): A => list[(i * 7919) % list.length] as A

    const time = <A, E>(name: string, query: (i: number) => Effect.Effect<A, E, ReadModelStore>) =>
      Effect.gen(function* () {
        for (let i = 0; i < Math.min(200, samples); i++) yield* provide(query(i))
        const times: Array<number> = []
        for (let i = 0; i < samples; i++) {
          const started = performance.now()
          yield* provide(query(i))
          times.push(performance.now() - started)
        }
        times.sort((a, b) => a - b)
        const round = (ms: number) => Math.round(ms * 1000) / 1000
        return { name, p50: round(quantile(times, 0.5)), p99: round(quantile(times, 0.99)) }
      })

    const list = (options: (i: number) => ListCustomerCardsOptions) => (i: number) =>
      listCustomerCards({ now, limit: 50, ...options(i) })
    const secondPage = (options: (i: number) => ListCustomerCardsOptions) => (i: number) =>
      Effect.flatMap(listCustomerCards({ now, limit: 50, ...options(i) }), (first) =>
        listCustomerCards({
          now,
          limit: 50,
          ...options(i),
          ...(first.next === undefined ? {} : { after: first.next }),
        }),
      )
    const stageOwnerByName = (i: number): ListCustomerCardsOptions => ({
      filter: { stage: pick(stages, i), owner: pick(ownerList, i + 1) },
      sort: { by: "name" },
    })

    const latencies = [
      yield* time("card by id", (i) => customerCard(pick(ids, i), { now })),
      yield* time("list: stage + owner, by name, 50", list(stageOwnerByName)),
      yield* time(
        "list: stage + owner, by last change (desc), 50",
        list((i) => ({
          filter: { stage: pick(stages, i), owner: pick(ownerList, i + 1) },
          sort: { by: "updatedAt", direction: "desc" },
        })),
      ),
      yield* time("list: stage + owner, by name, second page", secondPage(stageOwnerByName)),
      yield* time(
        "list: stage, by name, 50",
        list((i) => ({ filter: { stage: pick(stages, i) }, sort: { by: "name" } })),
      ),
      yield* time("overdue follow-ups of 3 reps", (i) =>
        overdueFollowUps([pick(ownerList, i), pick(ownerList, i + 1), pick(ownerList, i + 2)], {
          now,
          limit: 50,
        }),
      ),
      yield* time(
        "text search, by name, 50",
        list((i) => ({ search: pick(words, i), sort: { by: "name" } })),
      ),
    ]
    return { customers: ids.length, latencies } satisfies QueryFigures
  })
