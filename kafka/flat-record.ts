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
  const make = LITERALS.get(fields.map((f) => f.name).join(',')) ?? generic(fields)
  return (buf, from) => read(fields, buf, from, make)
}

type Make = (values: readonly unknown[]) => Record<string, unknown>

/**
 * The input schemas' records as object literals, by their field names in order. A literal makes the
 * object at its full size, its fields in the object itself, every one of the same shape; added field
 * by field, an object outgrows its first four slots and reallocates its property store as it grows,
 * and was the largest allocation of the rules worker. A schema whose fields are not listed here is
 * read the generic way, just as exactly (a test checks both input schemas have theirs).
 */
const LITERALS: ReadonlyMap<string, Make> = new Map<string, Make>([
  [
    'txn_id,event_time,acquirer_id,merchant_id,terminal_id,card_token,card_bin,card_type,txn_type,amount_minor,currency,mcc,entry_mode,response_code,latitude,longitude',
    (v) => ({
      txn_id: v[0],
      event_time: v[1],
      acquirer_id: v[2],
      merchant_id: v[3],
      terminal_id: v[4],
      card_token: v[5],
      card_bin: v[6],
      card_type: v[7],
      txn_type: v[8],
      amount_minor: v[9],
      currency: v[10],
      mcc: v[11],
      entry_mode: v[12],
      response_code: v[13],
      latitude: v[14],
      longitude: v[15],
    }),
  ],
  [
    'event_id,event_time,acquirer_id,merchant_id,terminal_id,kind,registered_mcc,merchant_name,latitude,longitude,settlement_account_token',
    (v) => ({
      event_id: v[0],
      event_time: v[1],
      acquirer_id: v[2],
      merchant_id: v[3],
      terminal_id: v[4],
      kind: v[5],
      registered_mcc: v[6],
      merchant_name: v[7],
      latitude: v[8],
      longitude: v[9],
      settlement_account_token: v[10],
    }),
  ],
])

/** Whether records of these field names (in order) are made as a literal. */
export function madeAsLiteral(names: readonly string[]): boolean {
  return LITERALS.has(names.join(','))
}

function generic(fields: readonly FieldReader[]): Make {
  return (values) => {
    const out: Record<string, unknown> = {}
    for (let i = 0; i < fields.length; i++) out[fields[i]?.name ?? ''] = values[i]
    return out
  }
}

/** The values of the record being read, by field: read is synchronous, so one array serves them all. */
const scratch: unknown[] = []

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
  make: Make,
): Record<string, unknown> | undefined {
  const values = scratch
  let pos = from
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as FieldReader
    if (f.nullable) {
      const branch = smallVarint(buf, pos)
      if (branch === 0) {
        pos = at
        values[i] = null
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
        values[i] = buf.toString('utf8', at, pos)
        break
      }
      case LONG: {
        const v = exactLong(buf, pos)
        if (Number.isNaN(v)) return undefined
        pos = at
        values[i] = v
        break
      }
      case DOUBLE:
        if (pos + 8 > buf.length) return undefined
        values[i] = buf.readDoubleLE(pos)
        pos += 8
        break
      default: {
        const symbol = f.symbols[smallVarint(buf, pos)]
        if (symbol === undefined) return undefined
        pos = at
        values[i] = symbol
      }
    }
  }
  return pos === buf.length ? make(values) : undefined
}
