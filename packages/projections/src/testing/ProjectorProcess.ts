/**
 * A projection runner in a child process of its own, for crash tests that SIGKILL it: the script
 * prints `ready` once it has opened its stores and started its runner, and `done <position>` each
 * time it has caught up with a position.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"

export interface ProjectorExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

export interface ProjectorProcess {
  readonly process: ChildProcessWithoutNullStreams
  /** Resolves once the child has opened the stores and started its runner. */
  readonly ready: Promise<void>
  /** Resolves once the child reports being caught up with `position` or later. */
  readonly done: (position: bigint) => Promise<void>
  readonly exit: Promise<ProjectorExit>
}

/** Runs `script` (a `.ts` file Node runs directly) with `args` under the Node running the tests. */
export const spawnProjector = (script: string, args: ReadonlyArray<string>): ProjectorProcess => {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const listeners: Array<() => void> = []
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8")
    for (const listener of listeners) listener()
  })
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const exit = new Promise<ProjectorExit>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stderr })),
  )
  const until = (holds: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      if (holds()) return resolve()
      listeners.push(() => holds() && resolve())
      void exit.then(({ code, signal }) =>
        holds() ? resolve() : reject(new Error(`projector exited (${code ?? signal}): ${stderr}`)),
      )
    })
  return {
    process: child,
    ready: until(() => stdout.startsWith("ready\n")),
    done: (position) =>
      until(() =>
        stdout.split("\n").some((line) => line.startsWith("done ") && BigInt(line.slice(5)) >= position),
      ),
    exit,
  }
}
