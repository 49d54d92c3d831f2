/**
 * How `appendMany` writes several streams: atomically through `multiStreamAppend` where the server
 * has it (KurrentDB 25.1+), else one append after another. A pure decision, so every branch is
 * tested without a server.
 */
import type { EventToAppend, ExpectedVersion } from "@relata/domain"

/** Events for one stream of an `appendMany`, with what the writer expects of that stream. */
export interface StreamAppend {
  readonly streamId: string
  readonly events: ReadonlyArray<EventToAppend>
  readonly expected: ExpectedVersion
}

/**
 * Whether the server takes `multiStreamAppend`: unknown until the first multi-stream append asks it
 * (the client learns it from the server's feature list and throws UnsupportedError before sending
 * anything when it is missing), or switched off by configuration.
 */
export type MultiStreamAppendCapability = "untested" | "supported" | "unsupported" | "disabled"

/**
 * `required`: all or nothing, or fail without writing. `preferred` (the default): atomic where the
 * server can, else stream by stream in order (a failure leaves the streams before it written).
 */
export type Atomicity = "required" | "preferred"

export type AppendManyPlan =
  | { readonly _tag: "Nothing" }
  | { readonly _tag: "Single"; readonly request: StreamAppend }
  | { readonly _tag: "Atomic" }
  | { readonly _tag: "Sequential"; readonly why: string }
  | { readonly _tag: "Refused"; readonly why: string }

export const planAppendMany = (
  requests: ReadonlyArray<StreamAppend>,
  capability: MultiStreamAppendCapability,
  atomicity: Atomicity,
): AppendManyPlan => {
  const seen = new Set<string>()
  for (const request of requests) {
    if (seen.has(request.streamId)) {
      return {
        _tag: "Refused",
        why: `stream ${request.streamId} appears twice; give each stream one request`,
      }
    }
    seen.add(request.streamId)
  }
  const [first] = requests
  if (first === undefined) return { _tag: "Nothing" }
  if (requests.length === 1) return { _tag: "Single", request: first }
  const fallback = (why: string): AppendManyPlan =>
    atomicity === "required" ? { _tag: "Refused", why } : { _tag: "Sequential", why }
  if (requests.some((request) => request.events.length === 0)) {
    return fallback("multiStreamAppend needs at least one event per stream")
  }
  switch (capability) {
    case "disabled":
      return fallback("multiStreamAppend is switched off in the store's configuration")
    case "unsupported":
      return fallback("the server does not support multiStreamAppend (KurrentDB 25.1 or newer does)")
    case "untested":
    case "supported":
      return { _tag: "Atomic" }
  }
}
