/**
 * Where a store lives, as one URL-like string: `sqlite:<path>`, `postgres://...` (or
 * `postgresql://`), `kurrentdb://...` (or `kurrentdb+discover://`, `esdb://`, `esdb+discover://`). Stores.ts turns it into the adapter's layer.
 */
import { Schema } from "effect"

const isStoreUrl = (s: string): boolean =>
  s === "memory:" ||
  /^sqlite:.+$/.test(s) ||
  /^(postgres|postgresql|kurrentdb|kurrentdb\+discover|esdb|esdb\+discover):\/\/.+$/.test(s)

/** A store's location; the scheme picks the adapter. */
export const StoreUrl = Schema.String.check(
  Schema.makeFilter(isStoreUrl, {
    expected: "sqlite:<path>, postgres://user:password@host:port/database, kurrentdb://host:port or memory:",
  }),
).pipe(Schema.brand("StoreUrl"))
export type StoreUrl = typeof StoreUrl.Type

/** A parsed store location. */
export type StoreLocation =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly connectionString: string }
  | { readonly kind: "kurrentdb"; readonly connectionString: string }
  | { readonly kind: "memory" }

/** What a store URL names. `sqlite://path` and `sqlite:path` are the same file. */
export const parseStoreUrl = (url: StoreUrl): StoreLocation => {
  if (url === "memory:") return { kind: "memory" }
  if (url.startsWith("sqlite:")) {
    const rest = url.slice("sqlite:".length)
    return { kind: "sqlite", path: rest.startsWith("//") ? rest.slice(2) : rest }
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return { kind: "postgres", connectionString: url }
  }
  return { kind: "kurrentdb", connectionString: url }
}

/** The URL with any password replaced, for logs and status output. */
export const redactStoreUrl = (url: string): string => url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@")
