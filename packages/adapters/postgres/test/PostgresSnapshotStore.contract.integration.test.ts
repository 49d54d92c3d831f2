import { PostgresSnapshotStore } from "@relata/adapter-postgres"
import { describeWithPostgres, uniqueSchemaName } from "@relata/adapter-postgres/testing"
import { snapshotStoreContract } from "@relata/domain/testing"

describeWithPostgres("PostgresSnapshotStore contract", (server) => {
  snapshotStoreContract("PostgresSnapshotStore", () =>
    PostgresSnapshotStore.make({
      connectionString: server().connectionString,
      schema: uniqueSchemaName("snapshot_contract"),
    }),
  )
})
