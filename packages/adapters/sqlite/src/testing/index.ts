/** Test helpers for the SQLite adapter: `@relata/adapter-sqlite/testing`, kept out of the main entry point. */
export { explainQueryPlans } from "./queryPlans.ts"
