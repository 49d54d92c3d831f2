import { PostgresEventStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import { eventStoreContract } from "@relata/domain/testing"
import { Effect } from "effect"
import pg from "pg"

describeWithPostgres("PostgresEventStore contract", (server) => {
  eventStoreContract("PostgresEventStore", () =>
    Effect.gen(function* () {
      const schema = uniqueSchemaName("contract")
      const store = yield* PostgresEventStore.make({ connectionString: server().connectionString, schema })
      return {
        store,
        // Changes a row behind the store's back, as someone with access to the database could.
        tamper: (target, replacement) =>
          Effect.promise(async () => {
            const client = new pg.Client({ connectionString: server().connectionString })
            await client.connect()
            try {
              const result = await client.query(
                `UPDATE "${schema}".events
                    SET type = coalesce($3, type), data = coalesce($4::json, data), metadata = coalesce($5::json, metadata)
                  WHERE stream_id = $1 AND version = $2`,
                [
                  target.streamId,
                  target.version,
                  replacement.type ?? null,
                  replacement.data === undefined ? null : JSON.stringify(replacement.data),
                  replacement.metadata === undefined ? null : JSON.stringify(replacement.metadata),
                ],
              )
              if (result.rowCount !== 1) throw new Error(`no event ${target.streamId}@${target.version}`)
            } finally {
              await client.end()
            }
          }),
      }
    }),
  )
})
