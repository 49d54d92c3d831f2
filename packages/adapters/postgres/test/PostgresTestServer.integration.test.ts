/**
 * The throwaway-server harness other packages reuse: what it starts, how it is locked down, that it
 * cleans up after itself, and what happens on a machine without PostgreSQL.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import {
  describeWithPostgres,
  findPostgresBinaries,
  postgresUnavailableReason,
  startPostgresTestServer,
} from "@relata/adapter-postgres/testing"
import pg from "pg"
import { describe, expect, it } from "vitest"

const here = path.dirname(fileURLToPath(import.meta.url))

describeWithPostgres("PostgresTestServer", (server) => {
  it("serves a database owned by an ordinary role over loopback TCP only, with password auth and no fsync", async () => {
    const { connectionString, host, user, database } = server()
    expect(host).toBe("127.0.0.1")
    const client = new pg.Client({ connectionString })
    await client.connect()
    try {
      const setting = async (name: string) => (await client.query(`SHOW ${name}`)).rows[0]?.[name]
      expect(await setting("listen_addresses")).toBe("127.0.0.1")
      expect(await setting("fsync")).toBe("off")
      const role = await client.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
      expect(role.rows).toEqual([{ rolsuper: false }])
      expect((await client.query("SELECT current_database() AS db, current_user AS u")).rows).toEqual([
        { db: database, u: user },
      ])
    } finally {
      await client.end()
    }
    const admin = new pg.Client({ connectionString: server().adminConnectionString })
    await admin.connect()
    try {
      const sockets = await admin.query("SHOW unix_socket_directories")
      expect(sockets.rows[0]?.unix_socket_directories).toBe(server().directory)
    } finally {
      await admin.end()
    }
    const wrong = new pg.Client({
      connectionString: connectionString.replace(`${server().password}@`, "nope@"),
    })
    await expect(wrong.connect()).rejects.toMatchObject({ code: "28P01" })
  })

  it("stop shuts the server down and deletes its folder, and may be called twice", async () => {
    const own = await startPostgresTestServer()
    expect(existsSync(own.directory)).toBe(true)
    await own.stop()
    await own.stop()
    expect(existsSync(own.directory)).toBe(false)
    const client = new pg.Client({ connectionString: own.connectionString, connectionTimeoutMillis: 2_000 })
    await expect(client.connect()).rejects.toMatchObject({ code: "ECONNREFUSED" })
  })
})

describe("describeWithPostgres without PostgreSQL binaries", () => {
  const hidden = { RELATA_POSTGRES_BIN: path.join(here, "no-such-folder") }

  it("finds no binaries when RELATA_POSTGRES_BIN points nowhere, and says how to install them", () => {
    expect(findPostgresBinaries({ ...process.env, ...hidden })).toBeUndefined()
    expect(postgresUnavailableReason({ ...process.env, ...hidden })).toContain("apt-get install postgresql")
  })

  const runFixture = (ci: string) =>
    spawnSync(
      process.execPath,
      [
        path.resolve(here, "../../../../node_modules/vitest/vitest.mjs"),
        "run",
        "--root",
        path.join(here, "fixtures"),
      ],
      {
        encoding: "utf8",
        env: { ...process.env, ...hidden, CI: ci, NO_COLOR: "1", FORCE_COLOR: "0" },
        timeout: 60_000,
      },
    )

  it("fails the suite with a clear message when CI=true", () => {
    const run = runFixture("true")
    expect(run.status).not.toBe(0)
    expect(run.stdout + run.stderr).toContain("CI=true and the PostgreSQL tests cannot run")
  }, 60_000)

  it("skips the suite with a loud warning elsewhere", () => {
    const run = runFixture("")
    expect(run.status).toBe(0)
    expect(run.stdout + run.stderr).toContain('SKIPPED "a suite that needs PostgreSQL"')
    expect(run.stdout + run.stderr).toMatch(/1 skipped/)
  }, 60_000)
})
