/**
 * A fake KurrentDB behind the client's interface, for running the adapter without a server. It
 * follows what the client and server do as read from the client's source and the server's
 * documented behaviour, erring on the hard side where that is unsure:
 * - errors are the client's own classes (WrongExpectedVersionError, StreamNotFoundError, …);
 * - positions are sparse byte offsets with commit = prepare, far above 2^53 if asked;
 * - `readAll` includes the event at its start position; `subscribeToAll` starts after it;
 * - reading a stream backwards from past its end returns nothing;
 * - the log holds system events (`$`-streams and `$`-types) unless told not to;
 * - data and metadata go through JSON text, as on the wire;
 * - `multiStreamAppend` takes string metadata only and adds `$schema.*` properties on read.
 * It is not the proof: the contract run against a real server is.
 */
import { randomUUID } from "node:crypto"
import { PassThrough } from "node:stream"
import {
  type AllStreamResolvedEvent,
  type AppendResult,
  type AppendStreamRequest,
  type AppendToStreamOptions,
  type EventData,
  type Filter,
  type MultiAppendResult,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ResolvedEvent,
  StreamNotFoundError,
  type SubscribeToAllOptions,
  UnsupportedError,
  WrongExpectedVersionError,
} from "@kurrent/kurrentdb-client"
import type { KurrentDbClient } from "@relata/adapter-kurrentdb"

interface StoredEvent {
  readonly streamName: string
  readonly id: string
  readonly revision: bigint
  type: string
  data: string
  metadata: string | undefined
  readonly position: bigint
}

type Operation = "appendToStream" | "readStream" | "readAll" | "subscribeToAll" | "multiStreamAppend"

export interface FakeKurrentDbOptions {
  /** Write a few system events into the log (default true). */
  readonly systemEvents?: boolean
  /** Whether the server has multiStreamAppend (KurrentDB 25.1+); default true. */
  readonly multiStreamAppend?: boolean
  /** The first position handed out; default 1,000. */
  readonly firstPosition?: bigint
  /** As the client's `throwOnAppendFailure`: false resolves a conflict as `{ success: false }`. */
  readonly throwOnAppendFailure?: boolean
}

interface LiveSubscription {
  readonly stream: PassThrough
  readonly filter: Filter | undefined
  after: bigint
}

const matchesFilter = (filter: Filter | undefined, event: StoredEvent): boolean => {
  if (filter === undefined) return true
  const subject = filter.filterOn === "streamName" ? event.streamName : event.type
  return "regex" in filter
    ? new RegExp(filter.regex).test(subject)
    : filter.prefixes.some((prefix) => subject.startsWith(prefix))
}

const parseMetadata = (metadata: string | undefined): unknown =>
  metadata === undefined || metadata === "" ? undefined : JSON.parse(metadata)

export class FakeKurrentDb {
  readonly log: Array<StoredEvent> = []
  readonly streams = new Map<string, Array<StoredEvent>>()
  readonly calls: Array<{ readonly operation: Operation; readonly options: unknown }> = []
  private readonly live = new Set<LiveSubscription>()
  private readonly failures = new Map<Operation, Array<unknown>>()
  private nextPosition: bigint
  private readonly multiStream: boolean
  private readonly throwOnAppendFailure: boolean
  disposed = false

  constructor(options: FakeKurrentDbOptions = {}) {
    this.nextPosition = options.firstPosition ?? 1_000n
    this.multiStream = options.multiStreamAppend ?? true
    this.throwOnAppendFailure = options.throwOnAppendFailure ?? true
    if (options.systemEvents ?? true) {
      this.writeSystemEvent("$settings", "$settings")
      this.writeSystemEvent("$$$all", "$metadata")
    }
  }

  /** The client interface the adapter uses. */
  get client(): KurrentDbClient {
    // The fake implements the calls the adapter makes, with the client's parameter and result types.
    return this as unknown as KurrentDbClient
  }

