/**
 * A throwaway PostgreSQL server for integration tests: `initdb` into a fresh temporary folder,
 * `pg_ctl start` on a free loopback port (TCP on 127.0.0.1 only, unix sockets inside the folder),
 * password authentication over TCP, no fsync. `stop()` shuts it down and deletes the folder; a
 * process exit handler does the same if a test run dies before calling it.
 *
 * PostgreSQL refuses to run as root, so when this process is root the server runs as the
 * `postgres` system user (or `nobody`), and the temporary folder is handed to that user.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import crypto from "node:crypto"
import fs from "node:fs"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import pg from "pg"

/** Where the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`) live, or `undefined`. */
export const findPostgresBinaries = (env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const hasServer = (dir: string): boolean =>
    ["initdb", "pg_ctl", "postgres"].every((name) => isExecutable(path.join(dir, name)))
  const explicit = env.RELATA_POSTGRES_BIN
  if (explicit !== undefined && explicit !== "") return hasServer(explicit) ? explicit : undefined
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir !== "" && hasServer(dir)) return dir
  }
  // Debian and Ubuntu install the server outside PATH, one folder per major version.
  const debian = "/usr/lib/postgresql"
  const versions = safeReaddir(debian)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a))
  for (const version of versions) {
    const dir = path.join(debian, version, "bin")
    if (hasServer(dir)) return dir
  }
  return undefined
}

/** Why the harness cannot run here, as a sentence, or `undefined` when it can. */
export const postgresUnavailableReason = (env: NodeJS.ProcessEnv = process.env): string | undefined =>
  findPostgresBinaries(env) === undefined
    ? "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH, in " +
      "/usr/lib/postgresql/<version>/bin, or in RELATA_POSTGRES_BIN. Install PostgreSQL " +
      "(e.g. `apt-get install postgresql`) to run the PostgreSQL integration tests."
    : undefined

export interface PostgresTestServerOptions {
  /** Folder holding `initdb`, `pg_ctl` and `postgres`; found with `findPostgresBinaries` when omitted. */
  readonly binDir?: string
  /** Extra `postgresql.conf` settings, e.g. `{ max_connections: "300" }`. */
  readonly settings?: Readonly<Record<string, string>>
}

/** A running throwaway server. Connect over TCP with `connectionString` (an ordinary, non-superuser role). */
export interface PostgresTestServer {
  readonly host: string
  readonly port: number
  /** A database owned by `user`, created for the tests. */
  readonly database: string
  readonly user: string
  readonly password: string
  /** `postgresql://user:password@127.0.0.1:port/database` */
  readonly connectionString: string
  /** The superuser `postgres` over TCP, with its own password; for tests that administer the server. */
  readonly adminConnectionString: string
  /** The PostgreSQL major version, e.g. 15. */
  readonly majorVersion: number
  /** The temporary folder holding the data directory, the log and the unix socket; deleted by `stop`. */
  readonly directory: string
  /** Shuts the server down and deletes its folder. Safe to call more than once. */
  readonly stop: () => Promise<void>
}

/** Starts a throwaway server. Fails with the server log's tail when it cannot start. */
export const startPostgresTestServer = async (
  options: PostgresTestServerOptions = {},
): Promise<PostgresTestServer> => {
  const binDir = options.binDir ?? findPostgresBinaries()
  if (binDir === undefined) throw new Error(postgresUnavailableReason())
  const runAs = unprivilegedUser()
  sweepAbandonedServers(binDir, runAs)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), folderPrefix))
  const dataDir = path.join(root, "data")
  const logFile = path.join(root, "server.log")
  const cleanup = (): void => {
    try {
      execFileSync(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"], {
        stdio: "ignore",
        ...(runAs ?? {}),
      })
    } catch {
      // Not running: nothing to stop.
    }
    fs.rmSync(root, { recursive: true, force: true })
  }
  process.on("exit", cleanup)
  try {
    if (runAs !== undefined) fs.chownSync(root, runAs.uid, runAs.gid)
    fs.writeFileSync(path.join(root, ownerFile), String(process.pid))
    const adminPassword = crypto.randomBytes(16).toString("hex")
    const password = crypto.randomBytes(16).toString("hex")
    const passwordFile = path.join(root, "superuser-password")
    fs.writeFileSync(passwordFile, adminPassword, { mode: 0o600 })
    if (runAs !== undefined) fs.chownSync(passwordFile, runAs.uid, runAs.gid)
    await run(binDir, "initdb", runAs, [
      "-D",
      dataDir,
      "--username=postgres",
      `--pwfile=${passwordFile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--no-locale",
      "--no-sync",
      "--no-instructions",
    ])
    fs.rmSync(passwordFile)
    const settings: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${root}'`,
      password_encryption: "'scram-sha-256'",
      // Speed over durability: the data is thrown away after the run.
      fsync: "off",
      full_page_writes: "off",
      max_connections: "200",
      logging_collector: "off",
      ...options.settings,
    }
    fs.appendFileSync(
      path.join(dataDir, "postgresql.conf"),
      `\n# relata test server\n${Object.entries(settings)
        .map(([key, value]) => `${key} = ${value}`)
        .join("\n")}\n`,
    )
    const port = await startOnFreePort(binDir, runAs, dataDir, logFile)
    const majorVersion = Number(fs.readFileSync(path.join(dataDir, "PG_VERSION"), "utf8").trim())
    const database = "relata"
    const user = "relata"
    const admin = new pg.Client({ host: root, port, user: "postgres", database: "postgres" })
    await admin.connect()
    try {
      await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`)
      await admin.query(`CREATE DATABASE ${database} OWNER ${user}`)
    } finally {
      await admin.end()
    }
    let stopped: Promise<void> | undefined
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        try {
          await run(binDir, "pg_ctl", runAs, ["-D", dataDir, "-m", "fast", "-w", "-t", "30", "stop"])
        } catch {
          cleanup()
        }
        fs.rmSync(root, { recursive: true, force: true })
        process.off("exit", cleanup)
      })()
      return stopped
    }
    const host = "127.0.0.1"
    return {
      host,
      port,
      database,
      user,
      password,
      connectionString: `postgresql://${user}:${password}@${host}:${port}/${database}`,
      adminConnectionString: `postgresql://postgres:${adminPassword}@${host}:${port}/${database}`,
      majorVersion,
      directory: root,
      stop,
    }
  } catch (error) {
    cleanup()
    process.off("exit", cleanup)
    throw error
  }
}

