/**
 * An app on in-memory stores with one token per role (and a second rep), for inject() tests.
 */

import { type ApiServices, apiLayer, type BuildAppOptions, buildApp, type TokenGrant } from "@relata/api"
import {
  ActorId,
  type ActorRole,
  EventStore,
  InMemoryEventStore,
  InMemorySnapshotStoreLayer,
} from "@relata/domain"
import { InMemoryReadModelStore } from "@relata/projections"
import { Layer, ManagedRuntime, Schema } from "effect"
import type { FastifyInstance, LightMyRequestResponse } from "fastify"

export const tokens = {
  viewer: "viewer-token-0000000001",
  rep: "rep-token-000000000001",
  rep2: "rep-token-000000000002",
  manager: "manager-token-00000001",
  auditor: "auditor-token-00000001",
  admin: "admin-token-0000000001",
} as const

export type TokenName = keyof typeof tokens

export const actors: Record<TokenName, { readonly id: string; readonly role: ActorRole }> = {
  viewer: { id: "viewer-1", role: "viewer" },
  rep: { id: "rep-1", role: "rep" },
  rep2: { id: "rep-2", role: "rep" },
  manager: { id: "manager-1", role: "manager" },
  auditor: { id: "auditor-1", role: "auditor" },
  admin: { id: "admin-1", role: "admin" },
}

export const grants: ReadonlyArray<TokenGrant> = (Object.keys(tokens) as Array<TokenName>).map((name) => ({
  token: tokens[name],
  actorId: ActorId.make(actors[name].id),
  role: actors[name].role,
  ...(name === "manager" ? { reps: [ActorId.make("rep-1")] } : {}),
}))

export interface TestApp {
  readonly app: FastifyInstance
  readonly runtime: ManagedRuntime.ManagedRuntime<ApiServices, unknown>
  /** Every event in the store, in global order. */
  readonly eventCount: () => Promise<number>
  readonly close: () => Promise<void>
}

/** An app over fresh in-memory stores (or the given event store). */
export const makeTestApp = async (
  options: Partial<BuildAppOptions> & { readonly eventStore?: Layer.Layer<EventStore> } = {},
): Promise<TestApp> => {
  const { eventStore, ...appOptions } = options
  const layer = apiLayer({
    eventStore: Layer.merge(eventStore ?? InMemoryEventStore.layer, InMemorySnapshotStoreLayer),
    readModels: InMemoryReadModelStore.layer,
  }) as Layer.Layer<ApiServices, unknown>
  const runtime = ManagedRuntime.make(layer)
  await runtime.context()
  const app = await buildApp({
    runtime,
    tokens: grants,
    rateLimit: { max: 0, windowMs: 1000 },
    ...appOptions,
  })
  return {
    app,
    runtime,
    eventCount: async () => Number(await runtime.runPromise(EventStore.use((store) => store.headPosition))),
    close: async () => {
      await app.close()
      await runtime.dispose()
    },
  }
}

/** The Authorization header of a named token. */
export const auth = (name: TokenName) => ({ authorization: `Bearer ${tokens[name]}` })

/** The JSON body of a response. */
export const json = <A = Record<string, unknown>>(response: LightMyRequestResponse): A => response.json() as A

/** A registration body. */
export const lead = (name: string, extra: Record<string, unknown> = {}) => ({
  profile: { name, email: `${name.toLowerCase().replaceAll(" ", ".")}@example.com` },
  source: "trade fair",
  ...extra,
})

/** Fails the test unless `value` is exactly what `schema` documents (no undocumented fields). */
export const conforms = <S extends Schema.Top>(schema: S, value: unknown): S["Type"] =>
  Schema.decodeUnknownSync(schema as never, { onExcessProperty: "error", errors: "all" })(value) as S["Type"]
