/**
 * One-dimensional arrays in PostgreSQL's binary wire format, for parameters `pg` sends as is (a
 * Buffer is sent in binary). For an append's many events this spares both sides the text form: no
 * quoting and escaping of every JSON document here, no character-by-character array parsing there.
 *
 * Layout: dimensions (1), has-nulls flag, element type OID, then the dimension's length and lower
 * bound (1), then per element its byte length (-1 for NULL) and bytes.
 */

/** Element type OIDs (pg_type.oid), fixed since PostgreSQL's first releases. */
export const oids = { int4: 23, text: 25, json: 114 } as const

const header = (length: number, hasNulls: boolean, oid: number, bodyBytes: number): Buffer => {
  const buffer = Buffer.allocUnsafe(20 + bodyBytes)
  buffer.writeInt32BE(1, 0)
  buffer.writeInt32BE(hasNulls ? 1 : 0, 4)
  buffer.writeInt32BE(oid, 8)
  buffer.writeInt32BE(length, 12)
  buffer.writeInt32BE(1, 16)
  return buffer
}

/** An array of strings of a text-like type (text, json), in UTF-8. */
export const stringArray = (values: ReadonlyArray<string>, oid: number): Buffer => {
  const lengths = values.map((value) => Buffer.byteLength(value))
  const buffer = header(
    values.length,
    false,
    oid,
    lengths.reduce((sum, n) => sum + 4 + n, 0),
  )
  let offset = 20
  values.forEach((value, index) => {
    const length = lengths[index] as number
    buffer.writeInt32BE(length, offset)
    buffer.write(value, offset + 4, length, "utf8")
    offset += 4 + length
  })
  return buffer
}

/** An int4 array; `null` elements are NULL. */
export const int4Array = (values: ReadonlyArray<number | null>): Buffer => {
  const present = values.filter((value) => value !== null).length
  const buffer = header(values.length, present < values.length, oids.int4, values.length * 4 + present * 4)
  let offset = 20
  for (const value of values) {
    if (value === null) {
      buffer.writeInt32BE(-1, offset)
      offset += 4
    } else {
      buffer.writeInt32BE(4, offset)
      buffer.writeInt32BE(value, offset + 4)
      offset += 8
    }
  }
  return buffer
}
