/**
 * The simulator's agenda: every customer's next actions in one binary heap, ordered by simulated
 * time and, for equal times, by the order they were scheduled, so a run is fully deterministic.
 */

/** What kind of action an entry stands for; see Simulation.ts for what each does. */
export type ActionKind =
  | "register"
  | "lifecycle"
  | "followUp"
  | "account"
  | "oneOff"
  | "repJoins"
  | "repLeaves"

export interface Action {
  readonly at: number
  readonly seq: number
  readonly kind: ActionKind
  /** The customer's index (the rep's index for repJoins and repLeaves). */
  readonly subject: number
  /** For lifecycle, followUp and account: the plan generation it belongs to; stale ones are skipped. */
  readonly gen: number
  /** For lifecycle and oneOff: which step. */
  readonly step: string
}

const before = (x: Action, y: Action): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq)

export class ActionQueue {
  private readonly heap: Array<Action> = []
  private seq = 0

  get size(): number {
    return this.heap.length
  }

  push(at: number, kind: ActionKind, subject: number, step = "", gen = 0): void {
    const heap = this.heap
    const action: Action = { at, seq: this.seq++, kind, subject, gen, step }
    let i = heap.length
    heap.push(action)
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] as Action
      if (!before(action, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = action
  }

  pop(): Action | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    let i = 0
    const n = heap.length
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && before(heap[right] as Action, heap[left] as Action) ? right : left
      if (!before(heap[child] as Action, last)) break
      heap[i] = heap[child] as Action
      i = child
    }
    heap[i] = last
    return top
  }
}
