export * from "./EventStore.ts"
