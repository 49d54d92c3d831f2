/**
 * A `ReadModelQuery` checked against a collection's layout and put in a form adapters translate
 * directly (to SQL, or to a scan in memory): resolved fields, typed values, normalised search terms,
 * the decoded cursor. Every adapter plans with this one function, so they accept and reject the
 * same queries and page the same way. For ReadModelStore adapters.
 *
 * Order: by the sort field, then by id, both in the query's direction. Null sorts before every
 * value, so first ascending and last descending; text compares by Unicode code point (SQLite's
 * BINARY collation, PostgreSQL's "C"), numbers numerically, false before true.
 */
import { Result } from "effect"
import { type CollectionLayout, searchTerms } from "./CollectionLayout.ts"
import {
  type Condition,
  type FieldType,
  type FieldValue,
  InvalidReadModelQuery,
  type ReadModelDocument,
  type ReadModelPage,
  type ReadModelQuery,
} from "./ReadModelStore.ts"

/** A field of the layout, with its position among the layout's fields. */
export interface FieldRef {
  readonly name: string
  readonly type: FieldType
  readonly index: number
}

export type RangeOperator = "lt" | "lte" | "gt" | "gte"

export type PlannedCondition =
  | { readonly kind: "eq"; readonly field: FieldRef; readonly value: string | number | boolean }
  | { readonly kind: "null"; readonly field: FieldRef }
  | {
      readonly kind: "in"
      readonly field: FieldRef
      readonly values: ReadonlyArray<string | number | boolean>
    }
  | {
      readonly kind: "range"
      readonly field: FieldRef
      readonly op: RangeOperator
      readonly value: string | number
    }

export interface QueryPlan {
  readonly collection: string
  readonly conditions: ReadonlyArray<PlannedCondition>
  /** Normalised words that must all occur in the search text. */
  readonly terms: ReadonlyArray<string>
  /** Sort field (undefined: by id only) and direction, which applies to the id too. */
  readonly order: { readonly field: FieldRef | undefined; readonly direction: "asc" | "desc" }
  /** Where the previous page ended. */
  readonly after: { readonly value: FieldValue; readonly id: string } | undefined
  readonly limit: number
  /** True when a condition can match no document (an empty `in`): adapters answer an empty page. */
  readonly matchesNothing: boolean
}

export const defaultLimit = 50
export const maxLimit = 1_000

const rangeOperators: ReadonlyArray<RangeOperator> = ["lt", "lte", "gt", "gte"]

const isOfType = (value: unknown, type: FieldType): value is string | number | boolean =>
  type === "number"
    ? typeof value === "number" && Number.isFinite(value)
    : typeof value === (type === "text" ? "string" : "boolean")

const describe = (value: unknown): string => (value === undefined ? "undefined" : JSON.stringify(value))

const encodeBase64Url = (text: string): string => Buffer.from(text, "utf8").toString("base64url")
const decodeBase64Url = (text: string): string => Buffer.from(text, "base64url").toString("utf8")

/** The cursor of the page that follows a document with these sort value and id. */
export const encodeCursor = (plan: QueryPlan, value: FieldValue, id: string): string =>
  encodeBase64Url(JSON.stringify([plan.order.field?.name ?? null, plan.order.direction, value, id]))

const decodeCursor = (
  cursor: string,
  order: QueryPlan["order"],
): Result.Result<{ value: FieldValue; id: string }, string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(decodeBase64Url(cursor))
  } catch {
    return Result.fail("the cursor is not one this store made")
  }
  if (!Array.isArray(parsed) || parsed.length !== 4)
    return Result.fail("the cursor is not one this store made")
  const [field, direction, value, id] = parsed as Array<unknown>
  if (field !== (order.field?.name ?? null) || direction !== order.direction) {
    return Result.fail("the cursor belongs to a query with another order")
  }
  if (typeof id !== "string") return Result.fail("the cursor is not one this store made")
  if (order.field === undefined) return Result.succeed({ value: null, id })
  if (value !== null && !isOfType(value, order.field.type))
    return Result.fail("the cursor is not one this store made")
  return Result.succeed({ value: value as FieldValue, id })
}

