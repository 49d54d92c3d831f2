export * from "./ProjectorProcess.ts"
export * from "./ReadModelStoreContract.ts"
export * from "./SearchFixture.ts"
