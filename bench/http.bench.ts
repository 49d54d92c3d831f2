/**
 * HTTP benchmark: the real server (SQLite file, projections running) on loopback.
 *
 *   node bench/http.bench.ts        (through ./npmw exec, or with the harness: npm run bench -- http)
 *   BENCH_HTTP_SECONDS=8 ...        seconds per load run (default 8)
 *   BENCH_HTTP_CUSTOMERS=300 ...    customers seeded through the command route (default 300)
 *   BENCH_HTTP_RATE=500 ...         commands per second offered (default 500)
 *
 * - `GET /v1/customers/{id}` over the seeded customers, closed loop (autocannon, as fast as 10
 *   connections go), against a bare fastify route answering the same card JSON from memory in the
 *   same process, the two taking turns in slices: the ratio says what auth, validation, the read
 *   model and the hooks cost.
 * - `POST /v1/customers/{id}/follow-ups` (one durable SQLite append each) open loop: requests leave at
 *   a fixed 500 per second whether or not earlier ones were answered, spread over the customers, and
 *   each latency counts from when its request was due (no coordinated omission). The achieved rate
 *   says whether the server kept up; a server that falls behind shows it in p99 as well.
 *
 * Load generators run in child processes (bench/http/load.ts), so the load does not share the
 * server's event loop. Every run is bounded: the open loop gives the last answers a few seconds,
 * then counts what is still unanswered as timed out. Rate limiting is off: 6,000 requests per minute
 * would cap the run, not measure it.
 * Prints one JSON object: {"suite":"http","rows":[...],"maxRssKb":n}.
 */
import { mkdtempSync, rmSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { defaultApiConfig, StoreUrl, startServer, type TokenGrant } from "@relata/api"
import { ActorId } from "@relata/domain"
import Fastify from "fastify"
import { type LoadResult, runClosedLoad, runOpenLoad } from "./http/load.ts"

const seconds = Number(process.env.BENCH_HTTP_SECONDS ?? 8)
const customers = Number(process.env.BENCH_HTTP_CUSTOMERS ?? 300)
const commandRate = Number(process.env.BENCH_HTTP_RATE ?? 500)
const connections = 10
// Enough for the offered rate at 100 ms per answer; a slower server queues requests for a
// connection, and that wait counts in their latency.
const openConnections = 64
const warmUpSeconds = Math.min(2, seconds)
// The card reads and the bare route take turns in slices: on a shared machine, load that comes and
// goes during the run then falls on both alike instead of skewing their ratio.
const readSlices = 4
const drainSeconds = 5

const log = (message: string) => process.stderr.write(`bench http: ${message}\n`)

/**
 * Equal-length slices of one load as one result: the mean rate, the middle slice's p50, and the worst
 * slice's p99 (an upper bound on the p99 of all the requests).
 */
const combined = (slices: ReadonlyArray<LoadResult>): LoadResult => {
  const sum = (of: (slice: LoadResult) => number) => slices.reduce((total, slice) => total + of(slice), 0)
  const worst = (of: (slice: LoadResult) => number) => Math.max(...slices.map(of))
  return {
    requestsPerSecond: sum((slice) => slice.requestsPerSecond) / slices.length,
    p50Ms: slices.map((slice) => slice.p50Ms).sort((a, b) => a - b)[Math.floor(slices.length / 2)] ?? 0,
    p99Ms: worst((slice) => slice.p99Ms),
    maxMs: worst((slice) => slice.maxMs),
    non2xx: sum((slice) => slice.non2xx),
    errors: sum((slice) => slice.errors),
    total: sum((slice) => slice.total),
  }
}

const token = "bench-admin-token-0000000001"
const grants: ReadonlyArray<TokenGrant> = [{ token, actorId: ActorId.make("bench-admin"), role: "admin" }]
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }

const folder = mkdtempSync(path.join(os.tmpdir(), "relata-bench-http-"))
const server = await startServer({
  ...defaultApiConfig,
  port: 0,
  eventStore: StoreUrl.make(`sqlite:${path.join(folder, "relata.sqlite")}`),
  tokens: grants,
  logLevel: "silent",
  rateLimit: { max: 0, windowMs: 60_000 },
})
const bare = Fastify({ logger: false })

