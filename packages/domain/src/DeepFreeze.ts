/**
 * Freezes a value and everything it holds, so an object shared between readers (a stored event, a
 * read-model document) cannot be changed by any of them.
 */
export const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item)
    Object.freeze(value)
  }
  return value
}
