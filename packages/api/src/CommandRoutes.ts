/**
 * One route per Customer command: its method and path, its body (made from the command's own field
 * schemas, so the HTTP body and the command cannot drift apart), and how the body becomes the
 * command's fields. The envelope (command id, actor, issue time) never comes from the body: the
 * server sets it from the token, the Idempotency-Key and its clock.
 */
import { createHash, randomUUID } from "node:crypto"
import {
  ActorId,
  AssignOwner,
  ChangeTier,
  ChurnCustomer,
  ClassifyCustomer,
  CommandEnvelope,
  ContactId,
  ContactInput,
  ConvertToCustomer,
  type CustomerCommandType,
  CustomerId,
  FreezeAccount,
  MarkDealLost,
  PromoteToLoyal,
  QualifyLead,
  Reason,
  RecordFollowUp,
  RecordPurchase,
  RegisterLead,
  RemoveContact,
  ReopenLead,
  UnfreezeAccount,
  UpdateContact,
  UpdateProfile,
  WinBackCustomer,
} from "@relata/domain"
import { Schema } from "effect"
import type { Principal } from "./Auth.ts"
import { ContactPath, CustomerPath } from "./HttpSchemas.ts"

/** The business instant, for back-dated changes; never later than now. */
const effectiveAt = CommandEnvelope.fields.effectiveAt.annotate({
  description:
    "The business date when it differs from now (a back-dated change): an ISO-8601 date or date-time with a time zone, not in the future.",
})

type EnvelopeKey = keyof typeof CommandEnvelope.fields | "_tag"
const envelopeKeys: ReadonlySet<string> = new Set(["_tag", ...Object.keys(CommandEnvelope.fields)])

/** The command's own fields (without its envelope) plus `effectiveAt`: the body of most command routes. */
const bodyOf = <Fields extends Schema.Struct.Fields>(command: { readonly fields: Fields }) => {
  const own = Object.fromEntries(
    Object.entries(command.fields).filter(([key]) => !envelopeKeys.has(key)),
  ) as Omit<Fields, EnvelopeKey>
  return Schema.Struct({ ...own, effectiveAt })
}

/** What the body, path and query of a command request decode to, and who sends it. */
export interface CommandInput {
  readonly body: Record<string, unknown>
  readonly params: { readonly customerId: CustomerId; readonly contactId?: ContactId }
  readonly query: Record<string, unknown>
  readonly principal: Principal
  readonly idempotencyKey: string | undefined
}

/** A command route, its schemas erased to what the generic route code needs. */
export interface CommandRoute {
  readonly command: CustomerCommandType
  readonly method: "POST" | "PUT" | "PATCH" | "DELETE"
  /** fastify's path syntax (`:customerId`). */
  readonly path: string
  readonly operationId: string
  readonly summary: string
  readonly description?: string
  readonly params: Schema.ConstraintDecoder<unknown>
  readonly body?: Schema.ConstraintDecoder<unknown>
  readonly query?: Schema.ConstraintDecoder<unknown>
  /** Every body field is optional, so the body may be left out. */
  readonly bodyOptional?: boolean
  /** Answers 201 Created (with Location) rather than 200. */
  readonly creates?: "customer" | "contact"
  /** The command's customer and fields (without the envelope) from the request. */
  readonly toCommand: (input: CommandInput) => {
    readonly customerId: CustomerId
    readonly fields: Record<string, unknown>
  }
}

const withoutEffectiveAt = (body: Record<string, unknown>): Record<string, unknown> => {
  const { effectiveAt: _, ...fields } = body
  return fields
}

/** The body as the command's fields, for the routes whose body is exactly the command's fields. */
const fieldsFromBody = (input: CommandInput) => ({
  customerId: input.params.customerId,
  fields: withoutEffectiveAt(input.body),
})

/**
 * A new customer's id when the client gives none: derived from the Idempotency-Key when there is
 * one (so a retried registration lands on the same customer and is recognised as a repeat), random
 * otherwise. Both are UUID-shaped.
 */
