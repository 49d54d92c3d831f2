/** Simulated time: calendar months (UTC) and office hours. All instants are epoch milliseconds. */
import type { Random } from "./Random.ts"

export const hourMs = 3_600_000
export const dayMs = 86_400_000

/** The first instant of `months` consecutive UTC months from `startMs`, plus the end (months + 1 entries). */
export const monthStarts = (startMs: number, months: number): ReadonlyArray<number> => {
  const start = new Date(startMs)
  const result: Array<number> = []
  for (let i = 0; i <= months; i++) {
    result.push(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + i, 1))
  }
  return result
}

/** `YYYY-MM` of an instant. */
export const monthLabel = (ms: number): string => new Date(ms).toISOString().slice(0, 7)

/** The index of the month holding `ms` (the last i with starts[i] <= ms); -1 before the first. */
export const monthIndexOf = (starts: ReadonlyArray<number>, ms: number): number => {
  let lo = 0
  let hi = starts.length - 2
  if (ms < (starts[0] as number)) return -1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if ((starts[mid] as number) <= ms) lo = mid
    else hi = mid - 1
  }
  return lo
}

// Office hours: Monday to Friday, 08:00 to 18:00 UTC. Reps act then; nights and weekends are quiet.
const openHour = 8
const closeHour = 18

const isWorkingTime = (ms: number): boolean => {
  const date = new Date(ms)
  const weekday = date.getUTCDay()
  const hour = date.getUTCHours()
  return weekday !== 0 && weekday !== 6 && hour >= openHour && hour < closeHour
}

const startOfDay = (ms: number): number => ms - (((ms % dayMs) + dayMs) % dayMs)

/** `ms` if it falls in office hours, else a random moment of the next working day's first two hours. */
export const forwardToWorkingTime = (ms: number, random: Random): number => {
  if (isWorkingTime(ms)) return ms
  let day = startOfDay(ms)
  if (new Date(ms).getUTCHours() >= openHour) day += dayMs
  while (new Date(day).getUTCDay() === 0 || new Date(day).getUTCDay() === 6) day += dayMs
  return day + openHour * hourMs + Math.floor(random.next() * 2 * hourMs)
}

/** `ms` if it falls in office hours, else a random moment of the previous working day's last two hours. */
export const backwardToWorkingTime = (ms: number, random: Random): number => {
  if (isWorkingTime(ms)) return ms
  let day = startOfDay(ms)
  if (new Date(ms).getUTCHours() < closeHour) day -= dayMs
  while (new Date(day).getUTCDay() === 0 || new Date(day).getUTCDay() === 6) day -= dayMs
  return day + closeHour * hourMs - 1 - Math.floor(random.next() * 2 * hourMs)
}
