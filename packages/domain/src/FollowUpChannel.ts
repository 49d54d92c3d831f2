import { Schema } from "effect"

/** How a follow-up (revisit) reached the customer. */
export const FollowUpChannel = Schema.Literals(["phone", "visit", "email", "message", "meeting", "other"])
export type FollowUpChannel = typeof FollowUpChannel.Type
