/**
 * From a connection string to a client that has answered. Creating a KurrentDB client connects to
 * nothing, so start-up asks the server twice, within `connectTimeoutMs`: a subscription to `$all`
 * must be confirmed (the gRPC channel that appends and subscriptions use, which also checks the
 * credentials may read `$all`), and the newest event must be readable (the native bridge that
 * reads use). Every failure becomes a `KurrentDbStoreOpenError` naming the hosts, never the password.
 */
import { BACKWARDS, END, excludeSystemEvents, KurrentDBClient } from "@kurrent/kurrentdb-client"
import { Effect } from "effect"
import { KurrentDbStoreOpenError } from "../KurrentDbStoreOpenError.ts"
import { type ConnectionTarget, parseConnectionString, scrub } from "./connectionString.ts"
import { classify, messageOf } from "./errors.ts"

/** The start-up check did not finish in time. */
export class NoAnswer extends Error {
  readonly timeoutMs: number
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`)
    this.timeoutMs = timeoutMs
  }
}

const describeHosts = (target: Pick<ConnectionTarget, "hosts">): string =>
  target.hosts.length === 0 ? "unknown" : target.hosts.join(",")

/** The start-up error for a failure of the check, with a reason that says what to look at. */
export const openFailure = (target: ConnectionTarget, error: unknown): KurrentDbStoreOpenError => {
  const hosts = describeHosts(target)
  const fail = (reason: string, retryable: boolean) =>
    new KurrentDbStoreOpenError({
      hosts,
      connection: target.redacted,
      reason: scrub(reason, target.secrets),
      retryable,
      cause: error,
    })
  if (error instanceof NoAnswer) {
    const tlsHint = target.tls
      ? "; if the server runs without TLS (--insecure), add tls=false to the connection string"
      : ""
    return fail(`no answer from ${hosts} within ${error.timeoutMs} ms${tlsHint}`, true)
  }
  const failure = classify(error)
  const message = messageOf(error)
  switch (failure._tag) {
    case "Unavailable": {
      if (/ECONNREFUSED/.test(message)) return fail(`connection refused: nothing listens on ${hosts}`, true)
      if (/ENOTFOUND|EAI_AGAIN|getaddrinfo|Name resolution/i.test(message)) {
        return fail(`the host name of ${hosts} does not resolve (${message})`, true)
      }
      if (target.tls && /SSL|TLS|certificate|handshake|wrong version number/i.test(message)) {
        return fail(
          `the TLS handshake with ${hosts} failed: the server may run without TLS (then add tls=false) or present a certificate this machine does not trust (then add tlsCAFile=<its CA>) (${message})`,
          false,
        )
      }
      const tlsHint = target.tls ? "" : "; if the server uses TLS (its default), remove tls=false"
      return fail(`the server at ${hosts} cannot be reached (${message})${tlsHint}`, true)
    }
    case "Rejected":
      return fail(
        target.user === undefined
          ? `the server refuses access without credentials: add user:password@ to the connection string (${message})`
          : `the server refuses the credentials of user "${target.user}" (${message})`,
        false,
      )
    case "NotLeader":
      return fail(`the node is not the leader (${message})`, true)
    default:
      return fail(message, false)
  }
}

/** Waits until the server confirms a subscription to `$all`, then ends it. */
const confirmSubscription = (client: KurrentDBClient): Promise<void> =>
  new Promise((resolve, reject) => {
    const subscription = client.subscribeToAll({ fromPosition: END, filter: excludeSystemEvents() })
    subscription.on("error", reject)
    subscription.on("end", () => reject(new Error("the server ended the subscription before confirming it")))
    subscription.once("confirmation", () => {
      subscription.unsubscribe().then(resolve, resolve)
    })
  })

/** Reads the newest event of `$all`, if any. */
const readNewest = async (client: KurrentDBClient): Promise<void> => {
  for await (const _ of client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })) break
}

/** The start-up error for a configuration the store cannot use, before any connection is made. */
export const configurationError = (connectionString: string, reason: string): KurrentDbStoreOpenError => {
  const parsed = parseConnectionString(connectionString)
  return new KurrentDbStoreOpenError({
    hosts: describeHosts(parsed.ok ? parsed.target : parsed),
    connection: parsed.ok ? parsed.target.redacted : parsed.redacted,
    reason: parsed.ok ? scrub(reason, parsed.target.secrets) : reason,
    retryable: false,
  })
}

export interface OpenedClient {
  readonly client: KurrentDBClient
  readonly target: ConnectionTarget
}

/** Creates the client and checks that the server answers; disposes the client if it does not. */
export const openClient = (
  connectionString: string,
  connectTimeoutMs: number,
): Effect.Effect<OpenedClient, KurrentDbStoreOpenError> =>
  Effect.gen(function* () {
    const parsed = parseConnectionString(connectionString)
    if (!parsed.ok) {
      return yield* new KurrentDbStoreOpenError({
        hosts: describeHosts(parsed),
        connection: parsed.redacted,
        reason: parsed.problem,
        retryable: false,
      })
    }
    const target = parsed.target
    const client = yield* Effect.try({
      try: () => KurrentDBClient.connectionString(connectionString),
      // The client's parse errors quote the string: keep only a scrubbed message, no cause.
      catch: (error) =>
        new KurrentDbStoreOpenError({
          hosts: describeHosts(target),
          connection: target.redacted,
          reason: scrub(`the client cannot use the connection string: ${messageOf(error)}`, target.secrets),
          retryable: false,
        }),
    })
    yield* Effect.tryPromise({
      try: async () => {
        await confirmSubscription(client)
        await readNewest(client)
      },
      catch: (error) => openFailure(target, error),
    }).pipe(
      Effect.timeoutOrElse({
        duration: connectTimeoutMs,
        orElse: () => Effect.fail(openFailure(target, new NoAnswer(connectTimeoutMs))),
      }),
      Effect.tapError(() => Effect.promise(() => client.dispose().catch(() => undefined))),
    )
    return { client, target }
  })
