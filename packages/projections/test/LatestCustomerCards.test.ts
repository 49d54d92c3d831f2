import { describe, expect, it } from "@effect/vitest"
import {
  CustomerId,
  type EventStoreService,
  makeInMemoryEventStore,
  type ReadStreamOptions,
} from "@relata/domain"
import { customerCardAsOf, makeLatestCustomerCards } from "@relata/projections"
import { Effect } from "effect"
import { customerCommands, eur, reps, source } from "./support/customers.ts"

const acme = CustomerId.make("acme")
const other = CustomerId.make("other")

/** The store, with the `from` of every stream read, to see how much of a stream each card read takes. */
const recordingReads = (store: EventStoreService) => {
  const froms: Array<number> = []
  const wrapped: EventStoreService = {
    ...store,
    readStream: (streamId: string, options?: ReadStreamOptions) => {
      froms.push(options?.from ?? 1)
      return store.readStream(streamId, options)
    },
  }
  return { store: wrapped, froms }
}

describe("LatestCustomerCards", () => {
  it.effect("answers the card as of a position, folding only the events after the card it kept", () =>
    Effect.gen(function* () {
      const plain = makeInMemoryEventStore()
      const { store, froms } = recordingReads(plain)
      const send = customerCommands(store)
      const latest = makeLatestCustomerCards(store)
      // The reference, read from the store itself, so that its reads are not recorded.
      const asOf = (customerId: CustomerId, position: bigint) =>
        customerCardAsOf(plain, customerId, { position })

      const registered = yield* send(acme, "2024-01-01T09:00:00.000Z", "RegisterLead", {
        profile: { name: "Acme Trading" },
        source,
        owner: reps[0],
      })
      froms.length = 0
      expect(yield* latest.atPosition(acme, registered.position)).toEqual(
        yield* asOf(acme, registered.position),
      )
      expect(froms[0]).toBe(1)

      const qualified = yield* send(acme, "2024-01-10T09:00:00.000Z", "QualifyLead", {})
      yield* send(other, "2024-01-11T09:00:00.000Z", "RegisterLead", {
        profile: { name: "Other Ltd" },
        source,
        owner: reps[1],
      })
      const converted = yield* send(acme, "2024-02-20T09:00:00.000Z", "ConvertToCustomer", {
        firstPurchase: eur(50_000),
      })
      froms.length = 0
      // From the kept card at version 1: the stream from version 2, and the event after `qualified` left out.
      const atQualified = yield* latest.atPosition(acme, qualified.position)
      expect(atQualified).toEqual(yield* asOf(acme, qualified.position))
      expect(atQualified?.stage).toBe("prospect")
      expect(froms).toEqual([2])
      froms.length = 0
      expect(yield* latest.atPosition(acme, converted.position)).toEqual(
        yield* asOf(acme, converted.position),
      )
      expect(froms[0]).toBe(3)

      // A position before the kept card: folded from the start, and the kept card stays the newer one.
      froms.length = 0
      expect(yield* latest.atPosition(acme, registered.position)).toEqual(
        yield* asOf(acme, registered.position),
      )
      expect(froms[0]).toBe(1)
      froms.length = 0
      expect(yield* latest.atPosition(acme, converted.position)).toMatchObject({
        stage: "customer",
        version: 3,
      })
      expect(froms[0]).toBe(4)

      // Before the customer existed: no card.
      expect(yield* latest.atPosition(other, registered.position)).toBeUndefined()
    }),
  )

  it.effect("keeps the cards of the customers used last, up to its capacity", () =>
    Effect.gen(function* () {
      const { store, froms } = recordingReads(makeInMemoryEventStore())
      const send = customerCommands(store)
      const latest = makeLatestCustomerCards(store, { capacity: 2 })
      const ids = ["a", "b", "c"].map((id) => CustomerId.make(id))
      let head = 0n
      for (const id of ids) {
        head = (yield* send(id, "2024-01-01T09:00:00.000Z", "RegisterLead", {
          profile: { name: `Customer ${id}` },
          source,
          owner: reps[0],
        })).position
      }
      for (const id of ids) yield* latest.atPosition(id, head)
      froms.length = 0
      // c and b are kept (read from version 2); a was the least recently used and is folded from 1.
      for (const id of [ids[2], ids[1], ids[0]]) yield* latest.atPosition(id as CustomerId, head)
      expect(froms).toEqual([2, 2, 1])
    }),
  )
})
