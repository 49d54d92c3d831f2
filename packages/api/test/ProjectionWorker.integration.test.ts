/**
 * The projections in a separate worker: the API in worker mode on a real SQLite file, and
 * `relata projections run` as a real second process. The server runs no projection, so every card
 * it reads was built by the worker; read-your-writes waits on the worker's checkpoints, and with
 * the worker stopped answers 503 rather than older data. The worker's report tells the server what
 * checkpoints cannot: a projection or a rebuild that failed, and a worker that is gone.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { SqliteReadModelStore } from "@relata/adapter-sqlite"
import { type ApiConfig, loadApiConfig, type RunningServer, startServer } from "@relata/api"
import { customerCardProjectionName, customerCardsCollection, ReadModelStore } from "@relata/projections"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auth, grants, json, lead, tokens } from "./support/testApp.ts"

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url))

const folder = mkdtempSync(join(tmpdir(), "relata-worker-"))
const database = join(folder, "relata.sqlite")
const env = {
  ...process.env,
  RELATA_EVENT_STORE: `sqlite:${database}`,
  RELATA_PROJECTIONS: "worker",
  RELATA_LOG_LEVEL: "silent",
}

/** A running `relata projections run`, with what it printed so far. */
interface Worker {
  readonly process: ChildProcessWithoutNullStreams
  readonly stdout: () => string
  readonly exited: Promise<number | null>
}

const startWorker = async (args: ReadonlyArray<string> = []): Promise<Worker> => {
  const child = spawn(process.execPath, [cli, "projections", "run", "--status-interval", "0", ...args], {
    cwd: folder,
    env,
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  // Started: the runner has attached its generations and its loops are running.
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (/started analytics/.test(stdout)) {
        clearInterval(check)
        resolve()
      }
    }, 10)
    void exited.then((code) => {
      clearInterval(check)
      reject(new Error(`the worker exited (${code}) before starting: ${stderr}`))
    })
  })
  return { process: child, stdout: () => stdout, exited }
}

const stopWorker = async (worker: Worker): Promise<{ code: number | null; stdout: string }> => {
  worker.process.kill("SIGTERM")
  const code = await worker.exited
  return { code, stdout: worker.stdout() }
}

/** Runs the CLI to its end without blocking this process (the server under test lives here). */
const runCli = (
  args: ReadonlyArray<string>,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: folder, env: { ...env, ...extraEnv } })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** The active generation's checkpoint of each projection, as stored. */
const storedCheckpoints = (): Map<string, bigint> => {
  const db = new DatabaseSync(database, { readOnly: true })
  try {
    const rows = db
      .prepare("SELECT projection, checkpoint FROM read_model_generations WHERE active = 1")
      .all() as Array<{ projection: string; checkpoint: number | bigint }>
    return new Map(rows.map((row) => [row.projection, BigInt(row.checkpoint)]))
  } finally {
    db.close()
  }
}

/** Each customer's stream version counting the events at or before `position`, from the event store. */
const versionsAt = (position: bigint): Map<string, number> => {
  const db = new DatabaseSync(database, { readOnly: true })
  try {
    const rows = db
      .prepare(
        "SELECT stream_id, max(version) AS version FROM events WHERE position <= ? AND stream_id LIKE 'customer-%' GROUP BY stream_id",
      )
      .all(position) as Array<{ stream_id: string; version: number }>
    return new Map(rows.map((row) => [row.stream_id.slice("customer-".length), Number(row.version)]))
  } finally {
    db.close()
  }
}

/** Every card in the active generation, by customer id, with the version it reflects. */
const storedCardVersions = (): Promise<Map<string, number>> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const readModels = yield* ReadModelStore
      const versions = new Map<string, number>()
      let after: string | undefined
      do {
        const page = yield* readModels.query(customerCardsCollection, {
          limit: 1000,
          ...(after === undefined ? {} : { after }),
        })
        for (const item of page.items) versions.set(item.id, Number(item.document.version))
        after = page.next
      } while (after !== undefined)
      return versions
    }).pipe(Effect.provide(SqliteReadModelStore.layer({ path: database }))),
  )

