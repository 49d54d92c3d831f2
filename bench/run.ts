/**
 * Benchmark harness: runs each suite (`bench/<suite>.bench.ts`) in fresh processes, takes the
 * median of each row over the runs, keeps the raw results as JSON under bench/results/ and
 * rewrites the table in docs/benchmarks.md between its markers.
 *
 *   npm run bench                 # every suite, 3 runs each
 *   npm run bench -- sqlite       # one suite
 *   BENCH_RUNS=5 npm run bench    # more runs
 *
 * A suite is a plain script that prints one JSON object on its last stdout line:
 *   {"suite": "...", "rows": [{"name", "value", "unit", "target"?, "higherIsBetter"?}], "maxRssKb": n}
 */
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { heapLimits } from "@relata/api"

interface Row {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly target?: string
  readonly higherIsBetter?: boolean
}
interface SuiteRun {
  readonly suite: string
  readonly rows: ReadonlyArray<Row>
  readonly maxRssKb: number
}
interface SuiteResult {
  readonly suite: string
  readonly runs: number
  readonly machine: Machine
  readonly measuredAt: string
  readonly rows: ReadonlyArray<Row & { readonly samples: ReadonlyArray<number> }>
  readonly peakRssMb: number
}
interface Machine {
  readonly cores: number
  readonly cpu: string
  readonly memoryGb: number
  readonly node: string
}

const benchDir = path.dirname(fileURLToPath(import.meta.url))
const resultsDir = path.join(benchDir, "results")
const docsFile = path.join(benchDir, "..", "docs", "benchmarks.md")
const runs = Number(process.env.BENCH_RUNS ?? 3)
// The suites that measure relata's own processes (its server, its projection rebuild) run with the
// heap limits relata starts with; the library suites run as an embedding application would.
const nodeFlags: Readonly<Record<string, ReadonlyArray<string>>> = {
  http: heapLimits,
  projections: heapLimits,
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const machine: Machine = {
  cores: os.availableParallelism(),
  cpu: os.cpus()[0]?.model ?? "unknown",
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
}

const available = readdirSync(benchDir)
  .filter((file) => file.endsWith(".bench.ts"))
  .map((file) => file.slice(0, -".bench.ts".length))
  .sort()
const requested = process.argv.slice(2)
const unknown = requested.filter((name) => !available.includes(name))
if (unknown.length > 0) {
  console.error(`Unknown suite(s): ${unknown.join(", ")}. Available: ${available.join(", ")}`)
  process.exit(2)
}

const runSuite = (name: string): SuiteResult => {
  const samples: Array<SuiteRun> = []
  for (let run = 1; run <= runs; run++) {
    process.stderr.write(`bench ${name}: run ${run}/${runs}\n`)
    const args = ["--expose-gc", ...(nodeFlags[name] ?? []), path.join(benchDir, `${name}.bench.ts`)]
    const stdout = execFileSync(process.execPath, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 * 1024 * 1024,
    })
    const lastLine = stdout.trim().split("\n").at(-1) ?? ""
    samples.push(JSON.parse(lastLine) as SuiteRun)
  }
  const first = samples[0] as SuiteRun
  return {
    suite: first.suite,
    runs,
    machine,
    measuredAt: new Date().toISOString(),
    rows: first.rows.map((row) => {
      const values = samples.map(
        (sample) => sample.rows.find((r) => r.name === row.name)?.value ?? Number.NaN,
      )
      return { ...row, value: median(values), samples: values }
    }),
    peakRssMb: Math.round(Math.max(...samples.map((s) => s.maxRssKb)) / 1024),
  }
}

for (const name of requested.length > 0 ? requested : available) {
  const result = runSuite(name)
  writeFileSync(path.join(resultsDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`)
}

const format = (value: number): string =>
  value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toPrecision(3)

const table = readdirSync(resultsDir)
  .filter((file) => file.endsWith(".json"))
  .sort()
  .map((file) => JSON.parse(readFileSync(path.join(resultsDir, file), "utf8")) as SuiteResult)
  .map((result) =>
    [
      `### ${result.suite}`,
      "",
      `Median of ${result.runs} runs in separate processes, ${result.measuredAt.slice(0, 10)}; ` +
        `${result.machine.cores} cores (${result.machine.cpu}), ${result.machine.memoryGb} GiB, Node ${result.machine.node}; ` +
        `peak RSS ${result.peakRssMb} MB.`,
      "",
      "| measure | median | unit | target |",
      "|---|---:|---|---|",
      ...result.rows.map(
        (row) => `| ${row.name} | ${format(row.value)} | ${row.unit} | ${row.target ?? ""} |`,
      ),
      "",
    ].join("\n"),
  )
  .join("\n")

const doc = readFileSync(docsFile, "utf8")
const start = "<!-- bench:start -->"
const end = "<!-- bench:end -->"
const before = doc.slice(0, doc.indexOf(start) + start.length)
const after = doc.slice(doc.indexOf(end))
writeFileSync(docsFile, `${before}\n${table}\n${after}`)
process.stderr.write(`bench: results in bench/results/, table in docs/benchmarks.md\n`)
