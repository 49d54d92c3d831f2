import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { heapLimits } from "@relata/api"
import { describe, expect, it } from "vitest"

const read = (relative: string) => readFileSync(fileURLToPath(new URL(relative, import.meta.url)), "utf8")

describe("the heap limits relata runs with (decision 0020)", () => {
  it("are on the command line of every way relata starts: the start script and the CLI's shebang", () => {
    const flags = heapLimits.join(" ")
    const start = (JSON.parse(read("../../../package.json")) as { scripts: { start: string } }).scripts.start
    expect(start).toBe(`node ${flags} packages/api/src/cli.ts serve`)
    expect(read("../src/cli.ts").split("\n")[0]).toBe(`#!/usr/bin/env -S node ${flags}`)
  })

  it("bound the heap of a Node process started with them", () => {
    const limitOf = (flags: ReadonlyArray<string>) =>
      Number(
        execFileSync(
          process.execPath,
          [
            ...flags,
            "-e",
            "process.stdout.write(String(require('node:v8').getHeapStatistics().heap_size_limit))",
          ],
          { encoding: "utf8" },
        ),
      ) /
      2 ** 20
    const bounded = limitOf(heapLimits)
    // The old generation's 384 MB plus the young generation's share.
    expect(bounded).toBeGreaterThanOrEqual(384)
    expect(bounded).toBeLessThan(450)
    expect(limitOf([])).toBeGreaterThan(bounded)
  })
})