export const newCustomerId = (principal: Principal, idempotencyKey: string | undefined): CustomerId => {
  if (idempotencyKey === undefined) return CustomerId.make(randomUUID())
  const hex = createHash("sha256").update(`${principal.actorId}\n${idempotencyKey}`).digest("hex")
  // The shape of a UUID version 8 (RFC 9562: custom bits), so it reads like any other id.
  return CustomerId.make(
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`,
  )
}

/** The body of POST /v1/customers. */
export const RegisterLeadBody = Schema.Struct({
  customerId: Schema.optionalKey(CustomerId).annotate({
    description: "The new customer's id; the server makes one when it is left out.",
  }),
  profile: RegisterLead.fields.profile,
  source: RegisterLead.fields.source,
  owner: Schema.optionalKey(ActorId).annotate({
    description: "The responsible rep; defaults to the caller. A rep may only name themselves.",
  }),
  department: RegisterLead.fields.department,
  tier: RegisterLead.fields.tier,
  allowDuplicate: Schema.optionalKey(Schema.Struct({ reason: Reason })).annotate({
    description:
      "Register the lead although the duplicate index found candidates; the reason is recorded in the event.",
  }),
  effectiveAt,
})
export type RegisterLeadBody = typeof RegisterLeadBody.Type

/** The body of POST /v1/customers/{customerId}/contacts: the contact, its id optional. */
const AddContactBody = Schema.Struct({
  ...ContactInput.fields,
  contactId: Schema.optionalKey(ContactId).annotate({
    description: "The contact's id within the account; the server makes one when it is left out.",
  }),
  effectiveAt,
})

const RemoveContactQuery = Schema.Struct({ reason: RemoveContact.fields.reason })

const UpdateContactBody = Schema.Struct({ ...UpdateContact.fields.changes.fields, effectiveAt })
const UpdateProfileBody = Schema.Struct({ ...UpdateProfile.fields.changes.fields, effectiveAt })

const customer = "/v1/customers/:customerId"

/** Every command route, in the order the documentation lists them. */
export const commandRoutes: ReadonlyArray<CommandRoute> = [
  {
    command: "RegisterLead",
    method: "POST",
    path: "/v1/customers",
    operationId: "registerLead",
    summary: "Register a lead",
    description:
      "Creates a customer as a lead. When the duplicate index finds customers with the same normalised name, e-mail or phone, answers 409 listing them, unless `allowDuplicate` gives a reason.",
    params: Schema.Struct({}),
    body: RegisterLeadBody,
    creates: "customer",
    toCommand: ({ body, principal, idempotencyKey }) => {
      const { customerId, owner, allowDuplicate: _, effectiveAt: __, ...fields } = body as RegisterLeadBody
      return {
        customerId: customerId ?? newCustomerId(principal, idempotencyKey),
        fields: { ...fields, owner: owner ?? principal.actorId },
      }
    },
  },
  {
    command: "QualifyLead",
    method: "POST",
    path: `${customer}/qualify`,
    operationId: "qualifyLead",
    summary: "Qualify a lead as a prospect",
    params: CustomerPath,
    body: bodyOf(QualifyLead),
    bodyOptional: true,
    toCommand: fieldsFromBody,
  },
  {
    command: "MarkDealLost",
    method: "POST",
    path: `${customer}/lose`,
    operationId: "markDealLost",
    summary: "Mark the deal with a lead or prospect as lost",
    params: CustomerPath,
    body: bodyOf(MarkDealLost),
    toCommand: fieldsFromBody,
  },
  {
    command: "ReopenLead",
    method: "POST",
    path: `${customer}/reopen`,
    operationId: "reopenLead",
    summary: "Reopen a lost deal, as a lead",
    params: CustomerPath,
    body: bodyOf(ReopenLead),
    bodyOptional: true,
    toCommand: fieldsFromBody,
  },
  {
    command: "ConvertToCustomer",
    method: "POST",
    path: `${customer}/convert`,
    operationId: "convertToCustomer",
    summary: "Convert a prospect into a customer with its first purchase",
    params: CustomerPath,
    body: bodyOf(ConvertToCustomer),
    toCommand: fieldsFromBody,
  },
  {
    command: "RecordPurchase",
    method: "POST",
    path: `${customer}/purchases`,
    operationId: "recordPurchase",
    summary: "Record a purchase (may make the customer loyal by policy)",
    params: CustomerPath,
    body: bodyOf(RecordPurchase),
    toCommand: fieldsFromBody,
  },
  {
    command: "PromoteToLoyal",
    method: "POST",
    path: `${customer}/promote`,
    operationId: "promoteToLoyal",
    summary: "Promote a customer to loyal by hand",
    params: CustomerPath,
    body: bodyOf(PromoteToLoyal),
    toCommand: fieldsFromBody,
  },
  {
    command: "ChurnCustomer",
    method: "POST",
    path: `${customer}/churn`,
    operationId: "churnCustomer",
    summary: "Record that a customer was lost",
    params: CustomerPath,
    body: bodyOf(ChurnCustomer),
    toCommand: fieldsFromBody,
  },
  {
    command: "WinBackCustomer",
    method: "POST",
    path: `${customer}/win-back`,
    operationId: "winBackCustomer",
    summary: "Start winning back a churned customer (a prospect again)",
    params: CustomerPath,
    body: bodyOf(WinBackCustomer),
    bodyOptional: true,
    toCommand: fieldsFromBody,
  },
  {
    command: "ChangeTier",
    method: "PUT",
    path: `${customer}/tier`,
    operationId: "changeTier",
    summary: "Set the tier by hand, with a reason",
    params: CustomerPath,
    body: bodyOf(ChangeTier),
    toCommand: fieldsFromBody,
  },
  {
    command: "ClassifyCustomer",
    method: "POST",
    path: `${customer}/classify`,
    operationId: "classifyCustomer",
    summary: "Apply the classification policy to the tier",
    params: CustomerPath,
    body: bodyOf(ClassifyCustomer),
    bodyOptional: true,
    toCommand: fieldsFromBody,
  },
  {
    command: "FreezeAccount",
    method: "POST",
    path: `${customer}/freeze`,
    operationId: "freezeAccount",
    summary: "Freeze the account: nothing but unfreezing is accepted until then",
    params: CustomerPath,
    body: bodyOf(FreezeAccount),
    toCommand: fieldsFromBody,
  },
  {
    command: "UnfreezeAccount",
    method: "POST",
    path: `${customer}/unfreeze`,
    operationId: "unfreezeAccount",
    summary: "Unfreeze the account",
    params: CustomerPath,
    body: bodyOf(UnfreezeAccount),
    toCommand: fieldsFromBody,
  },
  {
    command: "AssignOwner",
    method: "PUT",
    path: `${customer}/owner`,
    operationId: "assignOwner",
    summary: "Hand the customer over to another rep (and department)",
    params: CustomerPath,
    body: bodyOf(AssignOwner),
    toCommand: fieldsFromBody,
  },
  {
    command: "AddContact",
    method: "POST",
    path: `${customer}/contacts`,
    operationId: "addContact",
    summary: "Add a contact person",
    params: CustomerPath,
    body: AddContactBody,
    creates: "contact",
    toCommand: ({ body, params }) => {
      const { contactId, ...contact } = withoutEffectiveAt(body)
      return {
        customerId: params.customerId,
        fields: { contact: { ...contact, contactId: contactId ?? ContactId.make(randomUUID()) } },
      }
    },
  },
  {
    command: "UpdateContact",
    method: "PATCH",
    path: `${customer}/contacts/:contactId`,
    operationId: "updateContact",
    summary: "Change a contact's details (given fields are set, null clears one)",
    params: ContactPath,
    body: UpdateContactBody,
    toCommand: ({ body, params }) => ({
      customerId: params.customerId,
      fields: { contactId: params.contactId, changes: withoutEffectiveAt(body) },
    }),
  },
  {
    command: "RemoveContact",
    method: "DELETE",
    path: `${customer}/contacts/:contactId`,
    operationId: "removeContact",
    summary: "Remove a contact person",
    params: ContactPath,
    query: RemoveContactQuery,
    toCommand: ({ params, query }) => ({
      customerId: params.customerId,
      fields: { contactId: params.contactId, ...query },
    }),
  },
  {
    command: "RecordFollowUp",
    method: "POST",
    path: `${customer}/follow-ups`,
    operationId: "recordFollowUp",
    summary: "Record a follow-up (visit, call, e-mail...)",
    params: CustomerPath,
    body: bodyOf(RecordFollowUp),
    toCommand: fieldsFromBody,
  },
  {
    command: "UpdateProfile",
    method: "PATCH",
    path: `${customer}/profile`,
    operationId: "updateProfile",
    summary: "Change the basic information (given fields are set, null clears one)",
    params: CustomerPath,
    body: UpdateProfileBody,
    toCommand: ({ body, params }) => ({
      customerId: params.customerId,
      fields: { changes: withoutEffectiveAt(body) },
    }),
  },
]
