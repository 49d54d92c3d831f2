export * from "./ProjectorProcess.ts"
export * from "./ReadModelStoreContract.ts"
