/**
 * Instants are ISO-8601 UTC strings in the one canonical form `Date#toISOString` writes
 * (`2024-05-01T09:30:00.000Z`), not DateTime objects: stored events decode as plain strings, and
 * canonical strings of years 0000-9999 order the same as the instants they name, so comparing two
 * instants is a string comparison.
 */
import { Schema, SchemaTransformation } from "effect"

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : month === 4 || month === 6 || month === 9 || month === 11
      ? 30
      : 31

// Character by character rather than a regular expression: stored events carry one to three
// instants each, and this check is most of what decoding them costs (a regex was 4x slower).
const digit = (s: string, i: number): number => {
  const d = s.charCodeAt(i) - 48
  return d >= 0 && d <= 9 ? d : Number.NaN
}
const twoDigits = (s: string, i: number): number => digit(s, i) * 10 + digit(s, i + 1)

const isCanonicalInstant = (s: string): boolean => {
  if (
    s.length !== 24 ||
    s.charCodeAt(4) !== 45 || // -
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 || // T
    s.charCodeAt(13) !== 58 || // :
    s.charCodeAt(16) !== 58 ||
    s.charCodeAt(19) !== 46 || // .
    s.charCodeAt(23) !== 90 // Z
  ) {
    return false
  }
  const year = twoDigits(s, 0) * 100 + twoDigits(s, 2)
  const month = twoDigits(s, 5)
  const day = twoDigits(s, 8)
  const millis = twoDigits(s, 20) * 10 + digit(s, 22)
  // NaN (a non-digit) fails every comparison below.
  return (
    year >= 0 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    (day <= 28 || day <= daysInMonth(year, month)) &&
    twoDigits(s, 11) <= 23 &&
    twoDigits(s, 14) <= 59 &&
    twoDigits(s, 17) <= 59 &&
    millis >= 0
  )
}

/** An instant in time as a canonical ISO-8601 UTC string (`YYYY-MM-DDTHH:mm:ss.sssZ`). */
export const Instant = Schema.String.check(
  Schema.makeFilter(isCanonicalInstant, {
    expected: "an ISO-8601 UTC instant such as 2024-05-01T09:30:00.000Z",
  }),
).pipe(Schema.brand("Instant"))
export type Instant = typeof Instant.Type

const lenient = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/

/**
 * Accepts the ISO-8601 forms people send (a date alone means midnight UTC; a time needs `Z` or an
 * offset, since a local time is ambiguous) and decodes them to the canonical `Instant`.
 */
export const InstantFromString = Schema.String.check(
  Schema.makeFilter((s: string) => lenient.test(s) && !Number.isNaN(Date.parse(s)), {
    expected: "an ISO-8601 date or date-time with a time zone (Z or an offset)",
  }),
).pipe(
  Schema.decodeTo(
    Instant,
    SchemaTransformation.transform({
      decode: (s: string) => new Date(s).toISOString(),
      encode: (instant: string) => instant,
    }),
  ),
)

/** The instant `ms` milliseconds after the Unix epoch. */
export const instantFromMillis = (ms: number): Instant => new Date(ms).toISOString() as Instant

/** Milliseconds since the Unix epoch. */
export const instantToMillis = (instant: Instant): number => Date.parse(instant)

const dayMs = 86_400_000

/** The instant `days` whole days (of 24 hours) later; negative goes back. */
export const addDays = (instant: Instant, days: number): Instant =>
  instantFromMillis(instantToMillis(instant) + days * dayMs)

/**
 * The same wall-clock time `months` calendar months later (UTC), clamped to the month's last day:
 * 12 months before 2024-02-29 is 2023-02-28.
 */
export const addMonths = (instant: Instant, months: number): Instant => {
  const date = new Date(instantToMillis(instant))
  const day = date.getUTCDate()
  date.setUTCDate(1)
  date.setUTCMonth(date.getUTCMonth() + months)
  date.setUTCDate(Math.min(day, daysInMonth(date.getUTCFullYear(), date.getUTCMonth() + 1)))
  return date.toISOString() as Instant
}

/** The later of two instants. */
export const latestInstant = (a: Instant, b: Instant): Instant => (a >= b ? a : b)

/** Whole days from `from` to `to`, rounded down (negative when `to` is earlier). */
export const daysBetween = (from: Instant, to: Instant): number =>
  Math.floor((instantToMillis(to) - instantToMillis(from)) / dayMs)
