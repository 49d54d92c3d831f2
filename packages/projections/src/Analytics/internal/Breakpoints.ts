/**
 * A customer's value of one attribute (stage, tier) through business time, as breakpoints: each
 * `[at, value]` says the value is `value` at every instant after `at`, until the next breakpoint.
 * The value at an instant t is the value of the last breakpoint strictly before t; before the first
 * one (the registration) there is none.
 *
 * This is the analytics' reading of "the state at t": the fold, in stream order, of the events whose
 * business instant is before t. Appending an event at `at` (it is last in stream order) therefore
 * sets the value at every instant after `at`, whatever came before, and leaves earlier instants
 * alone: breakpoints at or after `at` are superseded. A back-dated event is handled the same way.
 */
import type { Instant } from "@relata/domain"

/** `[at, value]`: the value after `at`. Sorted by `at`, strictly increasing. */
export type Breakpoints<V extends string> = ReadonlyArray<readonly [Instant, V]>

/** A change of one customer's value at month ends: `by` (+1 or -1) customers hold `value` after `at`. */
export type OnDelta<V extends string> = (at: Instant, value: V, by: 1 | -1) => void

/** The value at `instant`: that of the last breakpoint strictly before it; undefined before the first. */
export const valueBefore = <V extends string>(points: Breakpoints<V>, instant: string): V | undefined => {
  for (let i = points.length - 1; i >= 0; i--) {
    const point = points[i] as readonly [Instant, V]
    if (point[0] < instant) return point[1]
  }
  return undefined
}

/**
 * The breakpoints after an event at `at` that sets `value`, reporting every change it makes to the
 * customer's value through time to `onDelta` (removed breakpoints undone, the new one added), so
 * aggregates of the values at month ends follow with work proportional to the breakpoints touched:
 * none but the new one unless the event is back-dated.
 */
export const withChange = <V extends string>(
  points: Breakpoints<V>,
  at: Instant,
  value: V,
  onDelta: OnDelta<V>,
): Breakpoints<V> => {
  let keep = points.length
  while (keep > 0 && (points[keep - 1] as readonly [Instant, V])[0] >= at) keep--
  for (let i = points.length - 1; i >= keep; i--) {
    const [removedAt, removed] = points[i] as readonly [Instant, V]
    onDelta(removedAt, removed, -1)
    if (i > 0) onDelta(removedAt, (points[i - 1] as readonly [Instant, V])[1], 1)
  }
  const previous = keep > 0 ? (points[keep - 1] as readonly [Instant, V])[1] : undefined
  if (previous === value) return keep === points.length ? points : points.slice(0, keep)
  onDelta(at, value, 1)
  if (previous !== undefined) onDelta(at, previous, -1)
  const next = points.slice(0, keep)
  next.push([at, value])
  return next
}
