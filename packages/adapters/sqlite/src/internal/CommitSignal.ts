/**
 * Wakes live subscribers of this process when an append commits, so they never poll for their own
 * process's writes. A reader notes `generation` before it reads; if an append commits after the
 * note, `waitAfter` returns at once, so a commit between "read: nothing new" and "wait" is not lost.
 */
import { type Duration, Effect } from "effect"

export class CommitSignal {
  #generation = 0
  readonly #waiters = new Set<() => void>()

  get generation(): number {
    return this.#generation
  }

  /** Called after COMMIT, synchronously: costs one increment when nobody waits. */
  notify(): void {
    this.#generation++
    if (this.#waiters.size === 0) return
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
  }

  /**
   * Waits until a commit after `seen`, or at most `timeout` (the poll that notices other processes'
   * appends, which no in-process signal can see).
   */
  waitAfter(seen: number, timeout: Duration.Input): Effect.Effect<void> {
    const signalled = Effect.callback<void>((resume) => {
      if (this.#generation !== seen) {
        resume(Effect.void)
        return
      }
      const wake = () => resume(Effect.void)
      this.#waiters.add(wake)
      return Effect.sync(() => {
        this.#waiters.delete(wake)
      })
    })
    return Effect.asVoid(Effect.timeoutOption(signalled, timeout))
  }
}
