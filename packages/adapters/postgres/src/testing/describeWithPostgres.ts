/**
 * vitest wiring for the throwaway server: one server per test file, started before its tests and
 * stopped (folder deleted) after them, failed or not.
 *
 * Without PostgreSQL binaries the tests cannot run. On CI (`CI=true`) that is a failure with a
 * clear message; on a developer's machine the tests are skipped with a loud warning.
 */
import { afterAll, beforeAll, describe, it } from "vitest"
import {
  type PostgresTestServer,
  type PostgresTestServerOptions,
  postgresUnavailableReason,
  startPostgresTestServer,
} from "./PostgresTestServer.ts"

/**
 * Registers a `describe` whose tests share one throwaway server. `body` receives a getter for the
 * server (valid inside tests and hooks, not while registering them).
 *
 *   describeWithPostgres("PostgresEventStore", (server) => {
 *     it("appends", async () => { const { connectionString } = server(); ... })
 *   })
 */
export const describeWithPostgres = (
  name: string,
  body: (server: () => PostgresTestServer) => void,
  options: PostgresTestServerOptions = {},
): void => {
  const reason = postgresUnavailableReason()
  if (reason !== undefined) {
    if (process.env.CI === "true") {
      describe(name, () => {
        it("needs a PostgreSQL server to test against", () => {
          throw new Error(`CI=true and the PostgreSQL tests cannot run: ${reason}`)
        })
      })
      return
    }
    const line = "!".repeat(100)
    console.warn(`\n${line}\n!! SKIPPED "${name}": ${reason}\n${line}\n`)
    describe.skip(name, () =>
      body(() => {
        throw new Error(reason)
      }),
    )
    return
  }
  describe(name, () => {
    let server: PostgresTestServer | undefined
    beforeAll(async () => {
      server = await startPostgresTestServer(options)
    }, 120_000)
    afterAll(async () => {
      await server?.stop()
    }, 60_000)
    body(() => {
      if (server === undefined) throw new Error("the PostgreSQL test server is not running (yet)")
      return server
    })
  })
}
