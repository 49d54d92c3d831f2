/**
 * The `relata` CLI as scripts use it: real processes, a real SQLite file, and exit codes a script
 * can trust (0 done, 1 a problem found, 2 bad usage or configuration, 3 unreachable).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url))

describe("the relata CLI", () => {
  const folder = mkdtempSync(join(tmpdir(), "relata-cli-"))
  const database = join(folder, "relata.sqlite")
  const env = { ...process.env, RELATA_EVENT_STORE: `sqlite:${database}`, RELATA_LOG_LEVEL: "silent" }

  const relata = (args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}) => {
    const result = spawnSync(process.execPath, [cli, ...args], {
      cwd: folder,
      env: { ...env, ...extraEnv },
      encoding: "utf8",
      timeout: 120_000,
    })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }

  /** The first two customers the demo registered. */
  let first = ""
  let second = ""

  beforeAll(() => {
    const seeded = relata(["demo", "--customers", "20", "--months", "6"])
    expect(seeded.code, seeded.stderr).toBe(0)
    expect(seeded.stdout).toMatch(/Seeded 20 customers \(\d+ events\)/)
    const db = new DatabaseSync(database, { readOnly: true })
    const streams = db
      .prepare("SELECT stream_id FROM events WHERE version = 1 ORDER BY position LIMIT 2")
      .all() as Array<{ stream_id: string }>
    db.close()
    ;[first, second] = streams.map((row) => row.stream_id.slice("customer-".length)) as [string, string]
  }, 120_000)
  afterAll(() => rmSync(folder, { recursive: true, force: true }))

  it("prints help for every command and exits 0", () => {
    for (const args of [
      ["--help"],
      ["serve", "--help"],
      ["demo", "--help"],
      ["projections", "--help"],
      ["projections", "status", "--help"],
      ["projections", "rebuild", "--help"],
      ["history", "--help"],
      ["card", "--help"],
      ["audit", "--help"],
      ["audit", "verify", "--help"],
    ]) {
      const result = relata(args)
      expect(result.code, args.join(" ")).toBe(0)
      expect(result.stdout, args.join(" ")).toContain("USAGE")
    }
  })

  it("exits 2 on bad usage and on a bad configuration", () => {
    expect(relata(["bogus"]).code).toBe(2)
    expect(relata(["card"]).code).toBe(2)
    expect(relata(["card", "x", "--as-of", "yesterday"]).code).toBe(2)
    const badConfig = relata(["audit", "verify"], { RELATA_PORT: "not-a-port" })
    expect(badConfig.code).toBe(2)
    expect(badConfig.stderr).toContain("port")
  })

  it("shows a customer's history and card, and exits 1 for an unknown customer", () => {
    const history = relata(["history", first, "--json"])
    expect(history.code, history.stderr).toBe(0)
    const entries = JSON.parse(history.stdout) as Array<{ eventType: string; version: number }>
    expect(entries[0]).toMatchObject({ eventType: "LeadRegistered", version: 1 })

    const card = relata(["card", first])
    expect(card.code, card.stderr).toBe(0)
    expect(JSON.parse(card.stdout)).toMatchObject({ customerId: first, version: entries.length })

    const before = relata(["card", first, "--as-of", "2000-01-01"])
    expect(before.code).toBe(1)
    expect(before.stderr).toContain("not found")
    expect(relata(["history", "nobody"]).code).toBe(1)
  })

  it("verifies every hash chain, and exits 1 naming the stream when one was tampered with", () => {
    const clean = relata(["audit", "verify"])
    expect(clean.code, clean.stderr).toBe(0)
    expect(clean.stdout).toContain("Every hash chain holds.")

    // Edit one stored event's bytes behind the store's back.
    const db = new DatabaseSync(database)
    db.prepare(
      "UPDATE events SET data = json_set(data, '$.source', 'edited') WHERE stream_id = ? AND version = 1",
    ).run(`customer-${second}`)
    db.close()
    const broken = relata(["audit", "verify", "--json"])
    expect(broken.code).toBe(1)
    const report = JSON.parse(broken.stdout) as { broken: Array<{ streamId: string; version: number }> }
    expect(report.broken).toEqual([expect.objectContaining({ streamId: `customer-${second}`, version: 1 })])
  })

  it("exits 3 when the event store cannot be reached, whichever the adapter", () => {
    for (const url of ["postgres://relata:secret@127.0.0.1:1/relata", "kurrentdb://127.0.0.1:1?tls=false"]) {
      const result = relata(["audit", "verify"], { RELATA_EVENT_STORE: url })
      expect(result.code, url).toBe(3)
      expect(result.stderr).not.toContain("secret")
    }
  })

  it("exits 3 when the server cannot be reached", () => {
    const result = relata(["projections", "status", "--url", "http://127.0.0.1:9", "--token", "x".repeat(20)])
    expect(result.code).toBe(3)
    expect(result.stderr).toContain("Cannot reach")
  })
})
