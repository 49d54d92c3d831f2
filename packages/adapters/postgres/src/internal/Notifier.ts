/**
 * Wakes caught-up subscribers when an append commits: one dedicated connection per store LISTENs on
 * the schema's channel (a pooled connection cannot: LISTEN belongs to a session, and the pool hands
 * sessions to other queries). The append function NOTIFYs in its transaction, so the notification
 * arrives only after the events are visible.
 *
 * The connection opens when the first subscriber registers and reconnects with backoff when it
 * drops. Every (re)connection wakes all subscribers, since notifications sent while it was down are
 * lost; subscribers also poll, so a dead listener delays delivery but never loses an event.
 */
import pg from "pg"

export interface Notifier {
  /** Calls `wake` after every commit on the channel (and on reconnects). Returns the unregistration. */
  readonly register: (wake: () => void) => () => void
  /** Whether the LISTEN connection is up; for tests and health checks. */
  readonly listening: () => boolean
  /** The server process id of the LISTEN connection, when it is up; lets tests cut it. */
  readonly backendPid: () => number | undefined
  readonly close: () => Promise<void>
}

const minBackoffMs = 100
const maxBackoffMs = 5_000

export const makeNotifier = (clientConfig: pg.ClientConfig, channel: string): Notifier => {
  const wakers = new Set<() => void>()
  let client: pg.Client | undefined
  let pid: number | undefined
  let connecting = false
  let closed = false
  let started = false
  let backoffMs = minBackoffMs
  let retryTimer: NodeJS.Timeout | undefined

  const wakeAll = (): void => {
    for (const wake of wakers) wake()
  }

  const connect = async (): Promise<void> => {
    if (closed || connecting || client !== undefined) return
    connecting = true
    const candidate = new pg.Client(clientConfig)
    let lost = false
    const onLost = (): void => {
      if (lost) return
      lost = true
      if (client === candidate) {
        client = undefined
        pid = undefined
      }
      candidate.end().catch(() => undefined)
      scheduleReconnect()
    }
    // Without an error listener a dropped connection would crash the process.
    candidate.on("error", onLost)
    candidate.on("end", onLost)
    candidate.on("notification", (message) => {
      if (message.channel === channel) wakeAll()
    })
    try {
      await candidate.connect()
      await candidate.query(`LISTEN "${channel}"`)
      const result = await candidate.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")
      if (closed || lost) {
        await candidate.end().catch(() => undefined)
        return
      }
      client = candidate
      pid = result.rows[0]?.pid
      backoffMs = minBackoffMs
      // Commits made while we were not listening sent notifications nobody received.
      wakeAll()
    } catch {
      onLost()
    } finally {
      connecting = false
    }
  }

  const scheduleReconnect = (): void => {
    if (closed || retryTimer !== undefined) return
    const delay = backoffMs
    backoffMs = Math.min(backoffMs * 2, maxBackoffMs)
    retryTimer = setTimeout(() => {
      retryTimer = undefined
      void connect()
    }, delay)
    // A pending reconnect must not keep the process alive.
    retryTimer.unref()
  }

  return {
    register: (wake) => {
      wakers.add(wake)
      if (!started) {
        started = true
        void connect()
      }
      return () => {
        wakers.delete(wake)
      }
    },
    listening: () => client !== undefined,
    backendPid: () => pid,
    close: async () => {
      closed = true
      if (retryTimer !== undefined) clearTimeout(retryTimer)
      retryTimer = undefined
      // Woken subscribers read once more, find the store closed and fail now, not at their next poll.
      wakeAll()
      wakers.clear()
      const current = client
      client = undefined
      pid = undefined
      if (current !== undefined) await current.end().catch(() => undefined)
    },
  }
}