const planCondition = (
  field: FieldRef,
  condition: Condition,
): Result.Result<ReadonlyArray<PlannedCondition>, string> => {
  if (condition === null) return Result.succeed([{ kind: "null", field }])
  if (typeof condition !== "object") {
    return isOfType(condition, field.type)
      ? Result.succeed([{ kind: "eq", field, value: condition }])
      : Result.fail(`${field.name} is a ${field.type} field; ${describe(condition)} is not a ${field.type}`)
  }
  if ("in" in condition) {
    const values = condition.in
    if (!Array.isArray(values)) return Result.fail(`${field.name}: "in" takes a list of values`)
    const wrong = values.find((value) => !isOfType(value, field.type))
    if (wrong !== undefined || values.includes(null as never)) {
      return Result.fail(
        `${field.name}: every value of "in" must be a ${field.type}, got ${describe(wrong ?? null)}`,
      )
    }
    return Result.succeed([{ kind: "in", field, values: [...values] }])
  }
  if (field.type === "boolean") return Result.fail(`${field.name} is a boolean field and takes no range`)
  const planned: Array<PlannedCondition> = []
  for (const [op, value] of Object.entries(condition)) {
    if (!rangeOperators.includes(op as RangeOperator)) {
      return Result.fail(`${field.name}: unknown operator "${op}" (use lt, lte, gt, gte or in)`)
    }
    if (value === undefined) continue
    if (!isOfType(value, field.type)) {
      return Result.fail(`${field.name}.${op} must be a ${field.type}, got ${describe(value)}`)
    }
    planned.push({ kind: "range", field, op: op as RangeOperator, value: value as string | number })
  }
  if (planned.length === 0)
    return Result.fail(`${field.name}: a range needs at least one of lt, lte, gt, gte`)
  return Result.succeed(planned)
}

/** Checks a query against the collection's layout and plans it, or says what is wrong with it. */
export const planQuery = (
  layout: CollectionLayout,
  query: ReadModelQuery,
): Result.Result<QueryPlan, InvalidReadModelQuery> => {
  const invalid = (reason: string) =>
    Result.fail(new InvalidReadModelQuery({ collection: layout.name, reason }))
  const fieldRef = (name: string): FieldRef | undefined => {
    const index = layout.fields.findIndex((field) => field.name === name)
    const field = layout.fields[index]
    return field === undefined ? undefined : { name, type: field.type, index }
  }
  const indexed = () => layout.fields.map((field) => field.name).join(", ") || "none"

  const conditions: Array<PlannedCondition> = []
  for (const [name, condition] of Object.entries(query.where ?? {})) {
    if (condition === undefined) continue
    const field = fieldRef(name)
    if (field === undefined) return invalid(`${name} is not an indexed field (indexed: ${indexed()})`)
    const planned = planCondition(field, condition)
    if (Result.isFailure(planned)) return invalid(planned.failure)
    conditions.push(...planned.success)
  }

  const terms = searchTerms(query.search)
  if (terms.length > 0 && !layout.searchable) return invalid("the collection has no search text")

  const direction = query.orderBy?.direction ?? "asc"
  if (direction !== "asc" && direction !== "desc")
    return invalid(`direction must be asc or desc, got ${describe(direction)}`)
  let orderField: FieldRef | undefined
  if (query.orderBy !== undefined) {
    orderField = fieldRef(query.orderBy.field)
    if (orderField === undefined) {
      return invalid(`cannot sort by ${query.orderBy.field}: not an indexed field (indexed: ${indexed()})`)
    }
  }
  const order = { field: orderField, direction } as const

  const limit = query.limit ?? defaultLimit
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    return invalid(`limit must be a whole number from 1 to ${maxLimit}, got ${describe(limit)}`)
  }

  let after: QueryPlan["after"]
  if (query.after !== undefined) {
    const decoded = decodeCursor(query.after, order)
    if (Result.isFailure(decoded)) return invalid(decoded.failure)
    after = decoded.success
  }

  return Result.succeed({
    collection: layout.name,
    conditions,
    terms,
    order,
    after,
    limit,
    matchesNothing: conditions.some((condition) => condition.kind === "in" && condition.values.length === 0),
  })
}

