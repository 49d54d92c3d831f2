/**
 * `relata serve` on a fresh machine, as `./npmw start` runs it: an empty embedded store gets demo
 * data and a token per role, the API answers over a real socket with those tokens, SIGTERM stops it
 * cleanly (exit 0), and a restart keeps the data and the tokens.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

const cli = fileURLToPath(new URL("../../packages/api/src/cli.ts", import.meta.url))

interface Started {
  readonly child: ChildProcess
  readonly url: string
  readonly output: () => string
}

const serve = (cwd: string, args: ReadonlyArray<string>): Promise<Started> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "serve", "--port", "0", ...args], {
      cwd,
      env: { ...process.env, RELATA_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    })
    let output = ""
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 90_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Relata is listening on (http:\/\/\S+)/.exec(output)
      if (match?.[1] !== undefined && output.includes("Ctrl-C")) {
        clearTimeout(timer)
        resolve({ child, url: match[1], output: () => output })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited with ${code}:\n${output}`))
    })
  })

const stop = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    child.removeAllListeners("exit")
    child.on("exit", (code) => resolve(code))
    child.kill("SIGTERM")
  })

const tokenOf = (output: string, role: string): string => {
  const match = new RegExp(`^\\s+${role}\\s+\\S+\\s+(relata_${role}_\\S+)$`, "m").exec(output)
  if (match?.[1] === undefined) throw new Error(`no ${role} token in:\n${output}`)
  return match[1]
}

describe("relata serve", () => {
  const folder = mkdtempSync(join(tmpdir(), "relata-serve-"))
  afterAll(() => rmSync(folder, { recursive: true, force: true }))

  it("seeds demo data, prints a token per role, serves, and stops cleanly on SIGTERM", async () => {
    const first = await serve(folder, ["--demo-customers", "30"])
    const output = first.output()
    expect(output).toMatch(/Seeded 30 customers/)
    for (const role of ["viewer", "rep", "manager", "auditor", "admin"])
      expect(tokenOf(output, role)).toBeTruthy()

    const rep = tokenOf(output, "rep")
    const mine = await fetch(`${first.url}/v1/customers?owner=me&limit=100`, {
      headers: { authorization: `Bearer ${rep}` },
    })
    expect(mine.status).toBe(200)
    const page = (await mine.json()) as { items: Array<{ owner: string }> }
    expect(page.items.length).toBeGreaterThan(0)
    expect(new Set(page.items.map((card) => card.owner)).size).toBe(1)

    const ready = (await (await fetch(`${first.url}/ready`)).json()) as { status: string }
    expect(ready.status).toBe("ready")
    expect(await stop(first.child)).toBe(0)

    // A restart finds the data (no second seed) and the same tokens.
    const second = await serve(folder, ["--demo-customers", "30"])
    expect(second.output()).not.toMatch(/Seeded/)
    expect(tokenOf(second.output(), "rep")).toBe(rep)
    const again = await fetch(`${second.url}/v1/customers?owner=me&limit=1`, {
      headers: { authorization: `Bearer ${rep}` },
    })
    expect(again.status).toBe(200)
    expect(await stop(second.child)).toBe(0)
  }, 180_000)
})
