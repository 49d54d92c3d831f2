/**
 * The audit trail read model: entries per event (with field-level changes), their projection and
 * queries, the replay of one customer from the event store, hash-chain verification and the heads
 * digest over the event store, and JSON Lines / CSV exports. See README.md for the digest algorithm.
 */
export * from "./AuditEntry.ts"
export * from "./AuditExport.ts"
export * from "./AuditTrailProjection.ts"
export * from "./AuditTrailQueries.ts"
export * from "./AuditVerification.ts"
export * from "./CustomerAuditReplay.ts"
