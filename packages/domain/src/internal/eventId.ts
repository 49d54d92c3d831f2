import { createHash } from "node:crypto"

/**
 * A deterministic event id (UUID layout, version 8 "custom"): the same command yields the same ids,
 * so a retried append is recognisable as a repeat by stores that deduplicate on event id (KurrentDB),
 * and no randomness enters the write path.
 */
export const deterministicEventId = (streamId: string, commandId: string, index: number): string => {
  const hex = createHash("sha256").update(`${streamId}\n${commandId}\n${index}`, "utf8").digest("hex")
  const variant = ((Number.parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`
}
