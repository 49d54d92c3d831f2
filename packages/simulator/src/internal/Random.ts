/**
 * A small seeded pseudo-random generator (xoshiro128**, seeded through splitmix32) and the
 * distributions the simulator draws from. Written here rather than taken from a package: it is
 * thirty lines, and the simulator's output must never change because a dependency did.
 */

const splitmix32 = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
}

/** A deterministic stream of random numbers; the same seeds always give the same stream. */
export class Random {
  private a: number
  private b: number
  private c: number
  private d: number

  /** A generator for `seed`, optionally one of many independent streams (`stream`) under it. */
  constructor(seed: number, stream = 0) {
    const mix = splitmix32((seed ^ Math.imul(stream + 1, 0x27d4eb2d)) >>> 0)
    this.a = mix()
    this.b = mix()
    this.c = mix()
    this.d = mix()
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4_294_967_296
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next()
  }

  /** A whole number in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** Exponentially distributed with the given mean (the waiting time of a memoryless process). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next())
  }

  /** Standard normal (Box-Muller; one of the pair is dropped to keep the stream simple). */
  normal(): number {
    const u = 1 - this.next()
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** Log-normally distributed around `median` (the geometric mean) with spread `sigma`. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal())
  }

  /** One element, uniformly. The array must not be empty. */
  pick<A>(items: ReadonlyArray<A>): A {
    return items[Math.floor(this.next() * items.length)] as A
  }

  /** One element, with probability proportional to its weight. The array must not be empty. */
  weighted<A>(items: ReadonlyArray<A>, weightOf: (item: A) => number): A {
    let total = 0
    for (const item of items) total += weightOf(item)
    let r = this.next() * total
    for (const item of items) {
      r -= weightOf(item)
      if (r < 0) return item
    }
    return items[items.length - 1] as A
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k))
