import type { Type } from 'avsc'
import avro from 'avsc'
import { describe, expect, it } from 'vitest'
import { compileSchema, EventCodec, MAX_EXACT_LONG, newestBundledSchema } from '../../kafka/codec.ts'
import { flatReader, madeAsLiteral } from '../../kafka/flat-record.ts'
import {
  MERCHANT_EVENT,
  RISK_ALERT,
  RULE_HIT,
  type SchemaName,
  TERMINAL_TRANSACTION,
} from '../../schemas/contract.ts'
import { prng } from '../../simulator/generator.ts'
import { sampleMerchantEvent, sampleTxn } from '../helpers/events.ts'

const INPUTS: readonly SchemaName[] = [TERMINAL_TRANSACTION, MERCHANT_EVENT]

function compiled(name: SchemaName): { type: Type; exactLong: Type } {
  const type = compileSchema(newestBundledSchema(name))
  if (!(type instanceof avro.types.RecordType)) throw new Error(`${name} is not a record`)
  const long = type.fields.find((f) => f.name === 'event_time')
  if (long === undefined) throw new Error(`${name} has no event_time`)
  return { type, exactLong: long.type }
}

/** What the codec made of a body before the flat reader: avsc's record as a plain object; null when avsc throws. */
function reference(type: Type, body: Buffer): Record<string, unknown> | null {
  let decoded: unknown
  try {
    decoded = type.fromBuffer(body)
  } catch {
    return null
  }
  if (typeof decoded !== 'object' || decoded === null) throw new Error('not a record')
  return { ...decoded }
}

const LONGS: readonly (number | bigint)[] = [
  0,
  -1,
  1,
  63,
  64,
  -64,
  -65,
  2 ** 31,
  -(2 ** 31),
  Date.UTC(2026, 0, 15),
  2 ** 48,
  MAX_EXACT_LONG,
  -MAX_EXACT_LONG,
  BigInt(MAX_EXACT_LONG) + 1n,
  -BigInt(MAX_EXACT_LONG) - 1n,
  2n ** 55n,
  2n ** 63n - 1n,
  -(2n ** 63n),
]
const DOUBLES = [0, -0, 1.5, -180, 90, Number.NaN, Number.POSITIVE_INFINITY, Number.MIN_VALUE, 1e300]
const CHARS = ['a', 'Z', '0', '9', '-', ' ', 'é', '卡', '４', '😀', '\u0000', '\u200b']

function randomValue(type: Type, next: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => {
    const x = xs[Math.floor(next() * xs.length)]
    if (x === undefined) throw new Error('empty choice')
    return x
  }
  if (type instanceof avro.types.EnumType) return pick(type.symbols)
  if (type instanceof avro.types.UnwrappedUnionType) {
    const branch = pick(type.types)
    return branch.typeName === 'null' ? null : randomValue(branch, next)
  }
  switch (type.typeName) {
    case 'string': {
      let s = ''
      const length = next() < 0.1 ? 0 : Math.floor(next() * (next() < 0.05 ? 300 : 24))
      for (let i = 0; i < length; i++) s += pick(CHARS)
      return s
    }
    case 'double':
      return pick(DOUBLES)
    default:
      return next() < 0.5 ? pick(LONGS) : Math.floor((next() - 0.5) * 2 ** 40)
  }
}

function randomRecord(type: Type, next: () => number): Record<string, unknown> {
  if (!(type instanceof avro.types.RecordType)) throw new Error('not a record')
  const record: Record<string, unknown> = {}
  for (const f of type.fields) record[f.name] = randomValue(f.type, next)
  return record
}

