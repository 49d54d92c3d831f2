/**
 * HTTP benchmark: the real server (SQLite file, projections running) on loopback under autocannon.
 *
 *   node bench/http.bench.ts        (through ./npmw exec, or with the harness: npm run bench -- http)
 *   BENCH_HTTP_SECONDS=8 ...        seconds per load run (default 8)
 *   BENCH_HTTP_CUSTOMERS=300 ...    customers seeded through the command route (default 300)
 *
 * - `GET /v1/customers/{id}` over the seeded customers, as fast as 10 connections go, against a bare
 *   fastify route answering the same card JSON from memory in the same process: the ratio says what
 *   auth, validation, the read model and the hooks cost.
 * - `POST /v1/customers/{id}/follow-ups` (one durable SQLite append each) at a fixed 500 req/s,
 *   spread over the customers: p99 latency, corrected for coordinated omission.
 *
 * autocannon runs in a child process, so the load generator does not share the server's event loop
 * (not a worker thread: autocannon computes its percentiles only on a process's main thread).
 * Rate limiting is off: 6,000 requests per minute would cap the run, not measure it.
 * Prints one JSON object: {"suite":"http","rows":[...],"maxRssKb":n}.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import path from "node:path"
import { defaultApiConfig, StoreUrl, startServer, type TokenGrant } from "@relata/api"
import { ActorId } from "@relata/domain"
import Fastify from "fastify"

const seconds = Number(process.env.BENCH_HTTP_SECONDS ?? 8)
const customers = Number(process.env.BENCH_HTTP_CUSTOMERS ?? 300)
const connections = 10
const commandRate = 500

const log = (message: string) => process.stderr.write(`bench http: ${message}\n`)

const token = "bench-admin-token-0000000001"
const grants: ReadonlyArray<TokenGrant> = [{ token, actorId: ActorId.make("bench-admin"), role: "admin" }]
const authorization = `Bearer ${token}`

interface LoadResult {
  readonly requestsPerSecond: number
  readonly p99Ms: number
  readonly p50Ms: number
  readonly non2xx: number
  readonly errors: number
  readonly total: number
}

interface Load {
  readonly url: string
  readonly method: "GET" | "POST"
  /** Paths to rotate through, one per request. */
  readonly paths: ReadonlyArray<string>
  readonly body?: string
  readonly overallRate?: number
}

// The load process's script: autocannon is CommonJS and untyped, so it stays plain JavaScript.
const loadSource = `
const workerData = JSON.parse(process.argv[1])
const autocannon = require(workerData.autocannon)
const { load, connections, seconds, authorization } = workerData
let next = 0
autocannon({
  url: load.url,
  connections,
  duration: seconds,
  ...(load.overallRate === undefined ? {} : { overallRate: load.overallRate }),
  headers: { authorization, "content-type": "application/json" },
  requests: [{
    method: load.method,
    ...(load.body === undefined ? {} : { body: load.body }),
    setupRequest: (request) => ({ ...request, path: load.paths[next++ % load.paths.length] }),
  }],
}, (error, result) => {
  if (error) throw error
  console.log(JSON.stringify({
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  }))
})
`

const autocannonPath = createRequire(import.meta.url).resolve("autocannon")

const run = (load: Load): Promise<LoadResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "-e",
        loadSource,
        JSON.stringify({ autocannon: autocannonPath, load, connections, seconds, authorization }),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    )
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk
    })
    child.once("error", reject)
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}`))
      resolve(JSON.parse(output.trim().split("\n").at(-1) as string) as LoadResult)
    })
  })

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
      headers: { authorization, "content-type": "application/json" },
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
    headers: { authorization },
  })
  if (cardResponse.status !== 200) throw new Error(`reading a card failed: ${cardResponse.status}`)
  const card: unknown = await cardResponse.json()

  bare.get("/bare", async () => card)
  await bare.listen({ host: "127.0.0.1", port: 0 })
  const bareAddress = bare.server.address()
  const barePort = typeof bareAddress === "object" && bareAddress !== null ? bareAddress.port : 0

  const cardPaths = ids.map((id) => `/v1/customers/${id}`)
  log(`warm-up, then GET /v1/customers/{id} for ${seconds} s`)
  await run({ url: server.url, method: "GET", paths: cardPaths }).then(() => undefined)
  const api = await run({ url: server.url, method: "GET", paths: cardPaths })
  log(`bare fastify route for ${seconds} s`)
  const bareResult = await run({ url: `http://127.0.0.1:${barePort}`, method: "GET", paths: ["/bare"] })

  log(`POST /v1/customers/{id}/follow-ups at ${commandRate} req/s for ${seconds} s`)
  const followUp = await run({
    url: server.url,
    method: "POST",
    paths: ids.map((id) => `/v1/customers/${id}/follow-ups`),
    body: JSON.stringify({ channel: "phone", summary: "Benchmark call", outcome: "Interested" }),
    overallRate: commandRate,
  })
  for (const [name, result] of [
    ["GET card", api],
    ["bare", bareResult],
    ["POST follow-up", followUp],
  ] as const) {
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
          value: followUp.p99Ms,
          unit: "ms",
          target: "<= 10",
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
