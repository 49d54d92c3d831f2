/**
 * Global positions <-> KurrentDB log positions.
 *
 * Our GlobalPosition is the event's commit position: a byte offset in the transaction log, a bigint
 * that never passes through a JavaScript number. Every event written through gRPC commits itself,
 * so its commit and prepare positions are the same offset (the server's `ResolvedEvent` computes
 * `TFPos(LogPosition, LogPosition)` for self-committed events); a position to resume from is
 * therefore `{ commit: p, prepare: p }`. Only events of the legacy TCP API's explicit transactions
 * share one commit position and carry none on stream reads; Relata never writes those.
 */
import { type Position, type ReadPosition, START } from "@kurrent/kurrentdb-client"
import { type GlobalPosition, StartOfStore } from "@relata/domain"

/** The global position of a log position. */
export const fromLogPosition = (position: Position): GlobalPosition => position.commit

/** The log position of a global position (after StartOfStore). */
export const toLogPosition = (position: GlobalPosition): Position => ({ commit: position, prepare: position })

/** Where a read or subscription that wants the events strictly after `after` starts. */
export const readPositionAfter = (after: GlobalPosition): ReadPosition =>
  after <= StartOfStore ? START : toLogPosition(after)

/**
 * The global position of an event read from `$all` or a stream: its own log position, else the
 * resolved event's commit position; undefined when the server sent neither (a server older than
 * 22.6 reading a stream, or an event of an explicit transaction).
 */
export const positionOf = (resolved: {
  readonly event?: { readonly position?: Position | undefined } | undefined
  readonly commitPosition?: bigint | undefined
}): GlobalPosition | undefined =>
  resolved.event?.position !== undefined ? fromLogPosition(resolved.event.position) : resolved.commitPosition
