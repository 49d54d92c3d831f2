/**
 * Tokens for a server started without any configured: one per role, made once and kept in a file
 * beside the data (readable by its owner only), so the tokens printed at the first start keep working
 * after a restart. Meant for a laptop and a demo; configure RELATA_TOKENS anywhere else.
 */
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { ActorId, type ActorRole } from "@relata/domain"
import { defaultSimulationConfig } from "@relata/simulator"
import { Schema } from "effect"
import { type TokenGrant, TokenGrants } from "./Auth.ts"

const demo = defaultSimulationConfig
const firstDepartment = demo.departments[0]
const firstRep = demo.reps.find((rep) => rep.department === firstDepartment.name) ?? demo.reps[0]

/**
 * The actors the generated tokens stand for. The rep and the manager are people of the demo data
 * (the simulator's first department), so their tokens work on customers the demo seeded.
 */
export const devActors: ReadonlyArray<{
  readonly actorId: ActorId
  readonly role: ActorRole
  readonly reps?: ReadonlyArray<ActorId>
}> = [
  { actorId: ActorId.make("viewer-1"), role: "viewer" },
  { actorId: ActorId.make(firstRep.id), role: "rep" },
  {
    actorId: ActorId.make(firstDepartment.manager),
    role: "manager",
    reps: demo.reps
      .filter((rep) => rep.department === firstDepartment.name)
      .map((rep) => ActorId.make(rep.id)),
  },
  { actorId: ActorId.make("auditor-1"), role: "auditor" },
  { actorId: ActorId.make("admin-1"), role: "admin" },
]

const newToken = (role: ActorRole): string => `relata_${role}_${randomBytes(24).toString("base64url")}`

/** The tokens in `file`, made (and the file written) when it does not exist yet. */
export const loadOrCreateDevTokens = (
  file: string,
): { readonly grants: ReadonlyArray<TokenGrant>; readonly created: boolean } => {
  if (existsSync(file)) {
    const grants = Schema.decodeUnknownSync(TokenGrants)(JSON.parse(readFileSync(file, "utf8")))
    return { grants, created: false }
  }
  const grants: Array<TokenGrant> = devActors.map((actor) => ({
    token: newToken(actor.role),
    actorId: actor.actorId,
    role: actor.role,
    ...(actor.reps === undefined ? {} : { reps: actor.reps }),
  }))
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, `${JSON.stringify(grants, null, 2)}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return { grants, created: true }
}
