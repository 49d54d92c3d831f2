/**
 * The V8 heap limits `relata` runs with (decision 0020). V8 sizes its heap from the machine's memory:
 * on a 24 GiB machine it lets the old generation grow to hundreds of megabytes before collecting
 * and keeps a 128 MB young generation, so a projection rebuild, which allocates fast but holds
 * little (about 80 MB live), peaked near 500-600 MB. With these limits V8 collects sooner, and a
 * 1,000,000-event rebuild into SQLite peaks at about 300 MB.
 *
 * Heap limits only take effect on Node's command line, so they are repeated where `relata` starts:
 * the `start` script in the root package.json and the shebang of cli.ts (a test keeps them equal to
 * this list), and bench/run.ts passes them to the suites that measure relata's own processes. A
 * deployment that needs a larger heap starts Node with its own flags
 * (`node --max-old-space-size=1024 packages/api/src/cli.ts serve`).
 */
export const heapLimits: ReadonlyArray<string> = ["--max-semi-space-size=16", "--max-old-space-size=384"]
