/**
 * Bearer tokens to principals: who is calling (an actor id, which events record) and in which role.
 * Tokens are configured, never created through the API. The table keeps only SHA-256 digests of the
 * tokens, so comparing a presented token never compares secrets character by character.
 */
import { hash } from "node:crypto"
import { ActorId, ActorRole } from "@relata/domain"
import { Result, Schema } from "effect"
import { Unauthenticated } from "./ApiError.ts"

/** A configured token: the secret, the actor it stands for and the role the actor acts in. */
export const TokenGrant = Schema.Struct({
  token: Schema.String.check(
    Schema.makeFilter((s: string) => s.length >= 16 && s.length <= 512 && /^[\x21-\x7e]+$/.test(s), {
      expected: "a token of 16 to 512 visible ASCII characters",
    }),
  ),
  actorId: ActorId,
  role: ActorRole,
  /** For a manager: the reps they manage (overdue follow-ups and tier changes of these reps). */
  reps: Schema.optionalKey(Schema.Array(ActorId)),
})
export type TokenGrant = typeof TokenGrant.Type

/** The token file's (and `RELATA_TOKENS`'s) content. */
export const TokenGrants = Schema.Array(TokenGrant)

/** Who a request acts as. */
export interface Principal {
  readonly actorId: ActorId
  readonly role: ActorRole
  /** The reps a manager manages (empty for other roles). */
  readonly reps: ReadonlyArray<ActorId>
}

// The one-shot hash: a Hash object per request cost a card read a twentieth of its time.
const digest = (token: string): string => hash("sha256", token, "hex")

/** Reads an `Authorization` header's value. */
export type Authenticator = (authorization: string | undefined) => Result.Result<Principal, Unauthenticated>

const bearer = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i

/** Builds the authenticator over a token table; fails if a token is given twice. */
export const makeAuthenticator = (grants: ReadonlyArray<TokenGrant>): Authenticator => {
  const principals = new Map<string, Principal>()
  for (const grant of grants) {
    const key = digest(grant.token)
    if (principals.has(key)) throw new Error(`A token is configured twice (actor ${grant.actorId})`)
    principals.set(key, { actorId: grant.actorId, role: grant.role, reps: grant.reps ?? [] })
  }
  return (authorization) => {
    if (authorization === undefined || authorization === "") {
      return Result.fail(new Unauthenticated({ reason: "Send a bearer token in the Authorization header" }))
    }
    const match = bearer.exec(authorization)
    const token = match?.[1]
    if (token === undefined) {
      return Result.fail(new Unauthenticated({ reason: "The Authorization header must be `Bearer <token>`" }))
    }
    const principal = principals.get(digest(token))
    return principal === undefined
      ? Result.fail(new Unauthenticated({ reason: "The bearer token is not valid" }))
      : Result.succeed(principal)
  }
}
