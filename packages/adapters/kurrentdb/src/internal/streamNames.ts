/**
 * Our stream ids <-> the server's stream names. Without a namespace they are the same. With one,
 * every stream of the store is `<namespace>:<streamId>` on the server, and reads and subscriptions
 * see only those: several stores (tenants, test runs) can share one server without seeing each
 * other's events. The separator cannot occur in a namespace, so no namespace is a prefix of another.
 */

export const namespaceSeparator = ":"

const namespacePattern = /^[A-Za-z0-9_.-]{1,100}$/

export interface StreamNames {
  readonly namespace: string | undefined
  /** What every server stream name of this store starts with: "" or `<namespace>:`. */
  readonly prefix: string
  readonly toServer: (streamId: string) => string
  /** The stream id of a server stream name, or undefined when the name is outside the namespace. */
  readonly fromServer: (streamName: string) => string | undefined
}

/** Why a namespace cannot be used, if it cannot. */
export const namespaceProblem = (namespace: string): string | undefined =>
  namespacePattern.test(namespace)
    ? undefined
    : `namespace "${namespace}" must be 1 to 100 letters, digits, "_", "-" or "."`

/** Why a stream id cannot be written, if it cannot. */
export const streamIdProblem = (streamId: string): string | undefined => {
  if (streamId.length === 0) return "the stream id is empty"
  // `$` streams are the server's own (`$all`, `$settings`, `$$<stream>` metadata, projections' `$ce-…`).
  if (streamId.startsWith("$"))
    return `stream id "${streamId}" starts with "$", which KurrentDB reserves for system streams`
  return undefined
}

export const streamNames = (namespace: string | undefined): StreamNames => {
  if (namespace === undefined) {
    return { namespace, prefix: "", toServer: (streamId) => streamId, fromServer: (streamName) => streamName }
  }
  const prefix = `${namespace}${namespaceSeparator}`
  return {
    namespace,
    prefix,
    toServer: (streamId) => `${prefix}${streamId}`,
    fromServer: (streamName) => (streamName.startsWith(prefix) ? streamName.slice(prefix.length) : undefined),
  }
}
