import { describe, expect, it } from "@effect/vitest"
import type { JsonObject } from "@relata/domain"
import {
  compileReadModel,
  defineCollection,
  Field,
  layoutOf,
  makeTransactionBuffer,
  type ReadModelDefinition,
} from "@relata/projections"
import { Effect, Result } from "effect"

interface Item {
  readonly label: string
  readonly size: number
}

const items = defineCollection<Item>({
  name: "buffer_items",
  fields: { label: Field.text((item) => item.label), size: Field.number((item) => item.size) },
  search: (item) => item.label,
})

const model: ReadModelDefinition = { name: "buffer", version: 1, collections: [items] }

const compiled = () => {
  const layout = layoutOf(model)
  if (Result.isFailure(layout)) throw new Error(layout.failure)
  return compileReadModel(model, layout.success)
}

const stored = new Map<string, JsonObject>([
  ["a", { label: "Apple", size: 1 }],
  ["b", { label: "Banana", size: 2 }],
])

describe("TransactionBuffer", () => {
  it.effect(
    "gives the stored indexed values of documents it loaded and found, so adapters can write only what changed",
    () =>
      Effect.gen(function* () {
        const buffer = makeTransactionBuffer(compiled(), (_, ids) =>
          Effect.succeed(
            new Map(ids.flatMap((id) => (stored.has(id) ? [[id, stored.get(id) as JsonObject]] : []))),
          ),
        )
        yield* buffer.tx.load(items.name, ["a", "b", "missing"])
        buffer.tx.put(items.name, "a", { label: "Apple", size: 3 })
        buffer.tx.delete(items.name, "b")
        buffer.tx.put(items.name, "b", { label: "Blueberry", size: 2 })
        buffer.tx.put(items.name, "missing", { label: "Cherry", size: 4 })
        buffer.tx.put(items.name, "unloaded", { label: "Date", size: 5 })
        const writes = new Map((buffer.writes().get(items.name) ?? []).map((write) => [write.id, write]))
        expect(writes.get("a")).toMatchObject({
          fields: ["Apple", 3],
          search: "apple",
          stored: { fields: ["Apple", 1], search: "apple" },
        })
        // Deleted and written again: still the row in storage, which the write replaces.
        expect(writes.get("b")).toMatchObject({
          fields: ["Blueberry", 2],
          stored: { fields: ["Banana", 2], search: "banana" },
        })
        expect(writes.get("missing")).not.toHaveProperty("stored")
        expect(writes.get("unloaded")).not.toHaveProperty("stored")
      }),
  )

  it.effect("gives no stored values for a loaded document that is deleted", () =>
    Effect.gen(function* () {
      const buffer = makeTransactionBuffer(compiled(), () => Effect.succeed(new Map(stored)))
      yield* buffer.tx.load(items.name, ["a"])
      buffer.tx.delete(items.name, "a")
      expect(buffer.writes().get(items.name)).toEqual([
        { id: "a", document: undefined, fields: [], search: null },
      ])
    }),
  )
})
