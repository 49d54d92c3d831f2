import { makeInMemorySnapshotStore } from "@relata/domain"
import { snapshotStoreContract } from "@relata/domain/testing"
import { Effect } from "effect"

snapshotStoreContract("InMemorySnapshotStore", () => Effect.sync(makeInMemorySnapshotStore))
