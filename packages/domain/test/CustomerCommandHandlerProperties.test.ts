import {
  addDays,
  CommandId,
  CustomerDecider,
  customerModel,
  customerStreamId,
  decodeCustomerEvent,
  foldEvents,
  makeCommandHandler,
  makeInMemoryEventStore,
  makeInMemorySnapshotStore,
  verifyStreamChain,
} from "@relata/domain"
import { fixtureEnvelope } from "@relata/domain/testing"
import { Effect, Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { steps, toCommand } from "./CustomerCommandSequences.ts"
import { t0 } from "./CustomerTestData.ts"

const streamId = customerStreamId(fixtureEnvelope.customerId)

describe("CustomerCommandHandler properties", () => {
  it("over random command sequences: the stored events replay to the handler's state, rejections append nothing, repeats are answered from the stream, the chain holds", async () => {
    await fc.assert(
      fc.asyncProperty(
        steps,
        fc.integer({ min: 2, max: 12 }),
        fc.nat(),
        async (s, snapshotEvery, repeatSeed) => {
          const store = makeInMemoryEventStore()
          // Snapshots at small intervals, so loads go through them as often as through the events.
          const handler = makeCommandHandler(
            customerModel(),
            { eventStore: store, snapshotStore: makeInMemorySnapshotStore() },
            { snapshotEvery },
          )
          await Effect.runPromise(
            Effect.gen(function* () {
              let issuedAt = t0
              // Commands that appended events, with the result they got: re-sent now and then, across snapshots.
              const applied: Array<{
                readonly command: Parameters<typeof handler.handle>[0]
                readonly streamVersion: number
                readonly position: bigint
              }> = []
              for (const [index, step] of s.entries()) {
                const earlier = applied[(repeatSeed + index) % Math.max(applied.length, 1)]
                if (index % 3 === 2 && earlier !== undefined) {
                  const headBefore = yield* store.headPosition
                  const again = yield* handler.handle(earlier.command)
                  expect(again).toMatchObject({
                    replayed: true,
                    streamVersion: earlier.streamVersion,
                    position: earlier.position,
                  })
                  expect(yield* store.headPosition).toBe(headBefore)
                }
                issuedAt = addDays(issuedAt, step.daysLater)
                const command = {
                  ...toCommand(step, issuedAt, index),
                  commandId: CommandId.make(`command-${index}`),
                }
                const headBefore = yield* store.headPosition
                const outcome = yield* Effect.result(handler.handle(command))
                const stored = yield* store.readStream(streamId)
                const replayed = foldEvents(
                  CustomerDecider,
                  stored.map((event) => Result.getOrThrow(decodeCustomerEvent(event))),
                )
                if (Result.isFailure(outcome)) {
                  expect(yield* store.headPosition).toBe(headBefore)
                } else {
                  expect(outcome.success.state).toEqual(replayed)
                  expect(outcome.success.streamVersion).toBe(stored.length)
                  if (outcome.success.events.length > 0) {
                    applied.push({
                      command,
                      streamVersion: outcome.success.streamVersion,
                      position: outcome.success.position,
                    })
                  }
                }
                expect((yield* handler.load(streamId)).state).toEqual(replayed)
              }
              expect(verifyStreamChain(yield* store.readStream(streamId)).ok).toBe(true)
            }),
          )
        },
      ),
      { numRuns: 1_000 },
    )
  })
})
