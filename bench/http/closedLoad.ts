/**
 * Closed-loop load with autocannon, run by http.bench.ts as a child process: each connection sends
 * its next request when the previous one is answered, so the rate is what the server sustains.
 *
 *   node bench/http/closedLoad.ts '<Load as JSON>'    prints one LoadResult as JSON
 */
import { createRequire } from "node:module"
import type { ClosedLoad, LoadResult } from "./load.ts"

interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number }
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number }
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
}
interface AutocannonRequest {
  readonly path?: string
}
// autocannon is CommonJS and untyped: this is the part of its interface the benchmark uses.
type Autocannon = (
  options: Record<string, unknown>,
  done: (error: unknown, result: AutocannonResult) => void,
) => void

const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon
const load = JSON.parse(process.argv[2] as string) as ClosedLoad
let next = 0

autocannon(
  {
    url: load.url,
    connections: load.connections,
    duration: load.seconds,
    headers: load.headers,
    requests: [
      {
        method: load.method,
        ...(load.body === undefined ? {} : { body: load.body }),
        setupRequest: (request: AutocannonRequest) => ({
          ...request,
          path: load.paths[next++ % load.paths.length],
        }),
      },
    ],
  },
  (error, result) => {
    if (error) throw error
    const summary: LoadResult = {
      requestsPerSecond: result.requests.average,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      total: result.requests.total,
    }
    console.log(JSON.stringify(summary))
  },
)
