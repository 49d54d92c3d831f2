/**
 * Reading a `kurrentdb://` connection string before the client does, for two reasons: our errors
 * must name the server without the password, and the client must never see a string it would
 * complain about on the console, because its warnings (unknown options, the deprecated `esdb://`)
 * and parse errors quote the whole string, password included.
 *
 *   kurrentdb://[user:password@]host[:port][,host[:port]…][?option=value&…]
 *   kurrentdb+discover://…  (one DNS name resolving to the cluster's nodes)
 */

export interface ConnectionTarget {
  readonly scheme: string
  /** `host:port` of every node given (the port defaults to 2113). */
  readonly hosts: ReadonlyArray<string>
  readonly user: string | undefined
  /** TLS is on unless the string says `tls=false`. */
  readonly tls: boolean
  /** The string with the password replaced by `***`. */
  readonly redacted: string
  /** The password as written and decoded: to scrub from any text that reaches an error. */
  readonly secrets: ReadonlyArray<string>
}

const schemes = new Set([
  "kurrentdb",
  "kurrentdb+discover",
  "kurrent",
  "kurrent+discover",
  "kdb",
  "kdb+discover",
])

// The client's options, compared as it compares them: case and `_`/`-` do not matter.
const knownOptions = new Set(
  [
    "userCertFile",
    "userKeyFile",
    "maxDiscoverAttempts",
    "connectionName",
    "defaultDeadline",
    "discoveryInterval",
    "gossipTimeout",
    "nodePreference",
    "tls",
    "tlsVerifyCert",
    "tlsCAFile",
    "throwOnAppendFailure",
    "keepAliveInterval",
    "keepAliveTimeout",
  ].map((option) => flat(option)),
)

function flat(option: string): string {
  return option.trim().toLowerCase().replace(/[_-]/g, "")
}

const booleanOptions = new Set(["tls", "tlsverifycert", "throwonappendfailure"].map(flat))
const integerOptions = new Set(
  [
    "maxDiscoverAttempts",
    "defaultDeadline",
    "discoveryInterval",
    "gossipTimeout",
    "keepAliveInterval",
    "keepAliveTimeout",
  ].map(flat),
)
const nodePreferences = new Set(["leader", "follower", "random", "readonlyreplica"])

const decode = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * The string with its password replaced by `***`. Works on strings that do not parse too, since
 * those are the ones that end up in error messages; when unsure where the password ends it hides
 * more rather than less.
 */
export const redactConnectionString = (value: string): string => {
  const schemeEnd = value.indexOf("://")
  if (schemeEnd < 0) return value.includes("@") ? "***" : value
  const head = value.slice(0, schemeEnd + 3)
  const rest = value.slice(schemeEnd + 3)
  // The last `@`, not the first after the host list: a password may hold a raw `@` or `?`. An `@`
  // in an option's value (rare) then hides more than the password, never less.
  const at = rest.lastIndexOf("@")
  if (at < 0) return value
  const userInfo = rest.slice(0, at)
  const colon = userInfo.indexOf(":")
  const user = colon < 0 ? userInfo : userInfo.slice(0, colon)
  return `${head}${user}${colon < 0 ? "" : ":***"}@${rest.slice(at + 1)}`
}

/** Replaces every occurrence of the secrets in a text by `***`. */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce(
    (scrubbed, secret) => (secret.length === 0 ? scrubbed : scrubbed.split(secret).join("***")),
    text,
  )

export type ParseResult =
  | { readonly ok: true; readonly target: ConnectionTarget }
  | {
      readonly ok: false
      readonly problem: string
      readonly redacted: string
      readonly hosts: ReadonlyArray<string>
    }

/** Reads a connection string, or says (without the password) why it cannot be used. */
export const parseConnectionString = (value: string): ParseResult => {
  const redacted = redactConnectionString(value.trim())
  const failure = (problem: string, hosts: ReadonlyArray<string> = []): ParseResult => ({
    ok: false,
    problem,
    redacted,
    hosts,
  })
  const text = value.trim().replace(/\/+$/, "")
  if (text === "") return failure("the connection string is empty")
  const schemeMatch = /^([a-z+]+):\/\//i.exec(text)
  if (schemeMatch === null) {
    return failure("expected kurrentdb://host:port or kurrentdb+discover://host:port")
  }
  const scheme = (schemeMatch[1] as string).toLowerCase()
  if (scheme === "esdb" || scheme === "esdb+discover") {
    return failure(
      `the ${scheme}:// scheme is deprecated: write the same string with ${scheme.replace("esdb", "kurrentdb")}://`,
    )
  }
  if (!schemes.has(scheme))
    return failure(`${scheme}:// is not a KurrentDB connection string; expected kurrentdb://`)

  let rest = text.slice(schemeMatch[0].length)
  let user: string | undefined
  const secrets: Array<string> = []
  const credentials = /^([^:@/?]+):([^@]+)@/.exec(rest)
  if (credentials !== null) {
    user = decode(credentials[1] as string)
    const password = credentials[2] as string
    secrets.push(password, decode(password), encodeURIComponent(decode(password)))
    rest = rest.slice(credentials[0].length)
  }
  // Whatever follows the credentials holds no `@`, unless the password has an unencoded one; then
  // parts of it would sit in the host list or options, so no message below may quote them.
  if (rest.includes("@")) {
    return failure("credentials must be written user:password@host, with special characters URL-encoded")
  }

  const queryStart = rest.indexOf("?")
  const hostPart = (queryStart < 0 ? rest : rest.slice(0, queryStart)).replace(/\/+$/, "")
  const query = queryStart < 0 ? "" : rest.slice(queryStart + 1)
  const hosts: Array<string> = []
  for (const entry of hostPart.split(",")) {
    const [host = "", port = "2113", ...extra] = entry.trim().split(":")
    if (host === "" || extra.length > 0 || !/^[^$+!?*'(),;[\]{}|"%~#<>=&/@\s]+$/.test(host)) {
      return failure(`"${entry}" is not a host or host:port`, hosts)
    }
    const portNumber = Number(port)
    if (!/^[0-9]{1,5}$/.test(port) || portNumber < 1 || portNumber > 65_535) {
      return failure(`"${port}" is not a port number (1 to 65535)`, hosts)
    }
    hosts.push(`${host}:${portNumber}`)
  }
  if (scheme.endsWith("+discover") && hosts.length > 1) {
    return failure(`${scheme}:// takes one DNS name; list several nodes with kurrentdb://`, hosts)
  }

  let tls = true
  if (query !== "") {
    for (const pair of query.split("&")) {
      const equals = pair.indexOf("=")
      const key = equals < 0 ? pair : pair.slice(0, equals)
      const optionValue = equals < 0 ? "" : pair.slice(equals + 1).trim()
      const option = flat(key)
      if (!knownOptions.has(option)) return failure(`unknown option "${key}"`, hosts)
      if (optionValue === "") return failure(`option "${key}" has no value`, hosts)
      if (booleanOptions.has(option) && optionValue !== "true" && optionValue !== "false") {
        return failure(`option "${key}" must be true or false`, hosts)
      }
      if (integerOptions.has(option) && !/^-?[0-9]+$/.test(optionValue)) {
        return failure(`option "${key}" must be a whole number`, hosts)
      }
      if (option === "nodepreference" && !nodePreferences.has(flat(optionValue))) {
        return failure(`option "${key}" must be leader, follower, random or readOnlyReplica`, hosts)
      }
      if (option === "tls") tls = optionValue === "true"
    }
  }
  return { ok: true, target: { scheme, hosts, user, tls, redacted, secrets } }
}
