export * from "./ReadModelStoreContract.ts"
