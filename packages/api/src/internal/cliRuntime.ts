/**
 * What the CLI needs to run on Node without a platform package: the services `effect/cli` asks for
 * (arguments, terminal width, output), a main that turns SIGINT/SIGTERM into interruption (so
 * scoped resources such as a listening server close gracefully), and exit codes scripts can trust.
 */
import { Cause, Effect, Exit, Fiber, FileSystem, Layer, Path, Sink, Stdio, Stream, Terminal } from "effect"
import { ChildProcessSpawner } from "effect/process"

/** Exit codes: 0 done, 1 the command found a problem, 2 bad usage or configuration, 3 a store is unreachable. */
export const ExitCode = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const

const write = (stream: NodeJS.WriteStream) => (chunk: string | Uint8Array) =>
  Effect.sync(() => {
    stream.write(chunk)
  })

/** The Node services `effect/cli` runs on. */
export const cliEnvironment = (argv: ReadonlyArray<string>) =>
  Layer.mergeAll(
    FileSystem.layerNoop({}),
    Path.layer,
    Layer.succeed(
      Stdio.Stdio,
      Stdio.make({
        args: Effect.succeed(argv),
        stdout: () => Sink.forEach(write(process.stdout)),
        stderr: () => Sink.forEach(write(process.stderr)),
        stdin: Stream.empty,
        stdoutIsTerminal: Effect.sync(() => process.stdout.isTTY === true),
        stderrIsTerminal: Effect.sync(() => process.stderr.isTTY === true),
      }),
    ),
    Layer.succeed(
      Terminal.Terminal,
      Terminal.make({
        columns: Effect.sync(() => process.stdout.columns ?? 100),
        rows: Effect.sync(() => process.stdout.rows ?? 40),
        size: Effect.die(new Error("the relata CLI does not follow terminal resizes")),
        readInput: Effect.die(new Error("the relata CLI does not read keys")),
        readLine: Effect.die(new Error("the relata CLI does not prompt")),
        display: (text) => write(process.stdout)(text),
      }),
    ),
    Layer.succeed(
      ChildProcessSpawner.ChildProcessSpawner,
      ChildProcessSpawner.make(() => Effect.die(new Error("the relata CLI starts no processes"))),
    ),
  )

/**
 * Runs the CLI's program as the process's main: SIGINT and SIGTERM interrupt it (a second signal
 * exits at once), and the exit code comes from `exitCodeOf`.
 */
export const runMain = <E>(
  program: Effect.Effect<void, E>,
  exitCodeOf: (cause: Cause.Cause<E>) => number,
): void => {
  const fiber = Effect.runFork(program)
  let signalled = false
  const onSignal = () => {
    if (signalled) process.exit(130)
    signalled = true
    Effect.runFork(Fiber.interrupt(fiber))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    // An interruption we asked for (a signal) is a clean stop.
    process.exitCode = Exit.isSuccess(exit)
      ? ExitCode.ok
      : Cause.hasInterruptsOnly(exit.cause)
        ? signalled
          ? ExitCode.ok
          : 130
        : exitCodeOf(exit.cause)
  })
}
