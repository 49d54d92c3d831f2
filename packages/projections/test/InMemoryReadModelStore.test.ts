import { makeInMemoryReadModelStore } from "@relata/projections"
import { readModelStoreContract } from "@relata/projections/testing"
import { Effect } from "effect"

readModelStoreContract("InMemoryReadModelStore", () => Effect.sync(makeInMemoryReadModelStore))
