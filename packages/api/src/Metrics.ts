/**
 * The numbers `/metrics` exposes, in Prometheus' text format (version 0.0.4): HTTP requests by
 * route and status, their latency, commands and appended events, and gauges read at scrape time
 * (store head, projection lag). Small enough to need no client library.
 */

type Labels = Readonly<Record<string, string>>

const escapeLabel = (value: string): string =>
  value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"')

const labelText = (labels: Labels): string => {
  const entries = Object.entries(labels)
  return entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
}

/** Latency buckets in seconds: from a cached read to a slow append on a busy disk. */
const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface Histogram {
  readonly counts: Array<number>
  sum: number
  count: number
}

/** A gauge's samples, read when Prometheus scrapes. */
export type GaugeSource = () => Promise<ReadonlyArray<{ readonly labels: Labels; readonly value: number }>>

/** Records the requests of one route: each answer's status and how long it took. */
export type RequestRecorder = (status: number, seconds: number) => void

export interface Metrics {
  /**
   * The recorder of one route template (not raw URLs, to bound the label values). Made once per
   * route, so answering a request looks up no labels.
   */
  readonly requestRecorder: (method: string, route: string) => RequestRecorder
  /** One command handled through the API: its type and outcome (`applied`, `replayed`, or the error tag). */
  readonly recordCommand: (type: string, outcome: string, eventsAppended: number) => void
  /** Adds a gauge read at scrape time. */
  readonly addGauge: (name: string, help: string, source: GaugeSource) => void
  /** Everything, in Prometheus' text format. */
  readonly render: () => Promise<string>
}

/** A fresh set of metrics (one per app). */
export const makeMetrics = (): Metrics => {
  const requests = new Map<string, { labels: Labels; value: number }>()
  const latencies = new Map<string, { labels: Labels; histogram: Histogram }>()
  const commands = new Map<string, { labels: Labels; value: number }>()
  let appended = 0
  const gauges: Array<{ name: string; help: string; source: GaugeSource }> = []

  const increment = (map: Map<string, { labels: Labels; value: number }>, labels: Labels, by = 1) => {
    const key = labelText(labels)
    const entry = map.get(key)
    if (entry === undefined) map.set(key, { labels, value: by })
    else entry.value += by
  }

  const recorders = new Map<string, RequestRecorder>()

  const makeRecorder = (method: string, route: string): RequestRecorder => {
    const labels = { method, route }
    // Series appear at a route's first request, as if each request looked its labels up.
    let histogram: Histogram | undefined
    const byStatus = new Map<number, { labels: Labels; value: number }>()
    return (status, seconds) => {
      if (histogram === undefined) {
        histogram = { counts: latencyBuckets.map(() => 0), sum: 0, count: 0 }
        latencies.set(labelText(labels), { labels, histogram })
      }
      let counter = byStatus.get(status)
      if (counter === undefined) {
        const statusLabels = { ...labels, status: String(status) }
        counter = { labels: statusLabels, value: 0 }
        requests.set(labelText(statusLabels), counter)
        byStatus.set(status, counter)
      }
      counter.value++
      for (let i = 0; i < latencyBuckets.length; i++) {
        if (seconds <= (latencyBuckets[i] as number))
          histogram.counts[i] = (histogram.counts[i] as number) + 1
      }
      histogram.sum += seconds
      histogram.count++
    }
  }

  return {
    requestRecorder: (method, route) => {
      const key = `${method} ${route}`
      let recorder = recorders.get(key)
      if (recorder === undefined) {
        recorder = makeRecorder(method, route)
        recorders.set(key, recorder)
      }
      return recorder
    },
    recordCommand: (type, outcome, eventsAppended) => {
      increment(commands, { type, outcome })
      appended += eventsAppended
    },
    addGauge: (name, help, source) => {
      gauges.push({ name, help, source })
    },
    render: async () => {
      const lines: Array<string> = []
      lines.push("# HELP relata_http_requests_total HTTP requests answered, by route template and status.")
      lines.push("# TYPE relata_http_requests_total counter")
      for (const { labels, value } of requests.values()) {
        lines.push(`relata_http_requests_total${labelText(labels)} ${value}`)
      }
      lines.push(
        "# HELP relata_http_request_duration_seconds Time to answer HTTP requests, by route template.",
      )
      lines.push("# TYPE relata_http_request_duration_seconds histogram")
      for (const { labels, histogram } of latencies.values()) {
        latencyBuckets.forEach((bound, i) => {
          const le = labelText({ ...labels, le: String(bound) })
          lines.push(`relata_http_request_duration_seconds_bucket${le} ${histogram.counts[i]}`)
        })
        lines.push(
          `relata_http_request_duration_seconds_bucket${labelText({ ...labels, le: "+Inf" })} ${histogram.count}`,
        )
        lines.push(`relata_http_request_duration_seconds_sum${labelText(labels)} ${histogram.sum}`)
        lines.push(`relata_http_request_duration_seconds_count${labelText(labels)} ${histogram.count}`)
      }
      lines.push("# HELP relata_commands_total Commands handled through the API, by type and outcome.")
      lines.push("# TYPE relata_commands_total counter")
      for (const { labels, value } of commands.values()) {
        lines.push(`relata_commands_total${labelText(labels)} ${value}`)
      }
      lines.push("# HELP relata_events_appended_total Events appended by commands handled through the API.")
      lines.push("# TYPE relata_events_appended_total counter")
      lines.push(`relata_events_appended_total ${appended}`)
      for (const gauge of gauges) {
        lines.push(`# HELP ${gauge.name} ${gauge.help}`)
        lines.push(`# TYPE ${gauge.name} gauge`)
        try {
          for (const { labels, value } of await gauge.source()) {
            lines.push(`${gauge.name}${labelText(labels)} ${value}`)
          }
        } catch {
          // A gauge whose source is down is left out of this scrape; /ready reports the outage.
        }
      }
      return `${lines.join("\n")}\n`
    },
  }
}
