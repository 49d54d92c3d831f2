/**
 * The bridge from fastify handlers to Effect: runs an effect on the app's runtime and returns its
 * value, or throws its typed failure for the error handler to answer with a problem. Defects are
 * logged with the request id and become an InternalError, whose response hides them.
 */
import { Cause, type Effect, Exit, type ManagedRuntime, Option } from "effect"
import type { FastifyRequest } from "fastify"
import { InternalError, ServiceUnavailable } from "../ApiError.ts"
import type { ApiFailure } from "../Problem.ts"

/** Runs `effect`; resolves with its value or rejects with an ApiFailure. */
export const runEffect = async <A, E extends ApiFailure, R>(
  runtime: ManagedRuntime.ManagedRuntime<R, unknown>,
  request: FastifyRequest,
  effect: Effect.Effect<A, E, R>,
): Promise<A> => {
  const exit = await runtime.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) throw failure.value
  if (Cause.hasInterruptsOnly(exit.cause)) {
    throw new ServiceUnavailable({ reason: "The server is shutting down; retry on another instance" })
  }
  request.log.error({ cause: Cause.pretty(exit.cause) }, "unexpected failure")
  throw new InternalError()
}
