/**
 * Firms for the adapters' search tests: most in Springfield (more than the stores count a word's
 * candidates to, 5,000), 1 in 100 a Phoenix, names in a scrambled order. A word's plan depends on
 * how many firms it matches, which these counts fix.
 */
import { defineCollection, Field, type ReadModelDefinition } from "../ReadModelStore.ts"

export interface Firm {
  readonly name: string
  readonly city: string
}

export const firms = defineCollection<Firm>({
  name: "firms",
  fields: { name: Field.text((f) => f.name), city: Field.text((f) => f.city) },
  search: (f) => `${f.name} ${f.city}`.toLowerCase(),
})

export const firmsModel: ReadModelDefinition = { name: "firms", version: 1, collections: [firms] }

export const firmCount = 8_000

/** The i-th firm (0 <= i < firmCount). */
export const firmOf = (i: number): Firm => ({
  name: `${i % 100 === 7 ? "Phoenix" : "Harbor"} ${String((i * 7919) % firmCount).padStart(5, "0")}`,
  city: i % 7 === 0 ? "Ogdenville" : "Springfield",
})

export const firmIdOf = (i: number): string => `f${String(i).padStart(5, "0")}`