  /** Makes the next call(s) of `operation` throw these errors, in order. */
  failNext(operation: Operation, ...errors: Array<unknown>): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), ...errors])
  }

  /** Breaks every live subscription with an error, or ends it when no error is given. */
  breakSubscriptions(error?: unknown): void {
    for (const subscription of this.live) {
      if (error === undefined) subscription.stream.end()
      else subscription.stream.emit("error", error)
    }
    this.live.clear()
  }

  get liveSubscriptions(): number {
    return this.live.size
  }

  /** Writes an event the way the server's own subsystems do. */
  writeSystemEvent(streamName: string, type: string): void {
    this.write(streamName, [{ id: randomUUID(), type, data: "{}", metadata: undefined }])
  }

  /** Changes a stored event behind the store's back. */
  tamper(
    streamName: string,
    revision: bigint,
    change: { type?: string; data?: unknown; metadata?: unknown },
  ): void {
    const event = this.streams.get(streamName)?.[Number(revision)]
    if (event === undefined) throw new Error(`no event ${streamName}@${revision}`)
    if (change.type !== undefined) event.type = change.type
    if (change.data !== undefined) event.data = JSON.stringify(change.data)
    if (change.metadata !== undefined) event.metadata = JSON.stringify(change.metadata)
  }

  private takeFailure(operation: Operation, options: unknown): void {
    this.calls.push({ operation, options })
    const queued = this.failures.get(operation)
    if (queued !== undefined && queued.length > 0) throw queued.shift()
  }

  private revisionOf(streamName: string): bigint {
    return BigInt((this.streams.get(streamName)?.length ?? 0) - 1)
  }

  private write(
    streamName: string,
    events: ReadonlyArray<{ id: string; type: string; data: string; metadata: string | undefined }>,
  ): Array<StoredEvent> {
    const stream = this.streams.get(streamName) ?? []
    this.streams.set(streamName, stream)
    const written = events.map((event) => {
      const stored: StoredEvent = {
        streamName,
        id: event.id,
        revision: BigInt(stream.length),
        type: event.type,
        data: event.data,
        metadata: event.metadata,
        position: this.nextPosition,
      }
      // Byte offsets: a record takes its payload plus a header, so positions have gaps.
      this.nextPosition += BigInt(120 + event.data.length + (event.metadata?.length ?? 0))
      stream.push(stored)
      this.log.push(stored)
      return stored
    })
    for (const subscription of this.live) {
      for (const event of written) {
        if (event.position > subscription.after && matchesFilter(subscription.filter, event)) {
          subscription.after = event.position
          subscription.stream.write(this.resolved(event))
        }
      }
    }
    return written
  }

  private resolved(event: StoredEvent): AllStreamResolvedEvent {
    const position = { commit: event.position, prepare: event.position }
    return {
      event: {
        streamId: event.streamName,
        id: event.id,
        revision: event.revision,
        type: event.type,
        isJson: true,
        data: JSON.parse(event.data),
        metadata: parseMetadata(event.metadata),
        created: new Date(0),
        position,
      } as NonNullable<AllStreamResolvedEvent["event"]>,
      commitPosition: event.position,
    }
  }

  private checkState(streamName: string, expected: unknown): void {
    const revision = this.revisionOf(streamName)
    const ok =
      expected === "any" ||
      (expected === "no_stream" && revision < 0n) ||
      (expected === "stream_exists" && revision >= 0n) ||
      (typeof expected === "bigint" && revision === expected)
    if (!ok) {
      throw new WrongExpectedVersionError(undefined, {
        streamName,
        expected: expected as bigint,
        current: revision < 0n ? "no_stream" : revision,
      })
    }
  }

  async appendToStream(
    streamName: string,
    events: EventData | Array<EventData>,
    options: AppendToStreamOptions = {},
  ): Promise<AppendResult> {
    this.takeFailure("appendToStream", options)
    const list = Array.isArray(events) ? events : [events]
    if (list.length === 0) throw new Error("the fake does not model appends of no events")
    try {
      this.checkState(streamName, options.streamState ?? "any")
    } catch (error) {
      if (this.throwOnAppendFailure || !(error instanceof WrongExpectedVersionError)) throw error
      const actual = error.actualState
      return { success: false, nextExpectedRevision: actual === "no_stream" ? -1n : actual }
    }
    const written = this.write(
      streamName,
      list.map((event) => ({
        id: event.id,
        type: event.type,
        data: JSON.stringify(event.data),
        metadata: event.metadata === undefined ? undefined : JSON.stringify(event.metadata),
      })),
    )
    const last = written.at(-1) as StoredEvent
    return {
      success: true,
      nextExpectedRevision: last.revision,
      position: { commit: last.position, prepare: last.position },
    }
  }

  async multiStreamAppend(requests: Array<AppendStreamRequest>): Promise<MultiAppendResult> {
    this.takeFailure("multiStreamAppend", requests)
    if (!this.multiStream) throw new UnsupportedError("multiStreamAppend", "25.1")
    for (const request of requests) {
      for (const event of request.events) {
        const metadata = event.metadata
        if (
          metadata !== undefined &&
          (metadata instanceof Uint8Array ||
            typeof metadata !== "object" ||
            Array.isArray(metadata) ||
            Object.values(metadata).some((value) => typeof value !== "string"))
        ) {
          throw new Error(
            "multiStreamAppend requires metadata to be a plain object with string keys and string values.",
          )
        }
      }
    }
    for (const request of requests) this.checkState(request.streamName, request.expectedState)
    const responses = requests.map((request) => {
      const written = this.write(
        request.streamName,
        request.events.map((event) => ({
          id: event.id,
          type: event.type,
          data: JSON.stringify(event.data),
          metadata: JSON.stringify({
            ...(event.metadata as Record<string, string> | undefined),
            "$schema.format": "Json",
            "$schema.name": event.type,
          }),
        })),
      )
      return { streamName: request.streamName, revision: (written.at(-1) as StoredEvent).revision }
    })
    return { position: (this.log.at(-1) as StoredEvent).position, responses }
  }

  readStream(streamName: string, options: ReadStreamOptions = {}): AsyncIterableIterator<ResolvedEvent> {
    const fake = this
    return (async function* () {
      fake.takeFailure("readStream", options)
      const stream = fake.streams.get(streamName)
      if (stream === undefined) throw new StreamNotFoundError(undefined, streamName)
      const maxCount = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER)
      const from = options.fromRevision ?? "start"
      const events: Array<StoredEvent> = []
      if ((options.direction ?? "forwards") === "forwards") {
        const start = from === "start" ? 0 : from === "end" ? stream.length : Number(from)
        events.push(...stream.slice(start, start + maxCount))
      } else {
        const start = from === "end" ? stream.length - 1 : from === "start" ? 0 : Number(from)
        if (start < stream.length) {
          for (let index = start; index >= 0 && events.length < maxCount; index--) {
            events.push(stream[index] as StoredEvent)
          }
        }
      }
      for (const event of events) yield fake.resolved(event) as ResolvedEvent
    })()
  }

  readAll(options: ReadAllOptions = {}): AsyncIterableIterator<AllStreamResolvedEvent> {
    const fake = this
    return (async function* () {
      fake.takeFailure("readAll", options)
      const maxCount = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER)
      const from = options.fromPosition ?? "start"
      const forwards = (options.direction ?? "forwards") === "forwards"
      const candidates = forwards
        ? fake.log.filter((event) => from === "start" || (from !== "end" && event.position >= from.commit))
        : [...fake.log]
            .reverse()
            .filter((event) => from === "end" || (from !== "start" && event.position <= from.commit))
      const out: Array<AllStreamResolvedEvent> = []
      for (const event of candidates) {
        if (out.length >= maxCount) break
        if (matchesFilter(options.filter, event)) out.push(fake.resolved(event))
      }
      yield* out
    })()
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): PassThrough & { unsubscribe(): Promise<void> } {
    this.takeFailure("subscribeToAll", options)
    const stream = new PassThrough({ objectMode: true, highWaterMark: 16 })
    const from = options.fromPosition ?? "start"
    const after = from === "start" ? -1n : from === "end" ? (this.log.at(-1)?.position ?? -1n) : from.commit
    const subscription: LiveSubscription = { stream, filter: options.filter, after }
    for (const event of this.log) {
      if (event.position > subscription.after && matchesFilter(subscription.filter, event)) {
        subscription.after = event.position
        stream.write(this.resolved(event))
      }
    }
    this.live.add(subscription)
    setImmediate(() => stream.emit("confirmation"))
    return Object.assign(stream, {
      unsubscribe: async () => {
        this.live.delete(subscription)
        stream.destroy()
      },
    })
  }

  dispose = async (): Promise<void> => {
    this.disposed = true
    this.breakSubscriptions()
  }
}
