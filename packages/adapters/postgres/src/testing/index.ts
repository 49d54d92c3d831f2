/**
 * Test kit for PostgreSQL integration tests, for this package and any other that needs a server:
 * a throwaway server per test file (`describeWithPostgres`, or `startPostgresTestServer` by hand)
 * and a fresh schema per test (`uniqueSchemaName`).
 */
export * from "./describeWithPostgres.ts"
export * from "./PostgresTestServer.ts"
