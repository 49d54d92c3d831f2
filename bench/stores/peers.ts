/**
 * The peer stores the suite compares with (Emmett), installed only for the benchmark: on first use,
 * `npm install --prefix bench/peers` from bench/peers/package.json (exact versions, not a workspace;
 * bench/peers/node_modules is git-ignored).
 *
 * emmett-sqlite needs the native `sqlite3` package. No prebuilt binary can be downloaded where only
 * the npm registry is reachable, so it is built from source with node-gyp against the running Node's
 * own headers, passed explicitly as `--nodedir` (a user npmrc may point node-gyp at an older Node's).
 *
 * The registry has emmett-sqlite 0.42.4 but emmett only up to 0.42.0, so package.json overrides
 * emmett-sqlite's exact peer (0.42.4) with 0.42.0; emmett-sqlite bundles the emmett code it runs, so
 * the override only satisfies npm.
 */
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { log } from "./workload.ts"

const peersDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "peers")

/** Loads a peer package from bench/peers/node_modules. */
export type PeerRequire = (name: string) => unknown

const manifest = (): Record<string, string> =>
  (
    JSON.parse(fs.readFileSync(path.join(peersDir, "package.json"), "utf8")) as {
      dependencies: Record<string, string>
    }
  ).dependencies

const installedVersion = (name: string): string | undefined => {
  try {
    const file = path.join(peersDir, "node_modules", ...name.split("/"), "package.json")
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version
  } catch {
    return undefined
  }
}

const headersMajor = (dir: string): string | undefined => {
  try {
    const header = fs.readFileSync(path.join(dir, "include", "node", "node_version.h"), "utf8")
    return /#define NODE_MAJOR_VERSION (\d+)/.exec(header)?.[1]
  } catch {
    return undefined
  }
}

/**
 * The folder holding the running Node's headers (`include/node`), for node-gyp's --nodedir:
 * BENCH_NODEDIR when set; the npm `node` package's platform package beside the binary
 * (node/bin/node and node/node_modules/node-<platform>-<arch>, as ./npmw installs it); or the
 * prefix of a regular install (<prefix>/bin/node, <prefix>/include/node). Only headers of the
 * running major version count.
 */
export const nodeHeadersDir = (): string | undefined => {
  const major = process.versions.node.split(".")[0]
  const bin = path.dirname(fs.realpathSync(process.execPath))
  const candidates = [
    process.env.BENCH_NODEDIR,
    path.resolve(bin, "..", "node_modules", `node-${process.platform}-${process.arch}`),
    path.resolve(bin, ".."),
  ]
  return candidates.find(
    (dir): dir is string => dir !== undefined && dir !== "" && headersMajor(dir) === major,
  )
}

/** npm as this process should run it: the npm running the suite, or the one on PATH. */
const npmCommand = (): { file: string; args: ReadonlyArray<string> } => {
  const execPath = process.env.npm_execpath
  return execPath?.endsWith(".js") ? { file: process.execPath, args: [execPath] } : { file: "npm", args: [] }
}

const install = (): void => {
  const nodedir = nodeHeadersDir()
  if (nodedir === undefined) {
    throw new Error(
      `no headers for Node ${process.version} found next to ${process.execPath}; set BENCH_NODEDIR to a folder holding include/node`,
    )
  }
  const npm = npmCommand()
  log(`installing the peers into bench/peers/node_modules (sqlite3 builds from source, about 2 minutes)`)
  execFileSync(
    npm.file,
    [
      ...npm.args,
      "install",
      "--prefix",
      peersDir,
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      "--build-from-source",
      `--nodedir=${nodedir}`,
    ],
    {
      cwd: peersDir,
      // npm's output goes to stderr: stdout carries only the suite's result line.
      stdio: ["ignore", 2, 2],
      env: {
        ...process.env,
        // Lifecycle scripts (node-gyp) run with this Node; the environment beats a user npmrc's nodedir.
        PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`,
        npm_config_nodedir: nodedir,
        npm_config_build_from_source: "true",
      },
    },
  )
}

/**
 * The peers' `require`, installing them first when bench/peers/node_modules lacks a package at its
 * pinned version; or why they cannot be used (the suite then reports our rows only).
 */
export const loadPeers = (): { readonly require: PeerRequire } | { readonly reason: string } => {
  if (process.env.BENCH_PEERS === "none") return { reason: "BENCH_PEERS=none" }
  try {
    const wanted = manifest()
    const missing = () =>
      Object.entries(wanted).filter(([name, version]) => installedVersion(name) !== version)
    if (missing().length > 0) {
      install()
      const still = missing()
      if (still.length > 0)
        throw new Error(`not installed after npm install: ${still.map(([n]) => n).join(", ")}`)
    }
    return { require: createRequire(path.join(peersDir, "package.json")) }
  } catch (error) {
    return { reason: error instanceof Error ? error.message : String(error) }
  }
}