describe('flatReader', () => {
  it.each(INPUTS)('reads every random %s as avsc does, keys in order', (name) => {
    const { type, exactLong } = compiled(name)
    const read = flatReader(type, exactLong)
    if (read === null) throw new Error(`no flat reader for ${name}`)
    const next = prng(14)
    let fast = 0
    for (let i = 0; i < 3_000; i++) {
      const body = type.toBuffer(randomRecord(type, next))
      const expected = reference(type, body)
      const got = read(body, 0)
      // A long beyond 2^53 is avsc's (a bigint, which the codec reports); everything else is read.
      const bigint = expected !== null && Object.values(expected).some((v) => typeof v === 'bigint')
      if (bigint) expect(got).toBeUndefined()
      else {
        expect(got).toStrictEqual(expected)
        expect(Object.keys(got ?? {})).toStrictEqual(Object.keys(expected ?? {}))
        fast++
      }
    }
    expect(fast).toBeGreaterThan(1_000)
  })

  it.each(INPUTS)('reads a damaged %s only when avsc reads it, and then the same', (name) => {
    const { type, exactLong } = compiled(name)
    const read = flatReader(type, exactLong)
    if (read === null) throw new Error(`no flat reader for ${name}`)
    const next = prng(41)
    const check = (body: Buffer) => {
      const got = read(body, 0)
      if (got !== undefined) expect(got).toStrictEqual(reference(type, body))
    }
    for (let i = 0; i < 300; i++) {
      const body = type.toBuffer(randomRecord(type, next))
      for (let end = 0; end < body.length; end++) expect(read(body.subarray(0, end), 0)).toBeUndefined()
      check(Buffer.concat([body, Buffer.from([0])]))
      for (let k = 0; k < 20; k++) {
        const damaged = Buffer.from(body)
        damaged[Math.floor(next() * damaged.length)] = Math.floor(next() * 256)
        check(damaged)
      }
    }
  })

  it.each(INPUTS)("makes every %s as an object literal of its schema's fields", (name) => {
    const { type } = compiled(name)
    if (!(type instanceof avro.types.RecordType)) throw new Error('not a record')
    // A field added to the schema without its literal would fall back to the slower generic way.
    expect(madeAsLiteral(type.fields.map((f) => f.name))).toBe(true)
  })

  it('reads a flat record of other fields the generic way, as avsc does', () => {
    const type = avro.Type.forSchema({
      type: 'record',
      name: 'Other',
      fields: [
        { name: 'b', type: 'string' },
        { name: 'a', type: ['null', 'double'], default: null },
      ],
    })
    expect(madeAsLiteral(['b', 'a'])).toBe(false)
    const read = flatReader(type, compiled(TERMINAL_TRANSACTION).exactLong)
    for (const record of [
      { b: 'x', a: 1.5 },
      { b: '', a: null },
    ]) {
      const got = read?.(type.toBuffer(record), 0)
      expect(got).toStrictEqual(reference(type, type.toBuffer(record)))
      expect(Object.keys(got ?? {})).toStrictEqual(['b', 'a'])
    }
  })

  it('reads from an offset to the end of the buffer (a framed message)', () => {
    const { type, exactLong } = compiled(TERMINAL_TRANSACTION)
    const txn = sampleTxn()
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 3, 233]), type.toBuffer(txn)])
    expect(flatReader(type, exactLong)?.(framed, 5)).toStrictEqual(txn)
  })

  it('reads non-canonical varints as avsc does (padded continuation bytes)', () => {
    const { type, exactLong } = compiled(MERCHANT_EVENT)
    const body = type.toBuffer(sampleMerchantEvent({ event_id: '' }))
    // event_id's length 0 as two bytes, 0x80 0x00: avsc reads 0 as well.
    const padded = Buffer.concat([Buffer.from([0x80, 0x00]), body.subarray(1)])
    expect(flatReader(type, exactLong)?.(padded, 0)).toStrictEqual(reference(type, padded))
  })

  it.each<SchemaName>([RISK_ALERT, RULE_HIT])('does not read %s, which has fields of other types', (name) => {
    const type = compileSchema(newestBundledSchema(name))
    const long = compileSchema('long')
    expect(flatReader(type, long)).toBeNull()
  })

  it("reads only the codec's long: avsc's own long throws where the codec's gives a bigint", () => {
    const type = compileSchema(newestBundledSchema(TERMINAL_TRANSACTION), { exactLongs: false })
    expect(flatReader(type, compileSchema('long'))).toBeNull()
  })
})

describe('EventCodec with the flat reader', () => {
  it('decodes the input topics as before, a long beyond 2^53 still refused by name', async () => {
    const codec = new EventCodec()
    const txn = sampleTxn({ card_bin: null, latitude: null, longitude: null })
    const framed = await codec.encode(TERMINAL_TRANSACTION, txn, 'avro')
    expect(await codec.decode(TERMINAL_TRANSACTION, framed)).toStrictEqual({
      ok: true,
      record: txn,
      format: 'avro',
      schemaId: framed.readUInt32BE(1),
    })
    expect(codec.decodeNow(TERMINAL_TRANSACTION, framed)).toStrictEqual(
      await codec.decode(TERMINAL_TRANSACTION, framed),
    )
    const { type } = compiled(TERMINAL_TRANSACTION)
    const huge = Buffer.concat([
      framed.subarray(0, 5),
      type.toBuffer({ ...txn, amount_minor: BigInt(MAX_EXACT_LONG) + 1n }),
    ])
    const refused = codec.decodeNow(TERMINAL_TRANSACTION, huge)
    expect(refused?.ok).toBe(false)
    if (refused?.ok === false) {
      expect(refused.error.code).toBe('RISK_ERR_INVALID_FIELD')
      expect(refused.error.context.field).toBe('amount_minor')
    }
  })
})
