import fs from "node:fs"
import os from "node:os"
import path from "node:path"
// The package's own entry point; tests use only what it exports.
import { SqliteSnapshotStore } from "@relata/adapter-sqlite"
import { snapshotStoreContract } from "@relata/domain/testing"
import { Effect } from "effect"

/** A fresh folder per test, removed after the store has closed (finalizers run in reverse). */
const freshFile = Effect.acquireRelease(
  Effect.sync(() =>
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-snapshot-contract-")), "events.sqlite"),
  ),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

snapshotStoreContract("SqliteSnapshotStore", () =>
  Effect.flatMap(freshFile, (file) => SqliteSnapshotStore.make({ path: file })),
)
