import { spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, expect, it } from "@effect/vitest"
import { makeSqliteEventStore } from "@relata/adapter-sqlite"
import type { RecordedEvent } from "@relata/domain"
import { Effect, Fiber, Stream } from "effect"

const appender = fileURLToPath(new URL("./fixtures/appendFromAnotherProcess.ts", import.meta.url))

interface WorkerReport {
  readonly worker: string
  readonly appended: ReadonlyArray<string>
  readonly conflicts: number
  readonly busy: number
}

interface Worker {
  /** Resolves once the worker has opened the store and waits for `start`. */
  readonly ready: Promise<void>
  readonly start: () => void
  readonly report: Promise<WorkerReport>
}

/** Runs the appender in a separate Node process (Node 24 runs the .ts file as it is). */
const spawnWorker = (args: ReadonlyArray<string>): Worker => {
  const child = spawn(process.execPath, [appender, ...args], { stdio: ["pipe", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  let onReady = (): void => {}
  const ready = new Promise<void>((resolve) => {
    onReady = resolve
  })
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8")
    if (stdout.startsWith("ready\n")) onReady()
  })
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const report = new Promise<WorkerReport>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`worker ${args[1]} exited with ${code}: ${stderr}`))
      resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as WorkerReport)
    })
  })
  return { ready: Promise.race([ready, report.then(() => {})]), start: () => child.stdin.end("go\n"), report }
}

const withTempFolder = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-multiprocess-"))),
  (folder) => Effect.sync(() => fs.rmSync(folder, { recursive: true, force: true })),
)

describe("SqliteEventStore across processes", () => {
  it.live(
    "processes appending to one file take turns: no event lost or doubled, versions contiguous, and a subscriber here sees them",
    () =>
      Effect.gen(function* () {
        const folder = yield* withTempFolder
        const file = path.join(folder, "shared", "events.sqlite")
        const appendsPerWorker = 150
        // Spawned before this process opens the file: the workers race each other on the fresh file's set-up.
        const workers = [
          ["a", "5000"],
          ["b", "5000"],
          // Fails at once while another process writes, so the retryable StoreUnavailable path runs too.
          ["c", "0"],
        ].map(([worker, busyTimeoutMs]) =>
          spawnWorker([file, worker as string, String(appendsPerWorker), busyTimeoutMs as string]),
        )

        const store = yield* Effect.acquireRelease(
          makeSqliteEventStore({ path: file, pollIntervalMs: 50 }),
          (handle) => handle.close,
        )
        const seen: Array<RecordedEvent> = []
        const subscription = yield* Effect.forkScoped(
          Stream.runForEach(store.subscribe(), (event) => Effect.sync(() => seen.push(event))),
        )

        yield* Effect.promise(() => Promise.all(workers.map((worker) => worker.ready)))
        for (const worker of workers) worker.start()
        const reports = yield* Effect.promise(() => Promise.all(workers.map((worker) => worker.report)))
        const written = reports.flatMap((report) => report.appended)
        expect(new Set(written).size).toBe(written.length)

        const all = yield* Stream.runCollect(store.readAll())
        expect(all.map((event) => event.eventId).sort()).toEqual([...written].sort())
        for (let index = 1; index < all.length; index++) {
          const previous = all[index - 1] as RecordedEvent
          const current = all[index] as RecordedEvent
          if (!(current.position > previous.position))
            assert.fail(`position ${current.position} follows ${previous.position}`)
        }
        const streams = new Map<string, Array<number>>()
        for (const event of all)
          streams.set(event.streamId, [...(streams.get(event.streamId) ?? []), event.version])
        for (const [streamId, versions] of streams) {
          expect(versions, streamId).toEqual(versions.map((_, index) => index + 1))
        }
        // The workers did write at the same time: their events interleave in the global order.
        const handovers = all.filter(
          (event, index) => index > 0 && event.eventId[0] !== all[index - 1]?.eventId[0],
        )
        expect(handovers.length).toBeGreaterThan(10)
        // Each worker's batches stay whole: a batch's events sit at consecutive positions of one stream.
        for (const event of all) {
          const [worker, index, n] = event.eventId.split("-")
          if (n !== "0") continue
          const batch = all.filter((other) => other.eventId.startsWith(`${worker}-${index}-`))
          expect(batch.map((other) => other.version)).toEqual(
            batch.map((_, offset) => event.version + offset),
          )
        }

        // The subscriber saw the other processes' appends through the poll, exactly once, in order.
        const deadline = Date.now() + 10_000
        while (seen.length < all.length && Date.now() < deadline) yield* Effect.sleep(20)
        yield* Effect.sleep(150)
        expect(seen.map((event) => `${event.position} ${event.eventId}`)).toEqual(
          all.map((event) => `${event.position} ${event.eventId}`),
        )
        yield* Fiber.interrupt(subscription)
      }),
    60_000,
  )
})
