/**
 * Stream versions and expected versions <-> KurrentDB stream revisions and stream states.
 *
 * Our version is a 1-based count (the first event has version 1, an empty stream 0); KurrentDB's
 * revision is the 0-based number of the last event. So version n <-> revision n-1, and version 0
 * is "no stream" (the server has no revision for it).
 */
import {
  ANY,
  type AppendStreamState,
  type CurrentStreamState,
  NO_STREAM,
  STREAM_EXISTS,
} from "@kurrent/kurrentdb-client"
import { ExpectedVersion, type StreamVersion } from "@relata/domain"

const maxRevision = BigInt(Number.MAX_SAFE_INTEGER) - 1n

/** The revision of the event with version `version` (>= 1). */
export const versionToRevision = (version: StreamVersion): bigint => {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new RangeError(`version ${version} has no revision: versions of events start at 1`)
  }
  return BigInt(version) - 1n
}

/** The version of the event with revision `revision` (>= 0n). */
export const revisionToVersion = (revision: bigint): StreamVersion => {
  if (revision < 0n || revision > maxRevision) {
    throw new RangeError(`revision ${revision} is outside the versions a JavaScript number holds exactly`)
  }
  return Number(revision) + 1
}

/** Whether an expectation can be sent at all: an exact version must be a whole number >= 0. */
export const isValidExpectedVersion = (expected: ExpectedVersion): boolean =>
  expected._tag !== "Exact" || (Number.isSafeInteger(expected.version) && expected.version >= 0)

/**
 * The `streamState` option of `appendToStream` for an expectation. Exact(0) means "the stream has
 * no events", which KurrentDB says as NO_STREAM (it has no revision -1 to compare with).
 */
export const toStreamState = (expected: ExpectedVersion): AppendStreamState => {
  switch (expected._tag) {
    case "NoStream":
      return NO_STREAM
    case "StreamExists":
      return STREAM_EXISTS
    case "Any":
      return ANY
    case "Exact":
      return expected.version === 0 ? NO_STREAM : versionToRevision(expected.version)
  }
}

/** The expectation a stream state stands for: the inverse of `toStreamState` (NO_STREAM reads as NoStream). */
export const fromStreamState = (state: AppendStreamState): ExpectedVersion => {
  switch (state) {
    case NO_STREAM:
      return ExpectedVersion.noStream
    case STREAM_EXISTS:
      return ExpectedVersion.streamExists
    case ANY:
      return ExpectedVersion.any
    default:
      return ExpectedVersion.exact(revisionToVersion(state))
  }
}

/**
 * The version a stream is at, from the current state a WrongExpectedVersionError or a consistency
 * violation reports: NO_STREAM is 0; so are the negative markers the server uses for deleted (-5)
 * and tombstoned (-6) streams, which hold no readable events.
 */
export const currentVersion = (state: CurrentStreamState): StreamVersion =>
  state === NO_STREAM || state < 0n ? 0 : revisionToVersion(state)

/** Whether a stream at version `actual` meets the expectation; decides an append of no events locally. */
export const isMet = (expected: ExpectedVersion, actual: StreamVersion): boolean => {
  switch (expected._tag) {
    case "NoStream":
      return actual === 0
    case "StreamExists":
      return actual > 0
    case "Any":
      return true
    case "Exact":
      return actual === expected.version
  }
}