/** A schema name no other test uses: `prefix_` and random letters. */
export const uniqueSchemaName = (prefix = "test"): string =>
  `${prefix}_${crypto.randomBytes(6).toString("hex")}`

// ---------------------------------------------------------------------------------------------

const folderPrefix = "relata-pg-"
const ownerFile = "owner.pid"

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * A test process killed before its exit handler ran (SIGKILL, a crashed worker) leaves its server
 * running and its folder behind. Stop and delete those whose owning process is gone.
 */
const sweepAbandonedServers = (binDir: string, runAs: RunAs | undefined): void => {
  for (const name of safeReaddir(os.tmpdir())) {
    if (!name.startsWith(folderPrefix)) continue
    const root = path.join(os.tmpdir(), name)
    let owner: number
    try {
      owner = Number(fs.readFileSync(path.join(root, ownerFile), "utf8"))
    } catch {
      continue // not ours, or still being created
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue
    try {
      execFileSync(
        path.join(binDir, "pg_ctl"),
        ["-D", path.join(root, "data"), "-m", "immediate", "-w", "stop"],
        {
          stdio: "ignore",
          ...(runAs ?? {}),
        },
      )
    } catch {
      // Already stopped.
    }
    fs.rmSync(root, { recursive: true, force: true })
  }
}

interface RunAs {
  readonly uid: number
  readonly gid: number
}

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

const safeReaddir = (dir: string): Array<string> => {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

/** When running as root: the user the server runs as (`postgres` if it exists, else `nobody`). */
const unprivilegedUser = (): RunAs | undefined => {
  if (process.getuid?.() !== 0) return undefined
  const users = new Map<string, RunAs>()
  for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [name, , uid, gid] = line.split(":")
    if (name !== undefined && uid !== undefined && gid !== undefined) {
      users.set(name, { uid: Number(uid), gid: Number(gid) })
    }
  }
  const user = users.get("postgres") ?? users.get("nobody")
  if (user === undefined) {
    throw new Error(
      "Running as root, but neither a `postgres` nor a `nobody` user exists to run PostgreSQL as.",
    )
  }
  return user
}

const run = (binDir: string, program: string, runAs: RunAs | undefined, args: ReadonlyArray<string>) =>
  new Promise<void>((resolve, reject) => {
    const child: ChildProcess = spawn(path.join(binDir, program), args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
      // The server must not inherit the test runner's working folder, which `postgres` may not read.
      cwd: os.tmpdir(),
      ...(runAs ?? {}),
    })
    let output = ""
    child.stdout?.on("data", (chunk) => {
      output += chunk
    })
    child.stderr?.on("data", (chunk) => {
      output += chunk
    })
    child.on("error", reject)
    child.on("exit", (code) => {
      if (code === 0) resolve()
      else reject(new Error(`${program} exited with code ${code}:\n${output.trim()}`))
    })
  })

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port)
        else reject(new Error("could not find a free port"))
      })
    })
  })

/** Another process may take the port between probing and binding; try a few ports. */
const startOnFreePort = async (
  binDir: string,
  runAs: RunAs | undefined,
  dataDir: string,
  logFile: string,
): Promise<number> => {
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    try {
      await run(binDir, "pg_ctl", runAs, [
        "-D",
        dataDir,
        "-l",
        logFile,
        "-w",
        "-t",
        "60",
        "-o",
        `-p ${port}`,
        "start",
      ])
      return port
    } catch (error) {
      const log = fs.existsSync(logFile)
        ? fs.readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n")
        : ""
      lastError = new Error(`${error instanceof Error ? error.message : String(error)}\nserver log:\n${log}`)
    }
  }
  throw lastError
}