describe("projections in a separate worker", () => {
  let config: ApiConfig
  let server: RunningServer

  beforeAll(async () => {
    // Events written before any projection ran: the worker has them to catch up with.
    const seeded = spawnSync(process.execPath, [cli, "demo", "--customers", "150", "--months", "6"], {
      cwd: folder,
      env,
      encoding: "utf8",
      timeout: 120_000,
    })
    expect(seeded.status, seeded.stderr).toBe(0)
    const loaded = loadApiConfig({ ...env, RELATA_DEMO: "never" })
    if (Result.isFailure(loaded)) throw loaded.failure
    // A short staleness limit, so that a killed worker shows within the test's time.
    config = { ...loaded.success, port: 0, tokens: grants, workerStaleAfterMs: 2_000 }
    expect(config.projections).toBe("worker")
    server = await startServer(config)
  }, 120_000)
  afterAll(async () => {
    await server?.close()
    rmSync(folder, { recursive: true, force: true })
  })

  it("stops on SIGTERM with exit 0 and checkpoints that match the read models, and resumes from them", async () => {
    // Small batches, stopped as soon as the first one is in: most likely while still catching up.
    const worker = await startWorker(["--batch-size", "5"])
    await expect
      .poll(() => storedCheckpoints().get(customerCardProjectionName) ?? 0n, { interval: 2 })
      .toBeGreaterThan(0n)
    const stopped = await stopWorker(worker)
    expect(stopped.code, stopped.stdout).toBe(0)
    const checkpoints = storedCheckpoints()
    const cards = checkpoints.get(customerCardProjectionName)
    expect(cards).toBeDefined()
    expect(stopped.stdout).toContain(
      `stopped ${customerCardProjectionName.padEnd(20)} generation 1  checkpoint ${cards}`,
    )
    // Whatever it reached is whole: every card reflects exactly its customer's events up to the checkpoint.
    expect(await storedCardVersions()).toEqual(versionsAt(cards as bigint))

    // Started again, it carries on from there to the head.
    const again = await startWorker()
    const head = BigInt(
      json<{ eventStore: { headPosition: string } }>(
        await server.app.inject({ method: "GET", url: "/ready" }),
      ).eventStore.headPosition,
    )
    await expect
      .poll(() => storedCheckpoints().get(customerCardProjectionName), { timeout: 30_000 })
      .toBe(head)
    expect(await storedCardVersions()).toEqual(versionsAt(head))
    const final = await stopWorker(again)
    expect(final.code).toBe(0)
  }, 120_000)

  it("serves cards the worker built: a registration read back with minPosition; rebuilds are the worker's", async () => {
    const worker = await startWorker()
    try {
      const created = await server.app.inject({
        method: "POST",
        url: "/v1/customers",
        headers: auth("rep"),
        payload: lead("Worker Built Ltd"),
      })
      expect(created.statusCode, created.body).toBe(201)
      const { customerId, position } = json<{ customerId: string; position: string }>(created)

      const card = await server.app.inject({
        method: "GET",
        url: `/v1/customers/${customerId}?minPosition=${position}`,
        headers: auth("rep"),
      })
      expect(card.statusCode, card.body).toBe(200)
      expect(json(card)).toMatchObject({ customerId, profile: { name: "Worker Built Ltd" }, version: 1 })
      // Read again after the worker's next commit: the server's copy of the card goes with it.
      const qualified = await server.app.inject({
        method: "POST",
        url: `/v1/customers/${customerId}/qualify`,
        headers: auth("rep"),
      })
      expect(qualified.statusCode, qualified.body).toBe(200)
      const again = await server.app.inject({
        method: "GET",
        url: `/v1/customers/${customerId}?minPosition=${json<{ position: string }>(qualified).position}`,
        headers: auth("rep"),
      })
      expect(json(again)).toMatchObject({ customerId, stage: "prospect", version: 2 })

      const statuses = await server.app.inject({
        method: "GET",
        url: "/v1/projections",
        headers: auth("admin"),
      })
      expect(statuses.statusCode).toBe(200)
      for (const status of json<{ projections: Array<{ checkpoint: string }> }>(statuses).projections) {
        expect(BigInt(status.checkpoint)).toBeGreaterThanOrEqual(BigInt(position))
      }
      expect(json<{ worker: unknown }>(statuses).worker).toMatchObject({
        reporting: true,
        worker: `${hostname()} pid ${worker.process.pid}`,
      })

      const rebuild = await server.app.inject({
        method: "POST",
        url: `/v1/projections/${customerCardProjectionName}/rebuild`,
        headers: auth("admin"),
      })
      expect(rebuild.statusCode).toBe(409)
      expect(json(rebuild)).toMatchObject({ type: "urn:relata:problem:rebuild-runs-on-worker" })
      expect(json<{ detail: string }>(rebuild).detail).toContain(
        `relata projections run --rebuild ${customerCardProjectionName}`,
      )
      // The CLI's rebuild goes through the server, and says where to go instead.
      const cliRebuild = await runCli([
        "projections",
        "rebuild",
        customerCardProjectionName,
        "--url",
        server.url,
        "--token",
        tokens.admin,
      ])
      expect(cliRebuild.code).toBe(1)
      expect(cliRebuild.stderr).toContain("relata projections run --rebuild")
      const unknown = await server.app.inject({
        method: "POST",
        url: "/v1/projections/no-such-projection/rebuild",
        headers: auth("admin"),
      })
      expect(unknown.statusCode).toBe(404)
    } finally {
      expect((await stopWorker(worker)).code).toBe(0)
    }
  }, 60_000)

  it("with the worker stopped, answers read-model-behind after the wait, and /ready shows the lag", async () => {
    const created = await server.app.inject({
      method: "POST",
      url: "/v1/customers",
      headers: auth("rep"),
      payload: lead("Nobody Projects Me"),
    })
    expect(created.statusCode, created.body).toBe(201)
    const { customerId, position } = json<{ customerId: string; position: string }>(created)
    const checkpoint = storedCheckpoints().get(customerCardProjectionName) as bigint
    expect(checkpoint).toBeLessThan(BigInt(position))

    const started = Date.now()
    const behind = await server.app.inject({
      method: "GET",
      url: `/v1/customers/${customerId}?minPosition=${position}`,
      headers: auth("rep"),
    })
    // It waited for the worker (the documented 2 s) before giving up, and says how far the models are.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900)
    expect(behind.statusCode).toBe(503)
    expect(behind.headers["retry-after"]).toBeDefined()
    expect(json(behind)).toMatchObject({
      type: "urn:relata:problem:read-model-behind",
      minPosition: position,
      position: String(checkpoint),
    })

    const ready = json<{ projections: Array<{ name: string; checkpoint: string; lag: string }> }>(
      await server.app.inject({ method: "GET", url: "/ready" }),
    )
    const cards = ready.projections.find((p) => p.name === customerCardProjectionName)
    expect(cards).toMatchObject({
      checkpoint: String(checkpoint),
      lag: String(BigInt(position) - checkpoint),
    })
  }, 60_000)
  it("rebuilds on the worker when asked at its start; the server reads the new generation", async () => {
    const worker = await startWorker(["--rebuild", customerCardProjectionName])
    try {
      await expect
        .poll(() => worker.stdout(), { timeout: 30_000 })
        .toContain(`rebuilt ${customerCardProjectionName}: generation 2 is live`)
      const head = storedCheckpoints().get(customerCardProjectionName) as bigint
      const statuses = json<{ projections: Array<{ name: string; generation: number; state: string }> }>(
        await server.app.inject({ method: "GET", url: "/v1/projections", headers: auth("admin") }),
      )
      expect(statuses.projections.find((p) => p.name === customerCardProjectionName)).toMatchObject({
        generation: 2,
      })
      const cards = await server.app.inject({
        method: "GET",
        url: `/v1/customers?minPosition=${head}&q=${encodeURIComponent("Nobody Projects Me")}`,
        headers: auth("rep"),
      })
      expect(cards.statusCode, cards.body).toBe(200)
      // Built by the new generation from the first event: the lead registered while no worker ran is in.
      expect(
        json<{ items: Array<{ profile: { name: string } }> }>(cards).items.map((c) => c.profile.name),
      ).toEqual(["Nobody Projects Me"])
      expect(await storedCardVersions()).toEqual(versionsAt(head))
    } finally {
      expect((await stopWorker(worker)).code).toBe(0)
    }
  }, 60_000)

  it("documents itself, exits 2 on stores a worker cannot share, 3 on a store it cannot open", async () => {
    const help = await runCli(["projections", "run", "--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("--rebuild")
    const memory = await runCli(["projections", "run"], { RELATA_EVENT_STORE: "memory:" })
    expect(memory.code).toBe(2)
    expect(memory.stderr).toContain("projections")
    const unreachable = await runCli(["projections", "run"], {
      RELATA_EVENT_STORE: "sqlite:/dev/null/relata.sqlite",
    })
    expect(unreachable.code).toBe(3)
  }, 60_000)
  // Last: the undecodable event it writes stops every projection of this store for good.
  it("shows what the worker reports: a projection and a rebuild failed on an event, and the worker gone", async () => {
    type Statuses = {
      projections: Array<{
        name: string
        state: string
        failure?: string
        rebuild?: { generation: number; state: string; failure?: string }
      }>
      worker: { reporting: boolean; reason?: string; worker?: string }
    }
    type Ready = { status: string; reasons?: Array<string>; worker?: Statuses["worker"] }
    const statuses = async () =>
      json<Statuses>(
        await server.app.inject({ method: "GET", url: "/v1/projections", headers: auth("admin") }),
      )
    const cardsOf = (body: Statuses) => body.projections.find((p) => p.name === customerCardProjectionName)
    const ready = async () => {
      const response = await server.app.inject({ method: "GET", url: "/ready" })
      return { code: response.statusCode, body: json<Ready>(response) }
    }

    // Stopped by the previous test: the server says so rather than guess.
    const stopped = await ready()
    expect(stopped.code).toBe(503)
    expect(stopped.body).toMatchObject({ status: "not-ready", worker: { reporting: false } })
    expect(stopped.body.reasons).toContain("the projection worker stopped")
    // The public answer does not name the worker's host.
    expect(stopped.body.worker).not.toHaveProperty("worker")

    const worker = await startWorker()
    await expect.poll(async () => (await ready()).code, { timeout: 30_000 }).toBe(200)
    expect((await ready()).body).toMatchObject({ status: "ready", worker: { reporting: true } })
    expect((await ready()).body.reasons).toBeUndefined()

    // Behind the store's back: a registration no projection can decode.
    const db = new DatabaseSync(database)
    const position = BigInt(
      db
        .prepare(
          "INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata) VALUES ('customer-poison', 1, 'poison-1', 'LeadRegistered', 1, '{}', '{}') RETURNING position",
        )
        .get()?.position as number,
    )
    db.close()

    await expect.poll(async () => cardsOf(await statuses())?.state, { timeout: 30_000 }).toBe("failed")
    const failed = await statuses()
    // The worker's own message: the event, its position and stream, and why.
    expect(cardsOf(failed)?.failure).toMatch(
      new RegExp(
        `^Projection ${customerCardProjectionName} \\(generation 2\\) stopped at LeadRegistered \\(position ${position}, stream customer-poison\\): Invalid LeadRegistered .*Missing key`,
        "s",
      ),
    )
    expect(failed.worker).toMatchObject({ reporting: true })
    const notReady = await ready()
    expect(notReady.code).toBe(503)
    // Where it stopped, not the cause: /ready is public, and the cause names a customer.
    const reason = notReady.body.reasons?.find((r) =>
      r.startsWith(`projection ${customerCardProjectionName} `),
    )
    const stoppedAt = reason?.match(/^projection \S+ stopped at position (\d+) \(\w+\)$/)?.[1]
    expect(stoppedAt, reason).toBeDefined()
    expect(cardsOf(failed)?.failure).toContain(`position ${stoppedAt}`)
    const metrics = (await server.app.inject({ method: "GET", url: "/metrics" })).body
    expect(metrics).toContain(`relata_projection_failed{projection="${customerCardProjectionName}"} 1`)
    expect(metrics).toContain("relata_projection_worker_reporting 1")

    // Killed, it writes nothing more: once the heartbeat is older than the limit, the worker is gone.
    worker.process.kill("SIGKILL")
    await worker.exited
    await expect
      .poll(async () => (await ready()).body.worker?.reporting, { timeout: 10_000, interval: 200 })
      .toBe(false)
    const gone = await ready()
    expect(gone.code).toBe(503)
    expect(gone.body.reasons).toContainEqual(
      expect.stringMatching(/^the projection worker has not reported for \d+ s \(limit 2 s\)/),
    )
    // The last failure it reported still stands.
    expect(cardsOf(await statuses())?.state).toBe("failed")
    expect((await server.app.inject({ method: "GET", url: "/metrics" })).body).toContain(
      "relata_projection_worker_reporting 0",
    )

    // A rebuild stops at the same event: failed, not rebuilding for as long as the worker runs.
    const rebuilding = await startWorker(["--rebuild", customerCardProjectionName])
    try {
      await expect
        .poll(async () => cardsOf(await statuses())?.rebuild?.state, { timeout: 30_000 })
        .toBe("failed")
      const rebuild = cardsOf(await statuses())
      expect(rebuild).toMatchObject({ state: "failed", rebuild: { generation: 3, state: "failed" } })
      expect(rebuild?.rebuild?.failure).toContain(
        `Projection ${customerCardProjectionName} (generation 3) stopped at LeadRegistered (position ${position}`,
      )
      expect((await ready()).body.worker).toMatchObject({ reporting: true })
    } finally {
      expect((await stopWorker(rebuilding)).code).toBe(0)
    }
    // Stopped cleanly, it said so on its way out: no need to wait for the heartbeat to go stale.
    expect((await ready()).body).toMatchObject({
      status: "not-ready",
      worker: { reporting: false, reason: expect.stringContaining("stopped") },
    })
  }, 120_000)
})
