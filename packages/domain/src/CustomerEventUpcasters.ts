/**
 * Upcasters turn the stored data of an old event version into the next version, so the domain
 * only ever sees current events. They work on plain JSON, before schema decoding, and never change
 * what the event means: an old fact is restated in the current shape.
 */
import type { JsonObject } from "./EventStore.ts"

/** Turns `type`'s stored data of version `fromVersion` into version `fromVersion + 1`. */
export interface EventUpcaster {
  readonly type: string
  readonly fromVersion: number
  readonly upcast: (data: JsonObject) => JsonObject
}

/** Upcasters indexed by type and source version. */
export interface UpcasterRegistry {
  /** The upcaster from `fromVersion` of `type`, if there is one. */
  readonly find: (type: string, fromVersion: number) => EventUpcaster | undefined
}

/** Builds a registry; two upcasters for the same type and version are a programming error. */
export const makeUpcasterRegistry = (upcasters: ReadonlyArray<EventUpcaster>): UpcasterRegistry => {
  const byKey = new Map<string, EventUpcaster>()
  for (const upcaster of upcasters) {
    const key = `${upcaster.type}@${upcaster.fromVersion}`
    if (byKey.has(key)) throw new Error(`Two upcasters for ${upcaster.type} version ${upcaster.fromVersion}`)
    byKey.set(key, upcaster)
  }
  return { find: (type, fromVersion) => byKey.get(`${type}@${fromVersion}`) }
}

/**
 * Applies upcasters from `schemaVersion` up to `targetVersion`; `undefined` when a step is missing.
 * A stored version newer than the target is not handled here (it means a newer writer).
 */
export const upcastData = (
  registry: UpcasterRegistry,
  type: string,
  schemaVersion: number,
  targetVersion: number,
  data: JsonObject,
): JsonObject | undefined => {
  let current = data
  for (let version = schemaVersion; version < targetVersion; version++) {
    const upcaster = registry.find(type, version)
    if (upcaster === undefined) return undefined
    current = upcaster.upcast(current)
  }
  return current
}

/**
 * FollowUpRecorded v1 -> v2. Version 1 kept a free-text `note` and no `outcome`; version 2 splits it
 * into `summary` and `outcome`. The note becomes the summary; the outcome was never recorded and
 * says so, rather than guessing one.
 */
export const followUpRecordedV1ToV2: EventUpcaster = {
  type: "FollowUpRecorded",
  fromVersion: 1,
  upcast: ({ note, ...rest }) => ({ ...rest, summary: note ?? null, outcome: "not recorded" }),
}

/** Every upcaster of the Customer's events. */
export const customerEventUpcasters: ReadonlyArray<EventUpcaster> = [followUpRecordedV1ToV2]

/** The registry `decodeCustomerEvent` uses. */
export const CustomerEventUpcasters: UpcasterRegistry = makeUpcasterRegistry(customerEventUpcasters)
