import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { DatabaseSync } from "node:sqlite"
// The package's own entry point; tests use only what it exports.
import { SqliteEventStore } from "@relata/adapter-sqlite"
import { eventStoreContract } from "@relata/domain/testing"
import { Effect } from "effect"

/** A fresh folder per test, removed after the store has closed (finalizers run in reverse). */
const freshFile = Effect.acquireRelease(
  Effect.sync(() =>
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "relata-sqlite-contract-")), "events.sqlite"),
  ),
  (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true })),
)

eventStoreContract("SqliteEventStore", () =>
  Effect.gen(function* () {
    const file = yield* freshFile
    const store = yield* SqliteEventStore.make({ path: file })
    return {
      store,
      // Changes a row behind the store's back through a second connection, as anyone with the file could.
      tamper: (target, replacement) =>
        Effect.sync(() => {
          const db = new DatabaseSync(file)
          try {
            db.prepare(
              `UPDATE events
                  SET type = coalesce(?, type), data = coalesce(?, data), metadata = coalesce(?, metadata)
                WHERE stream_id = ? AND version = ?`,
            ).run(
              replacement.type ?? null,
              replacement.data === undefined ? null : JSON.stringify(replacement.data),
              replacement.metadata === undefined ? null : JSON.stringify(replacement.metadata),
              target.streamId,
              target.version,
            )
          } finally {
            db.close()
          }
        }),
    }
  }),
)