/** Compares strings by Unicode code point, as UTF-8 bytes compare (JavaScript's `<` compares UTF-16 units). */
export const compareText = (a: string, b: string): number => {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // Surrogates (U+D800-DFFF, code points above U+FFFF) sort after U+E000-FFFF by code point.
    const surrogateX = x >= 0xd800 && x <= 0xdfff
    const surrogateY = y >= 0xd800 && y <= 0xdfff
    if (surrogateX !== surrogateY && (x >= 0xe000 || y >= 0xe000)) return surrogateX ? 1 : -1
    return x < y ? -1 : 1
  }
  return a.length - b.length
}

/** Compares two values of one field: null first, then by type's order. */
export const compareFieldValues = (a: FieldValue, b: FieldValue): number => {
  if (a === b) return 0
  if (a === null) return -1
  if (b === null) return 1
  if (typeof a === "string" && typeof b === "string") return compareText(a, b)
  return a < b ? -1 : a > b ? 1 : 0
}

const holds = (condition: PlannedCondition, value: FieldValue): boolean => {
  switch (condition.kind) {
    case "eq":
      return value === condition.value
    case "null":
      return value === null
    case "in":
      return value !== null && condition.values.includes(value)
    case "range": {
      if (value === null) return false
      const c = compareFieldValues(value, condition.value)
      switch (condition.op) {
        case "lt":
          return c < 0
        case "lte":
          return c <= 0
        case "gt":
          return c > 0
        case "gte":
          return c >= 0
      }
    }
  }
}

/** A stored document as a scan sees it: its id, indexed values (layout order) and search text. */
export interface IndexedEntry {
  readonly id: string
  readonly fields: ReadonlyArray<FieldValue>
  readonly search: string | null
}

/** Whether an entry meets the plan's conditions and search terms (the cursor aside). */
export const entryMatches = (plan: QueryPlan, entry: IndexedEntry): boolean => {
  for (const condition of plan.conditions) {
    if (!holds(condition, entry.fields[condition.field.index] ?? null)) return false
  }
  if (plan.terms.length > 0) {
    const text = entry.search ?? ""
    for (const term of plan.terms) if (!text.includes(term)) return false
  }
  return true
}

const sortValue = (plan: QueryPlan, entry: IndexedEntry): FieldValue =>
  plan.order.field === undefined ? null : (entry.fields[plan.order.field.index] ?? null)

/** Orders entries as the plan asks: by the sort field, then by id, in its direction. */
export const compareEntries =
  (plan: QueryPlan) =>
  (a: IndexedEntry, b: IndexedEntry): number => {
    const c = compareFieldValues(sortValue(plan, a), sortValue(plan, b)) || compareText(a.id, b.id)
    return plan.order.direction === "asc" ? c : -c
  }

/** Whether an entry comes after the plan's cursor. */
export const isAfterCursor = (plan: QueryPlan, entry: IndexedEntry): boolean => {
  if (plan.after === undefined) return true
  const c =
    compareFieldValues(sortValue(plan, entry), plan.after.value) || compareText(entry.id, plan.after.id)
  return plan.order.direction === "asc" ? c > 0 : c < 0
}

/** The page of a planned query over rows fetched in order, up to `limit + 1` of them to tell whether more follow. */
export const pageOf = <Row>(
  plan: QueryPlan,
  rows: ReadonlyArray<Row>,
  entryOf: (row: Row) => ReadModelDocument & { readonly sortValue: FieldValue },
): ReadModelPage => {
  const entries = rows.slice(0, plan.limit).map(entryOf)
  const items = entries.map(({ id, document }) => ({ id, document }))
  const last = entries[entries.length - 1]
  return rows.length > plan.limit && last !== undefined
    ? { items, next: encodeCursor(plan, last.sortValue, last.id) }
    : { items }
}
