import { PostgresReadModelStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import { readModelStoreContract } from "@relata/projections/testing"

describeWithPostgres("PostgresReadModelStore contract", (server) => {
  readModelStoreContract("PostgresReadModelStore", () =>
    PostgresReadModelStore.make({
      connectionString: server().connectionString,
      schema: uniqueSchemaName("read_model_contract"),
      poolSize: 2,
    }),
  )
})
