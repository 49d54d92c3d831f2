import type { ReadPosition } from "@kurrent/kurrentdb-client"
import { AllStream, EventMapping, StreamNames } from "@relata/adapter-kurrentdb/testing"
import { StoreUnavailable } from "@relata/domain"
import { Effect, Result, Stream } from "effect"
import { describe, expect, it } from "vitest"

/** A log of 20 events at sparse positions, as the server would send them. */
const log = Array.from({ length: 20 }, (_, index) => ({
  event: {
    streamId: `customer-${index % 4}`,
    id: `00000000-0000-4000-8000-${String(index + 1).padStart(12, "0")}`,
    revision: BigInt(Math.floor(index / 4)),
    type: index % 2 === 0 ? "NoteAdded" : "TierChanged",
    isJson: true,
    data: { index },
    metadata: { "relata.schemaVersion": 1 },
    position: { commit: BigInt(1_000 + index * 137), prepare: BigInt(1_000 + index * 137) },
  },
}))

const names = StreamNames.streamNames(undefined)
const accept: AllStream.Accept = (resolved) =>
  resolved.event?.type === "NoteAdded"
    ? Result.mapError(
        EventMapping.toRecordedEvent(resolved, names),
        (reason) => new StoreUnavailable({ reason, retryable: false }),
      )
    : Result.succeed(undefined)

/** A server whose reads start at the given position inclusively, or just after it. */
const server = (inclusive: boolean) => {
  const pages: Array<number> = []
  const readPage = (from: ReadPosition, maxCount: number) =>
    Effect.sync(() => {
      const start =
        from === "start"
          ? 0
          : log.findIndex((entry) =>
              inclusive
                ? entry.event.position.commit >= (from as { commit: bigint }).commit
                : entry.event.position.commit > (from as { commit: bigint }).commit,
            )
      const page = start < 0 ? [] : log.slice(start, start + maxCount)
      pages.push(page.length)
      return page
    })
  const readHead = Effect.sync(() => log.at(-1)?.event.position.commit)
  return { readPage, readHead, pages }
}

const indexes = (stream: Stream.Stream<{ readonly data: { readonly [key: string]: unknown } }, unknown>) =>
  Effect.runPromise(
    Effect.map(Stream.runCollect(stream), (events) => events.map((event) => event.data.index)),
  )

describe("AllStream.pagedRead", () => {
  it("delivers the same events whether the server's start position is inclusive or not", async () => {
    for (const inclusive of [true, false]) {
      for (const batchSize of [2, 3, 7, 50]) {
        const { readPage, readHead } = server(inclusive)
        const read = AllStream.pagedRead({
          readPage,
          readHead,
          after: 0n,
          batchSize,
          limit: Number.POSITIVE_INFINITY,
          accept,
          operation: "read",
        })
        expect(await indexes(read)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
      }
    }
  })

  it("starts strictly after a position and stops at a limit", async () => {
    const { readPage, readHead, pages } = server(true)
    const after = log[5]?.event.position.commit ?? 0n
    const read = AllStream.pagedRead({
      readPage,
      readHead,
      after,
      batchSize: 4,
      limit: 3,
      accept,
      operation: "read",
    })
    expect(await indexes(read)).toEqual([6, 8, 10])
    // It stops reading once the limit is reached.
    expect(pages.length).toBeLessThanOrEqual(3)
  })

  it("ends at the head it found first, however short or full the pages", async () => {
    const { readPage } = server(true)
    // The head is the 12th event: later ones arrived after the read began.
    const readHead = Effect.succeed(log[11]?.event.position.commit)
    const read = AllStream.pagedRead({
      readPage,
      readHead,
      after: 0n,
      batchSize: 5,
      limit: Number.POSITIVE_INFINITY,
      accept,
      operation: "read",
    })
    expect(await indexes(read)).toEqual([0, 2, 4, 6, 8, 10])
    const empty = AllStream.pagedRead({
      readPage,
      readHead: Effect.succeed(undefined),
      after: 0n,
      batchSize: 5,
      limit: Number.POSITIVE_INFINITY,
      accept,
      operation: "read",
    })
    expect(await indexes(empty)).toEqual([])
  })

  it("does not depend on the server filling its pages", async () => {
    // A server that returns at most 2 events, whatever maxCount asks.
    const { readPage, readHead } = server(false)
    const stingy = (from: ReadPosition, maxCount: number) =>
      Effect.map(readPage(from, maxCount), (page) => page.slice(0, 2))
    const read = AllStream.pagedRead({
      readPage: stingy,
      readHead,
      after: 0n,
      batchSize: 10,
      limit: Number.POSITIVE_INFINITY,
      accept,
      operation: "read",
    })
    expect(await indexes(read)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
  })
})
