export * from "./CustomerFixtures.ts"
export * from "./DeciderSpecification.ts"
export * from "./EventStoreContract.ts"
export * from "./SnapshotStoreContract.ts"
