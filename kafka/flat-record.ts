import type { Type } from 'avsc'
import avro from 'avsc'

/**
 * A reader of the Avro body of a flat record (fields of strings, longs, doubles, enums, and unions of
 * null with one of these, null first): straight into a plain object, as avsc's `fromBuffer` followed by
 * the codec's copy into a plain object gives it, without avsc's record instance, its copy, nor the
 * eight-byte buffer and bigint each long takes (the codec's exact long). Our input topics' records are
 * such records, and decoding them was a fifth of the rules worker's own work.
 *
 * It reads only what it reads exactly as avsc would; anything else (a truncated body, trailing bytes,
 * an index out of range, a long beyond ±(2^53 - 2), an unusual varint) gives undefined, and the caller
 * decodes with avsc, which gives the error or the bigint the codec reports.
 */
export type FlatReader = (buf: Buffer, from: number) => Record<string, unknown> | undefined

const STRING = 0
const LONG = 1
const DOUBLE = 2
const ENUM = 3

interface FieldReader {
  readonly name: string
  readonly kind: number
  readonly nullable: boolean
  /** An enum's symbols, by index. */
  readonly symbols: readonly string[]
}

/** avsc's bound for a long held as a number (codec.ts MAX_EXACT_LONG). */
const MAX_EXACT_LONG = 2 ** 53 - 2

function kindOf(type: Type, exactLong: Type): number | null {
  if (type instanceof avro.types.EnumType) return ENUM
  // Only the codec's own long: avsc's gives a number or throws, and others may read otherwise.
  if (type === exactLong) return LONG
  switch (type.typeName) {
    case 'string':
      return STRING
    case 'double':
      return DOUBLE
    default:
      return null
  }
}

function fieldReader(name: string, type: Type, exactLong: Type): FieldReader | null {
  let nullable = false
  let value = type
  if (type instanceof avro.types.UnwrappedUnionType) {
    const [first, second, ...rest] = type.types
    if (first?.typeName !== 'null' || second === undefined || rest.length > 0) return null
    nullable = true
    value = second
  }
  const kind = kindOf(value, exactLong)
  if (kind === null) return null
  const symbols = value instanceof avro.types.EnumType ? value.symbols : []
  return { name, kind, nullable, symbols }
}

/**
 * The reader of a record type, or null when a field is of a type it does not read. `exactLong` is the
 * codec's long type (a number within ±(2^53 - 2), a bigint beyond), the only long it reads.
 */
export function flatReader(type: Type, exactLong: Type): FlatReader | null {
  if (!(type instanceof avro.types.RecordType)) return null
  const fields: FieldReader[] = []
  for (const f of type.fields) {
    const reader = fieldReader(f.name, f.type, exactLong)
    if (reader === null) return null
    fields.push(reader)
  }
  return (buf, from) => read(fields, buf, from)
}

/** Where the last varint ended: the readers below return a value and leave its end here. */
let at = 0

/**
 * A small non-negative or negative varint (a length or an index) of at most four bytes, as avsc's
 * Tap.readLong reads it; NaN when longer or past the end.
 */
function smallVarint(buf: Buffer, pos: number): number {
  let n = 0
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= buf.length) return Number.NaN
    const b = buf[pos++] ?? 0
    n |= (b & 0x7f) << shift
    if ((b & 0x80) === 0) {
      at = pos
      return (n >>> 1) ^ -(n & 1)
    }
  }
  return Number.NaN
}

/**
 * A zig-zag long of at most eight bytes whose value a number holds exactly (within ±(2^53 - 2), the
 * codec's exact long); NaN otherwise (longer, past the end, or a value avsc gives as a bigint).
 */
function exactLong(buf: Buffer, pos: number): number {
  if (pos >= buf.length) return Number.NaN
  let b = buf[pos++] ?? 0
  const negative = (b & 1) === 1
  // The magnitude without its sign bit: every term is exact while it stays below 2^53.
  let magnitude = (b & 0x7f) >>> 1
  let scale = 64
  for (let bytes = 1; (b & 0x80) !== 0; bytes++) {
    if (bytes === 8 || pos >= buf.length) return Number.NaN
    b = buf[pos++] ?? 0
    magnitude += (b & 0x7f) * scale
    scale *= 128
  }
  at = pos
  // -(m + 1) for a negative: its bound is one less.
  if (magnitude > MAX_EXACT_LONG - (negative ? 1 : 0)) return Number.NaN
  return negative ? -magnitude - 1 : magnitude
}

function read(
  fields: readonly FieldReader[],
  buf: Buffer,
  from: number,
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {}
  let pos = from
  for (const f of fields) {
    if (f.nullable) {
      const branch = smallVarint(buf, pos)
      if (branch === 0) {
        pos = at
        out[f.name] = null
        continue
      }
      if (branch !== 1) return undefined
      pos = at
    }
    switch (f.kind) {
      case STRING: {
        const length = smallVarint(buf, pos)
        if (!(length >= 0) || at + length > buf.length) return undefined
        pos = at + length
        out[f.name] = buf.toString('utf8', at, pos)
        break
      }
      case LONG: {
        const v = exactLong(buf, pos)
        if (Number.isNaN(v)) return undefined
        pos = at
        out[f.name] = v
        break
      }
      case DOUBLE:
        if (pos + 8 > buf.length) return undefined
        out[f.name] = buf.readDoubleLE(pos)
        pos += 8
        break
      default: {
        const symbol = f.symbols[smallVarint(buf, pos)]
        if (symbol === undefined) return undefined
        pos = at
        out[f.name] = symbol
      }
    }
  }
  return pos === buf.length ? out : undefined
}
