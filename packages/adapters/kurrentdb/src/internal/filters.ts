/**
 * Our event filters -> the server-side filters of `readAll` and `subscribeToAll`.
 *
 * The server filters on one thing only: stream names or event types, by prefixes or a regex. So:
 * - event types (exact names): an event-type regex `^(?:A|B)$`; a stream prefix, if any, is then
 *   checked here. Types are chosen for the server because they are exact and usually the narrower
 *   condition (most streams are `customer-…`).
 * - a stream prefix (the namespace's, the filter's, or both joined): a stream-name prefix filter.
 * - neither: the client's `excludeSystemEvents` (event types not starting with `$`).
 * Whatever the server filtered, every event it sends is checked against the whole condition here
 * too, so the result never depends on how the server reads its regex or prefixes.
 */
import {
  eventTypeFilter,
  excludeSystemEvents,
  type Filter,
  streamNameFilter,
} from "@kurrent/kurrentdb-client"
import type { EventFilter } from "@relata/domain"
import type { StreamNames } from "./streamNames.ts"

export interface FilterPlan {
  /** The filter matches no event at all (an empty list of event types): nothing to read. */
  readonly matchesNothing: boolean
  /** What the server filters on: a superset of `matches`. */
  readonly server: Filter
  /** The whole condition, on the server's stream name and the event type. */
  readonly matches: (streamName: string, eventType: string) => boolean
}

/** A .NET and JavaScript regex that matches exactly the given text. */
export const escapeRegex = (text: string): string => text.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&")

/** A regex that matches exactly one of the given event types. */
export const exactTypesRegex = (types: ReadonlyArray<string>): string =>
  `^(?:${types.map(escapeRegex).join("|")})$`

/** System streams (`$…`) and system event types (`$…`, links `$>`) are never Relata's events. */
export const isSystemEvent = (streamName: string, eventType: string): boolean =>
  streamName.startsWith("$") || eventType.startsWith("$")

export const planFilter = (
  filter: EventFilter | undefined,
  names: StreamNames,
  checkpointInterval: number,
): FilterPlan => {
  const prefix = `${names.prefix}${filter?.streamPrefix ?? ""}`
  const types = filter?.eventTypes
  const typeSet = types === undefined ? undefined : new Set(types)
  const server: Filter =
    types !== undefined && types.length > 0
      ? eventTypeFilter({ regex: exactTypesRegex(types), checkpointInterval })
      : prefix !== ""
        ? streamNameFilter({ prefixes: [prefix], checkpointInterval })
        : excludeSystemEvents({ checkpointInterval })
  return {
    matchesNothing: types !== undefined && types.length === 0,
    server,
    matches: (streamName, eventType) =>
      !isSystemEvent(streamName, eventType) &&
      streamName.startsWith(prefix) &&
      (typeSet === undefined || typeSet.has(eventType)),
  }
}
