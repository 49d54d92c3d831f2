/**
 * What the client throws -> what the store does about it.
 *
 * The client throws its own error classes (WrongExpectedVersionError, NotLeaderError, …), but not
 * always: when no connection can be made, the gRPC calls it does not wrap (appends, which first ask
 * the server for its features) throw the plain gRPC `Error` whose message starts `14 UNAVAILABLE`,
 * while reads through its native bridge throw its UnavailableError. Both mean "try again later".
 */
import {
  AccessDeniedError,
  AppendConsistencyViolationError,
  AppendRecordSizeExceededError,
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  MaxAppendSizeExceededError,
  NoStreamError,
  NotLeaderError,
  StreamDeletedError,
  StreamNotFoundError,
  StreamTombstonedError,
  TimeoutError,
  TransactionMaxSizeExceededError,
  UnavailableError,
  UnsupportedError,
  WrongExpectedVersionError,
} from "@kurrent/kurrentdb-client"
import { StoreUnavailable, type StreamVersion } from "@relata/domain"
import { Predicate } from "effect"
import { currentVersion } from "./streamState.ts"

/** A failure of the client, sorted by what the store does about it. */
export type Failure =
  /** The stream is not at the expected version; nothing was written. */
  | {
      readonly _tag: "WrongExpectedVersion"
      readonly streamName: string
      readonly actual: StreamVersion
      readonly cause: unknown
    }
  /** The node is not the leader; the client reconnects to `leader`, so the call is tried again. */
  | { readonly _tag: "NotLeader"; readonly leader: string | undefined; readonly cause: unknown }
  /** A read of a stream that does not exist: for us, an empty stream. */
  | { readonly _tag: "StreamNotFound"; readonly cause: unknown }
  /** The server cannot be reached, timed out, or is shutting down: trying again can help. */
  | { readonly _tag: "Unavailable"; readonly reason: string; readonly cause: unknown }
  /** The server is too old for the call (e.g. multiStreamAppend before 25.1). */
  | { readonly _tag: "Unsupported"; readonly reason: string; readonly cause: unknown }
  /** The server refuses the call for good: access denied, stream deleted, append too large, … */
  | { readonly _tag: "Rejected"; readonly reason: string; readonly cause: unknown }
  /** Anything else, kept as the cause. */
  | { readonly _tag: "Unknown"; readonly reason: string; readonly cause: unknown }

/** A call on a store that has been closed. */
export class StoreClosed extends Error {
  constructor() {
    super("the store is closed")
  }
}

const grpcUnavailable = 14
const grpcDeadlineExceeded = 4

export const messageOf = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && Predicate.isString(error.message) && error.message !== ""
    ? error.message
    : Predicate.hasProperty(error, "constructor") && Predicate.isFunction(error.constructor)
      ? error.constructor.name
      : String(error)

const codeOf = (error: unknown): unknown => (Predicate.hasProperty(error, "code") ? error.code : undefined)

/** Whether a plain gRPC error says the server could not be reached (or did not answer in time). */
export const isPlainUnavailable = (error: unknown): boolean => {
  const message = messageOf(error)
  return (
    message.startsWith("14 UNAVAILABLE") ||
    message.startsWith("4 DEADLINE_EXCEEDED") ||
    codeOf(error) === grpcUnavailable ||
    codeOf(error) === grpcDeadlineExceeded
  )
}

export const classify = (error: unknown): Failure => {
  if (error instanceof StoreClosed) return { _tag: "Rejected", reason: error.message, cause: error }
  if (error instanceof WrongExpectedVersionError) {
    return {
      _tag: "WrongExpectedVersion",
      streamName: error.streamName,
      actual: currentVersion(error.actualState),
      cause: error,
    }
  }
  if (error instanceof NotLeaderError) {
    const leader = error.leader === undefined ? undefined : `${error.leader.address}:${error.leader.port}`
    return { _tag: "NotLeader", leader, cause: error }
  }
  if (error instanceof StreamNotFoundError || error instanceof NoStreamError) {
    return { _tag: "StreamNotFound", cause: error }
  }
  if (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof TimeoutError ||
    error instanceof CancelledError ||
    isPlainUnavailable(error)
  ) {
    return { _tag: "Unavailable", reason: `the server is unavailable (${messageOf(error)})`, cause: error }
  }
  if (error instanceof UnsupportedError) {
    return { _tag: "Unsupported", reason: messageOf(error), cause: error }
  }
  if (error instanceof AccessDeniedError) {
    return {
      _tag: "Rejected",
      reason: `access denied: the connection string's user may not do this (${messageOf(error)})`,
      cause: error,
    }
  }
  if (error instanceof StreamDeletedError || error instanceof StreamTombstonedError) {
    return { _tag: "Rejected", reason: `the stream was deleted (${messageOf(error)})`, cause: error }
  }
  if (
    error instanceof MaxAppendSizeExceededError ||
    error instanceof AppendRecordSizeExceededError ||
    error instanceof TransactionMaxSizeExceededError
  ) {
    return {
      _tag: "Rejected",
      reason: `the append is too large for the server (${messageOf(error)})`,
      cause: error,
    }
  }
  if (error instanceof InvalidArgumentError || error instanceof AppendConsistencyViolationError) {
    return { _tag: "Rejected", reason: messageOf(error), cause: error }
  }
  return { _tag: "Unknown", reason: messageOf(error), cause: error }
}

/** Whether trying the same call again can help. */
export const isRetryable = (failure: Failure): boolean =>
  failure._tag === "Unavailable" || failure._tag === "NotLeader"

/** The port's error for a failure of `operation`, keeping the client's error as the cause. */
export const toStoreUnavailable = (operation: string, failure: Failure): StoreUnavailable => {
  switch (failure._tag) {
    case "NotLeader":
      return new StoreUnavailable({
        reason: `${operation} failed: the node is not the leader${failure.leader === undefined ? "" : ` (the leader is ${failure.leader})`} and retrying against the leader did not succeed`,
        retryable: true,
        cause: failure.cause,
      })
    case "WrongExpectedVersion":
      return new StoreUnavailable({
        reason: `${operation} failed: unexpected version conflict on ${failure.streamName} (at ${failure.actual})`,
        retryable: true,
        cause: failure.cause,
      })
    case "StreamNotFound":
      return new StoreUnavailable({
        reason: `${operation} failed: the stream does not exist`,
        retryable: false,
        cause: failure.cause,
      })
    case "Unavailable":
      return new StoreUnavailable({
        reason: `${operation} failed: ${failure.reason}`,
        retryable: true,
        cause: failure.cause,
      })
    case "Unsupported":
    case "Rejected":
    case "Unknown":
      return new StoreUnavailable({
        reason: `${operation} failed: ${failure.reason}`,
        retryable: false,
        cause: failure.cause,
      })
  }
}

/** A failure of the store's own making (bad input, a malformed stored event): never retryable. */
export const invalid = (operation: string, reason: string): StoreUnavailable =>
  new StoreUnavailable({ reason: `${operation} failed: ${reason}`, retryable: false })
