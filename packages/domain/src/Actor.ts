import { Schema } from "effect"
import { ActorId } from "./ActorId.ts"
import { ActorRole } from "./ActorRole.ts"

/** Who issues a command, with the role they act in. */
export const Actor = Schema.Struct({ id: ActorId, role: ActorRole })
export type Actor = typeof Actor.Type
