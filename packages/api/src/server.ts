/**
 * The server: configuration -> adapter layers -> the app -> listen, and a graceful close: stop
 * accepting connections, let in-flight requests (commands) finish, then stop the projections (when
 * they run here rather than in a worker) and close the stores. The CLI's `serve` calls `startServer`
 * and wires signals to `close`.
 */
import { dirname, join } from "node:path"
import { type Layer, ManagedRuntime } from "effect"
import type { FastifyInstance } from "fastify"
import type { ApiConfig } from "./ApiConfig.ts"
import { type ApiServices, apiLayer } from "./ApiLayer.ts"
import type { TokenGrant } from "./Auth.ts"
import { buildApp } from "./app.ts"
import { loadOrCreateDevTokens } from "./DevTokens.ts"
import { eventStoreLayer, readModelStoreLayer, readModelsUrl } from "./Stores.ts"
import { parseStoreUrl } from "./StoreUrl.ts"

/** A listening server. */
export interface RunningServer {
  readonly app: FastifyInstance
  /** `http://host:port`, with the port the system picked when the configuration said 0. */
  readonly url: string
  readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
  /** Where the tokens came from, and whether they were made at this start. */
  readonly tokens: TokenSource
  /** Stops accepting, finishes in-flight requests, stops the projections, closes the stores. Idempotent. */
  readonly close: () => Promise<void>
}

export type TokenSource =
  | { readonly kind: "configured"; readonly grants: ReadonlyArray<TokenGrant> }
  | {
      readonly kind: "generated"
      readonly grants: ReadonlyArray<TokenGrant>
      readonly file: string
      readonly created: boolean
    }

/** The folder that holds the embedded store's file (./data for the other stores). */
export const dataDirectory = (config: ApiConfig): string => {
  const location = parseStoreUrl(config.eventStore)
  return location.kind === "sqlite" ? dirname(location.path) : "data"
}

/** The configured tokens, or one per role made once and kept beside the data. */
export const resolveTokens = (config: ApiConfig): TokenSource => {
  if (config.tokens !== undefined) return { kind: "configured", grants: config.tokens }
  const file = join(dataDirectory(config), "tokens.json")
  const { grants, created } = loadOrCreateDevTokens(file)
  return { kind: "generated", grants, file, created }
}

/** The runtime over the configured stores; its layer opens them when first used. */
export const makeRuntime = (config: ApiConfig): ManagedRuntime.ManagedRuntime<ApiServices, unknown> =>
  ManagedRuntime.make(
    apiLayer({
      eventStore: eventStoreLayer(config.eventStore),
      readModels: readModelStoreLayer(readModelsUrl(config.readModels, config.eventStore)),
      projections: config.projections,
      polling: { workerStaleAfterMs: config.workerStaleAfterMs },
    }) as Layer.Layer<ApiServices, unknown>,
  )

const withTimeout = async (promise: Promise<void>, ms: number): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([promise.then(() => true), timedOut])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Opens the stores, starts the projections (in-process mode), builds the app and listens. Fails (rejects) when a
 * store cannot be opened, with the store's error naming what is wrong.
 */
export const startServer = async (
  config: ApiConfig,
  options: { readonly runtime?: ManagedRuntime.ManagedRuntime<ApiServices, unknown> } = {},
): Promise<RunningServer> => {
  const runtime = options.runtime ?? makeRuntime(config)
  try {
    // Build the layer now: a store that cannot be opened stops the start, not the first request.
    await runtime.context()
  } catch (error) {
    await runtime.dispose()
    throw error
  }
  const tokens = resolveTokens(config)
  const app = await buildApp({
    runtime,
    tokens: tokens.grants,
    corsOrigins: config.corsOrigins,
    rateLimit: config.rateLimit,
    bodyLimitBytes: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    logger: config.logLevel === "silent" ? false : { level: config.logLevel },
  })
  try {
    await app.listen({ host: config.host, port: config.port })
  } catch (error) {
    await app.close()
    await runtime.dispose()
    throw error
  }
  const address = app.server.address()
  const port = typeof address === "object" && address !== null ? address.port : config.port
  const host = config.host.includes(":") ? `[${config.host}]` : config.host

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      // A keep-alive connection whose request finishes during the close turns idle afterwards;
      // close those as they appear instead of waiting for the client to hang up.
      const sweeper = setInterval(() => app.server.closeIdleConnections(), 50)
      const finished = await withTimeout(app.close(), config.shutdownTimeoutMs).finally(() =>
        clearInterval(sweeper),
      )
      if (!finished) {
        app.log.warn({ timeoutMs: config.shutdownTimeoutMs }, "in-flight requests did not finish in time")
        app.server.closeAllConnections()
      }
      await runtime.dispose()
    })()
    return closing
  }
  return { app, url: `http://${host}:${port}`, runtime, tokens, close }
}
