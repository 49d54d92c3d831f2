/**
 * Which role may issue which command (the sources: every change of customer data needs a
 * permission). Configurable; the default keeps viewers and auditors read-only and leaves freezing,
 * unfreezing and handovers to managers and admins.
 */
import { Schema } from "effect"
import type { ActorRole } from "./ActorRole.ts"
import { type CustomerCommandType, customerCommandTypes } from "./CustomerCommand.ts"

const CommandTypes = Schema.Array(Schema.Literals(customerCommandTypes))

/** The command types each role may issue. */
export const CommandPermissions = Schema.Struct({
  viewer: CommandTypes,
  rep: CommandTypes,
  manager: CommandTypes,
  auditor: CommandTypes,
  admin: CommandTypes,
})
export type CommandPermissions = typeof CommandPermissions.Type

const managerOnly: ReadonlyArray<CustomerCommandType> = ["FreezeAccount", "UnfreezeAccount", "AssignOwner"]

/** Viewers and auditors only read; reps may do all but freeze, unfreeze and reassign; managers and admins all. */
export const defaultCommandPermissions: CommandPermissions = {
  viewer: [],
  rep: customerCommandTypes.filter((type) => !managerOnly.includes(type)),
  manager: customerCommandTypes,
  auditor: [],
  admin: customerCommandTypes,
}

/** A fast membership test built once from the configuration. */
export const makePermissionCheck = (
  permissions: CommandPermissions,
): ((role: ActorRole, command: CustomerCommandType) => boolean) => {
  const sets = {
    viewer: new Set(permissions.viewer),
    rep: new Set(permissions.rep),
    manager: new Set(permissions.manager),
    auditor: new Set(permissions.auditor),
    admin: new Set(permissions.admin),
  }
  return (role, command) => sets[role].has(command)
}
