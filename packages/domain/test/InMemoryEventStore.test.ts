import { ExpectedVersion, InMemoryEventStore, makeInMemoryEventStore } from "@relata/domain"
import { eventStoreContract } from "@relata/domain/testing"
import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"

describe("InMemoryEventStore", () => {
  eventStoreContract("contract", () =>
    Effect.sync(() => {
      const store = makeInMemoryEventStore()
      return { store, tamper: store.tamper }
    }),
  )

  // The same suite through the layer, which is how applications get the store.
  // The layer hides the test-only tamper hook; the run above covers tampering.
  eventStoreContract("contract, through the layer", () => InMemoryEventStore.layer, { tamper: false })

  it("keeps its own copy of a payload: the writer's later changes do not reach the store", async () => {
    const store = makeInMemoryEventStore()
    const data = { tags: ["vip"] }
    await Effect.runPromise(
      store.append(
        "customer-1",
        [{ eventId: "e1", type: "Tagged", schemaVersion: 1, data, metadata: {} }],
        ExpectedVersion.noStream,
      ),
    )
    data.tags.push("churned")
    const [read] = await Effect.runPromise(store.readStream("customer-1"))
    expect(read?.data).toEqual({ tags: ["vip"] })
    expect(Object.isFrozen(read?.data.tags)).toBe(true)
  })

  it("each build of the layer is a new, empty store", async () => {
    const count = Effect.gen(function* () {
      const store = yield* InMemoryEventStore.make
      yield* store.append(
        "customer-1",
        [{ eventId: "e1", type: "Tagged", schemaVersion: 1, data: {}, metadata: {} }],
        ExpectedVersion.noStream,
      )
      return (yield* Stream.runCollect(store.readAll())).length
    })
    expect(await Effect.runPromise(count)).toBe(1)
    expect(await Effect.runPromise(count)).toBe(1)
  })
})
