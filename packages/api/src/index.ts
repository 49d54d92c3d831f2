/**
 * @relata/api: Relata's HTTP API (fastify) and the `relata` CLI.
 *
 *   const app = await buildApp({ runtime, tokens })   // a fastify instance that does not listen
 *   const server = await startServer(loadApiConfig()) // config -> stores -> listen; server.close()
 */
export * from "./ApiCommandHandler.ts"
export * from "./ApiConfig.ts"
export * from "./ApiError.ts"
export * from "./ApiLayer.ts"
export * from "./Auth.ts"
export * from "./app.ts"
export * from "./CommandRoutes.ts"
export * from "./Demo.ts"
export * from "./DevTokens.ts"
export * from "./HeapLimits.ts"
export * from "./HttpSchemas.ts"
export * from "./Masking.ts"
export * from "./Metrics.ts"
export * from "./Problem.ts"
export * from "./ProjectionProgress.ts"
export * from "./Stores.ts"
export * from "./StoreUrl.ts"
export * from "./server.ts"
export * from "./WorkerReport.ts"