try {
  log(`seeding ${customers} customers through POST /v1/customers`)
  const ids: Array<string> = []
  let lastPosition = "0"
  for (let i = 0; i < customers; i++) {
    const response = await fetch(`${server.url}/v1/customers`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        profile: {
          name: `Bench Customer ${i}`,
          email: `customer${i}@bench.example`,
          company: `Bench ${i} Ltd`,
          region: "Europe",
        },
        source: "benchmark",
        allowDuplicate: { reason: "benchmark seed" },
      }),
    })
    if (response.status !== 201)
      throw new Error(`seeding failed: ${response.status} ${await response.text()}`)
    const result = (await response.json()) as { customerId: string; position: string }
    ids.push(result.customerId)
    lastPosition = result.position
  }
  // Every card in the read model before the reads start.
  const cardResponse = await fetch(`${server.url}/v1/customers/${ids[0]}?minPosition=${lastPosition}`, {
    headers,
  })
  if (cardResponse.status !== 200) throw new Error(`reading a card failed: ${cardResponse.status}`)
  const card: unknown = await cardResponse.json()

  bare.get("/bare", async () => card)
  await bare.listen({ host: "127.0.0.1", port: 0 })
  const bareAddress = bare.server.address()
  const barePort = typeof bareAddress === "object" && bareAddress !== null ? bareAddress.port : 0

  const cardReads = { url: server.url, method: "GET", paths: ids.map((id) => `/v1/customers/${id}`) } as const
  const bareReads = { url: `http://127.0.0.1:${barePort}`, method: "GET", paths: ["/bare"] } as const
  const sliceSeconds = seconds / readSlices
  log(
    `warm-up (${warmUpSeconds} s each), then GET /v1/customers/{id} and the bare route for ${seconds} s each, alternating in ${readSlices} slices`,
  )
  await runClosedLoad({ ...cardReads, headers, connections, seconds: warmUpSeconds })
  await runClosedLoad({ ...bareReads, headers, connections, seconds: warmUpSeconds })
  const apiSlices: Array<LoadResult> = []
  const bareSlices: Array<LoadResult> = []
  for (let slice = 0; slice < readSlices; slice++) {
    apiSlices.push(await runClosedLoad({ ...cardReads, headers, connections, seconds: sliceSeconds }))
    bareSlices.push(await runClosedLoad({ ...bareReads, headers, connections, seconds: sliceSeconds }))
  }
  const api = combined(apiSlices)
  const bareResult = combined(bareSlices)

  const followUps = {
    url: server.url,
    method: "POST",
    paths: ids.map((id) => `/v1/customers/${id}/follow-ups`),
    headers,
    body: JSON.stringify({ channel: "phone", summary: "Benchmark call", outcome: "Interested" }),
    connections: openConnections,
    rate: commandRate,
    drainSeconds,
  } as const
  log(
    `warm-up (${warmUpSeconds} s), then POST /v1/customers/{id}/follow-ups at ${commandRate} req/s for ${seconds} s`,
  )
  await runOpenLoad({ ...followUps, seconds: warmUpSeconds })
  const followUp = await runOpenLoad({ ...followUps, seconds })
  for (const [name, result] of [
    ["GET card", api],
    ["bare", bareResult],
    ["POST follow-up", followUp],
  ] as ReadonlyArray<readonly [string, LoadResult]>) {
    log(`${name}: ${JSON.stringify(result)}`)
    if (result.non2xx > 0 || result.errors > 0)
      log(`${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`)
  }

  const round = (value: number, digits = 0) => Number(value.toFixed(digits))
  console.log(
    JSON.stringify({
      suite: "http",
      rows: [
        {
          name: "GET /v1/customers/{id}",
          value: round(api.requestsPerSecond),
          unit: "req/s",
          higherIsBetter: true,
        },
        { name: "GET /v1/customers/{id} p99", value: api.p99Ms, unit: "ms" },
        {
          name: "bare fastify route, same JSON from memory",
          value: round(bareResult.requestsPerSecond),
          unit: "req/s",
          higherIsBetter: true,
        },
        { name: "bare fastify route p99", value: bareResult.p99Ms, unit: "ms" },
        {
          name: "GET /v1/customers/{id} / bare fastify",
          value: round(api.requestsPerSecond / bareResult.requestsPerSecond, 2),
          unit: "ratio",
          target: ">= 0.5",
          higherIsBetter: true,
        },
        {
          name: `POST follow-up (one SQLite append) at ${commandRate} req/s, p99`,
          value: round(followUp.p99Ms, 2),
          unit: "ms",
          target: "<= 10",
        },
        {
          name: `POST follow-up at ${commandRate} req/s, p50`,
          value: round(followUp.p50Ms, 2),
          unit: "ms",
        },
        {
          name: `POST follow-up at ${commandRate} req/s, achieved`,
          value: round(followUp.requestsPerSecond),
          unit: "req/s",
          higherIsBetter: true,
        },
      ],
      maxRssKb: process.resourceUsage().maxRSS,
    }),
  )
} finally {
  await bare.close()
  await server.close()
  rmSync(folder, { recursive: true, force: true })
}
