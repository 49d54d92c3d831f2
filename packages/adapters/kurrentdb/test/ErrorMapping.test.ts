import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  UnsupportedError,
  WrongExpectedVersionError,
} from "@kurrent/kurrentdb-client"
import { ErrorMapping } from "@relata/adapter-kurrentdb/testing"
import { StoreUnavailable } from "@relata/domain"
import { describe, expect, it } from "vitest"

const { classify, isRetryable, toStoreUnavailable } = ErrorMapping

/** The plain gRPC error appends throw when no connection can be made (not the client's UnavailableError). */
const plainUnavailable = Object.assign(
  new Error(
    "14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2113. Resolution note: ",
  ),
  { code: 14, details: "No connection established", metadata: {} },
)

/** A NotLeaderError as the client builds it from the server's answer. */
const notLeader = new NotLeaderError({
  code: 5,
  details: "Leader info available",
  message: "5 NOT_FOUND: Leader info available",
  metadata: { "leader-endpoint-host": "10.0.0.2", "leader-endpoint-port": "2113" },
} as never)

describe("ErrorMapping", () => {
  it("reads the real version from WrongExpectedVersionError, for appends and multi-stream appends", () => {
    const onAppend = new WrongExpectedVersionError(undefined, {
      streamName: "customer-1",
      expected: 2n,
      current: 4n,
    })
    expect(classify(onAppend)).toMatchObject({
      _tag: "WrongExpectedVersion",
      streamName: "customer-1",
      actual: 5,
    })
    const missing = new WrongExpectedVersionError(undefined, {
      streamName: "customer-1",
      expected: "stream_exists",
      current: "no_stream",
    })
    expect(classify(missing)).toMatchObject({ _tag: "WrongExpectedVersion", actual: 0 })
    const onMultiAppend = WrongExpectedVersionError.fromRevisionConflict({
      stream: "customer-2",
      expectedRevision: "-1",
      actualRevision: "3",
    })
    expect(classify(onMultiAppend)).toMatchObject({
      _tag: "WrongExpectedVersion",
      streamName: "customer-2",
      actual: 4,
    })
  })

  it("treats an unreachable server as retryable, whether the client wraps the error or not", () => {
    for (const error of [
      plainUnavailable,
      new Error("14 UNAVAILABLE: Connection dropped"),
      new UnavailableError(),
      new DeadlineExceededError(),
      new CancelledError(),
    ]) {
      const failure = classify(error)
      expect(failure._tag).toBe("Unavailable")
      expect(isRetryable(failure)).toBe(true)
      const mapped = toStoreUnavailable("append to stream customer-1", failure)
      expect(mapped).toBeInstanceOf(StoreUnavailable)
      expect(mapped.retryable).toBe(true)
      expect(mapped.cause).toBe(error)
    }
    expect(toStoreUnavailable("append", classify(plainUnavailable)).reason).toContain(
      "ECONNREFUSED 127.0.0.1:2113",
    )
  })

  it("retries against the leader a NotLeaderError names, and reports it if that does not help", () => {
    const failure = classify(notLeader)
    expect(failure).toMatchObject({ _tag: "NotLeader", leader: "10.0.0.2:2113" })
    expect(isRetryable(failure)).toBe(true)
    const mapped = toStoreUnavailable("append to stream customer-1", failure)
    expect(mapped.retryable).toBe(true)
    expect(mapped.reason).toContain("the leader is 10.0.0.2:2113")
  })

  it("reads a missing stream as such (the store turns it into an empty read)", () => {
    expect(classify(new StreamNotFoundError(undefined, "customer-1"))._tag).toBe("StreamNotFound")
  })

  it("does not retry what the server refuses for good", () => {
    const cases: ReadonlyArray<[unknown, string]> = [
      [new AccessDeniedError(), "Rejected"],
      [StreamDeletedError.fromStreamName("customer-1"), "Rejected"],
      [new UnsupportedError("multiStreamAppend", "25.1"), "Unsupported"],
    ]
    for (const [error, tag] of cases) {
      const failure = classify(error)
      expect(failure._tag).toBe(tag)
      expect(isRetryable(failure)).toBe(false)
      expect(toStoreUnavailable("op", failure)).toMatchObject({ retryable: false, cause: error })
    }
    expect(
      toStoreUnavailable("op", classify(new UnsupportedError("multiStreamAppend", "25.1"))).reason,
    ).toContain("multiStreamAppend requires server version 25.1 or higher")
  })

  it("keeps anything else as the cause of a typed, non-retryable error", () => {
    const surprise = new TypeError("Cannot read properties of undefined")
    const failure = classify(surprise)
    expect(failure).toMatchObject({
      _tag: "Unknown",
      reason: "Cannot read properties of undefined",
      cause: surprise,
    })
    const mapped = toStoreUnavailable("read stream customer-1", failure)
    expect(mapped).toBeInstanceOf(StoreUnavailable)
    expect(mapped).toMatchObject({ retryable: false, cause: surprise })
    expect(mapped.message).toBe(
      "Event store unavailable: read stream customer-1 failed: Cannot read properties of undefined",
    )
    expect(classify("a string")).toMatchObject({ _tag: "Unknown", reason: "a string" })
  })
})
