/**
 * The HTTP benchmark's load generators, each run in a child process so the load does not share the
 * server's event loop (not a worker thread: autocannon computes its percentiles only on a process's
 * main thread): closed loop (closedLoad.ts, autocannon: as fast as the connections go) for
 * throughput, open loop (openLoad.ts: a fixed rate) for latency at a given rate.
 */
import { spawn } from "node:child_process"
import path from "node:path"
import { fileURLToPath } from "node:url"

/** What to send, where, and for how long. */
export interface Load {
  readonly url: string
  readonly method: "GET" | "POST"
  /** Paths to rotate through, one per request. */
  readonly paths: ReadonlyArray<string>
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
  readonly connections: number
  readonly seconds: number
}

/** As many requests as `connections` keep going, each sent when the previous one was answered. */
export type ClosedLoad = Load

/** `rate` requests per second for `seconds`, whatever the answers; then `drainSeconds` for the last answers. */
export interface OpenLoad extends Load {
  readonly rate: number
  readonly drainSeconds: number
}

export interface LoadResult {
  /** 2xx answers per second. */
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly non2xx: number
  /** Connection errors and timeouts. */
  readonly errors: number
  /** Requests sent. */
  readonly total: number
}

const here = path.dirname(fileURLToPath(import.meta.url))

const runChild = (script: string, load: Load): Promise<LoadResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, script), JSON.stringify(load)], {
      stdio: ["ignore", "pipe", "inherit"],
    })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk
    })
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`))
      resolve(JSON.parse(output.trim().split("\n").at(-1) as string) as LoadResult)
    })
  })

/** Runs a closed-loop load (autocannon). */
export const runClosedLoad = (load: ClosedLoad): Promise<LoadResult> => runChild("closedLoad.ts", load)

/** Runs an open-loop load at a fixed rate. */
export const runOpenLoad = (load: OpenLoad): Promise<LoadResult> => runChild("openLoad.ts", load)
