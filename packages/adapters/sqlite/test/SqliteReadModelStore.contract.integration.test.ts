import fs from "node:fs"
import os from "node:os"
import path from "node:path"
// The package's own entry point; tests use only what it exports.
import { SqliteReadModelStore } from "@relata/adapter-sqlite"
import { readModelStoreContract } from "@relata/projections/testing"
import { Effect } from "effect"

/** A fresh folder per test, removed after the store has closed (finalizers run in reverse). */
const freshFile = Effect.acquireRelease(
  Effect.sync(() =>
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-read-models-")), "relata.sqlite"),
  ),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

readModelStoreContract("SqliteReadModelStore", () =>
  Effect.flatMap(freshFile, (file) => SqliteReadModelStore.make({ path: file })),
)
