/**
 * Open-loop load, run by http.bench.ts as a child process: requests leave at a fixed rate whether or
 * not earlier ones were answered, and each latency counts from when its request was due to leave.
 * A server that falls behind therefore shows it in the percentiles and in the achieved rate (no
 * coordinated omission). autocannon's rate option cannot do this: each connection sends back to back
 * until its share of the second is used up, then idles, so a slow server only lowers the rate.
 *
 *   node bench/http/openLoad.ts '<Load as JSON>'    prints one LoadResult as JSON
 */
import http from "node:http"
import type { LoadResult, OpenLoad } from "./load.ts"

const load = JSON.parse(process.argv[2] as string) as OpenLoad
const target = new URL(load.url)
// Requests beyond this many in flight wait for a connection; their latency includes the wait.
const agent = new http.Agent({ keepAlive: true, maxSockets: load.connections })
const total = Math.round(load.rate * load.seconds)
const intervalMs = 1000 / load.rate
const headers = {
  ...load.headers,
  ...(load.body === undefined ? {} : { "content-length": String(Buffer.byteLength(load.body)) }),
}

const latencies: Array<number> = []
/** When each unanswered request was due to leave. */
const pending = new Set<number>()
let sent = 0
let settled = 0
let ok = 0
let non2xx = 0
let errors = 0
const start = performance.now()
let lastAnswer = start

const report = (timeouts: number) => {
  // A request still unanswered at the deadline counts with the time it had waited: a lower bound.
  const deadline = performance.now()
  for (const due of pending) latencies.push(deadline - due)
  latencies.sort((a, b) => a - b)
  const quantile = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  const result: LoadResult = {
    requestsPerSecond: (ok * 1000) / Math.max(lastAnswer - start, load.seconds * 1000),
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    maxMs: latencies.at(-1) ?? 0,
    non2xx,
    errors: errors + timeouts,
    total: sent,
  }
  console.log(JSON.stringify(result))
  agent.destroy()
  process.exit(0)
}

/** Counts one request's outcome, once (a socket error after the answer changes nothing). */
const settle = (due: number, outcome: "ok" | "non2xx" | "error") => {
  if (!pending.delete(due)) return
  const now = performance.now()
  latencies.push(now - due)
  if (outcome === "ok") ok++
  else if (outcome === "non2xx") non2xx++
  else errors++
  if (outcome !== "error") lastAnswer = now
  settled++
  if (settled === total) report(0)
}

const send = (due: number) => {
  const request = http.request(
    {
      host: target.hostname,
      port: target.port,
      path: load.paths[sent % load.paths.length],
      method: load.method,
      agent,
      headers,
    },
    (response) => {
      response.resume()
      const status = response.statusCode ?? 0
      response.once("end", () => settle(due, status >= 200 && status < 300 ? "ok" : "non2xx"))
    },
  )
  request.once("error", () => settle(due, "error"))
  pending.add(due)
  request.end(load.body)
  sent++
}

const tick = () => {
  const now = performance.now()
  while (sent < total && start + sent * intervalMs <= now) send(start + sent * intervalMs)
  if (sent < total) setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()))
}

// Bounded: whatever is still unanswered this long after the last request was due counts as timed out.
setTimeout(() => report(pending.size), (load.seconds + load.drainSeconds) * 1000)
tick()
