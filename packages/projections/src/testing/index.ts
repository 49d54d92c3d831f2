export * from "./ProjectorProcess.ts"
export * from "./ProjectorWatch.ts"
export * from "./ReadModelStoreContract.ts"
export * from "./SearchFixture.ts"
