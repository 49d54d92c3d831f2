/**
 * The security headers every response carries: @fastify/helmet's defaults, read once. The plugin
 * rebuilds helmet's middleware on every request (parsing the Content-Security-Policy directives
 * again each time) and runs it through two hooks, which cost a card read a tenth of its time
 * (bench/http.bench.ts); the headers never change, so the app sets them from this table instead.
 */
import helmet from "@fastify/helmet"
import Fastify from "fastify"

const read = async (): Promise<Readonly<Record<string, string>>> => {
  const probe = Fastify({ logger: false })
  try {
    await probe.register(helmet, { global: true })
    // Helmet writes on the raw response in its onRequest hook; fastify's own headers (content type,
    // length) are only added when the reply is sent, so the handler sees helmet's alone.
    probe.get("/", (_request, reply) => reply.raw.getHeaders())
    const response = await probe.inject({ method: "GET", url: "/" })
    const headers = response.json() as Record<string, unknown>
    return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, String(value)]))
  } finally {
    await probe.close()
  }
}

let headers: Promise<Readonly<Record<string, string>>> | undefined

/** Helmet's default headers, name (lower case) -> value; computed at the first call. */
export const securityHeaders = (): Promise<Readonly<Record<string, string>>> => {
  headers ??= read()
  return headers
}
