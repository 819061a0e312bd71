import avro from 'avsc'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { compileSchema, EventCodec, MAX_EXACT_LONG, newestBundledSchema } from '../../kafka/codec.ts'
import type { ErrorCode } from '../../lib/errors.ts'
import { containsCardNumber } from '../../lib/luhn.ts'
import {
  MERCHANT_EVENT,
  RISK_ALERT,
  SCORE_EVENT,
  type SchemaName,
  TERMINAL_TRANSACTION,
} from '../../schemas/contract.ts'
import type { MerchantEvent, RiskAlert, TerminalTransaction } from '../../schemas/types.generated.ts'
import { DISGUISES } from '../helpers/card-disguises.ts'
import { sampleMerchantEvent, sampleTxn } from '../helpers/events.ts'

const TXN: TerminalTransaction = sampleTxn({ entry_mode: 'CONTACTLESS', longitude: null })

const EVENT: MerchantEvent = sampleMerchantEvent({
  terminal_id: 'T-9001',
  kind: 'TERMINAL_BOUND',
  registered_mcc: null,
  merchant_name: null,
})

const ALERT: RiskAlert = {
  alert_id: 'al-1',
  created_at: Date.UTC(2026, 0, 15),
  acquirer_id: 'acq-1',
  merchant_id: 'mer-42',
  category: 'FRAUD',
  level: 'HIGH',
  score: 81,
  previous_level: 'MEDIUM',
  reasons: [
    {
      rule_id: 'credit_debit_mix',
      rule_version: 1,
      description: 'Credit share 0.93 of approved amount',
      observed: 0.93,
      threshold: 0.9,
      window_start: Date.UTC(2025, 11, 16),
      window_end: Date.UTC(2026, 0, 15),
      sample_txn_ids: ['txn-1', 'txn-2'],
    },
  ],
}

const PAN = '4111111111111111'

function frame(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(id, 1)
  return Buffer.concat([header, body])
}

function bundledFields(name: SchemaName): unknown[] {
  const schema = newestBundledSchema(name)
  if (
    typeof schema !== 'object' ||
    schema === null ||
    !('fields' in schema) ||
    !Array.isArray(schema.fields)
  ) {
    throw new Error(`${name} is not a record schema`)
  }
  return schema.fields
}

/** The transaction schema with some field definitions replaced or added. */
function transactionSchema(changes: Record<string, unknown>): unknown {
  const fields = bundledFields(TERMINAL_TRANSACTION).map((f) => {
    const name = typeof f === 'object' && f !== null && 'name' in f ? f.name : undefined
    return typeof name === 'string' && name in changes ? changes[name] : f
  })
  const names = new Set(fields.map((f) => (typeof f === 'object' && f !== null && 'name' in f ? f.name : '')))
  for (const [name, field] of Object.entries(changes)) if (!names.has(name)) fields.push(field)
  return { type: 'record', name: 'TerminalTransaction', namespace: 'posrisk.events', fields }
}

/** A newer TerminalTransaction: one optional field more. */
/** A TerminalTransaction of the newer schema, held in a variable: TypeScript only knows the current one. */
const TXN_V2_RECORD = { ...TXN, device_model: 'PAX A920' }

const TXN_V2 = transactionSchema({
  device_model: { name: 'device_model', type: ['null', 'string'], default: null, doc: 'Terminal model.' },
})

async function decodeError(codec: EventCodec, expected: SchemaName, value: Buffer | null) {
  const result = await codec.decode(expected, value)
  if (result.ok) throw new Error(`expected a decode failure, got ${JSON.stringify(result.record)}`)
  return result.error
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('EventCodec round trips', () => {
  const codec = new EventCodec()
  const cases: [string, SchemaName, TerminalTransaction | MerchantEvent | RiskAlert, number][] = [
    ['a transaction', TERMINAL_TRANSACTION, TXN, 1001],
    ['a merchant event', MERCHANT_EVENT, EVENT, 1002],
    ['an alert with nested reasons', RISK_ALERT, ALERT, 1003],
  ]
  it.each(cases)('decodes %s as Avro into a plain object', async (_name, schema, record, id) => {
    const value = await codec.encode(schema, record, 'avro')
    expect(value[0]).toBe(0)
    expect(value.readUInt32BE(1)).toBe(id)
    const result = await codec.decode(schema, value)
    if (!result.ok) throw result.error
    expect(result).toMatchObject({ format: 'avro', schemaId: id })
    expect(result.record).toStrictEqual(record)
    expect(Object.getPrototypeOf(result.record)).toBe(Object.prototype)
  })

  it.each(cases)('decodes %s as JSON into the same object', async (_name, schema, record) => {
    const value = await codec.encode(schema, record, 'json')
    expect(value.toString('utf8').startsWith('{')).toBe(true)
    const json = await codec.decode(schema, value)
    const avro = await codec.decode(schema, await codec.encode(schema, record, 'avro'))
    if (!json.ok || !avro.ok) throw new Error('decode failed')
    expect(json).toMatchObject({ format: 'json', schemaId: null })
    expect(json.record).toStrictEqual(avro.record)
  })

  it('gives nested Avro records as plain objects too', async () => {
    const result = await codec.decode(RISK_ALERT, await codec.encode(RISK_ALERT, ALERT, 'avro'))
    if (!result.ok) throw result.error
    const reasons = result.record.reasons
    if (!Array.isArray(reasons)) throw new Error('reasons is not an array')
    expect(Object.getPrototypeOf(reasons[0])).toBe(Object.prototype)
  })

  it('accepts JSON after leading whitespace', async () => {
    const result = await codec.decode(TERMINAL_TRANSACTION, Buffer.from(` \r\n\t${JSON.stringify(TXN)}`))
    if (!result.ok) throw result.error
    expect(result.record).toStrictEqual(TXN)
  })

  it('gives a JSON record as it came, for the validator to judge', async () => {
    const result = await codec.decode(TERMINAL_TRANSACTION, Buffer.from('{"txn_id":"t","amount_minor":-1}'))
    if (!result.ok) throw result.error
    expect(result.record).toStrictEqual({ txn_id: 't', amount_minor: -1 })
  })
})

describe('EventCodec.decode rejects bad input without throwing', () => {
  const codec = new EventCodec()
  const good = () => codec.encode(TERMINAL_TRANSACTION, TXN, 'avro')
  const intEnums = compileSchema(transactionSchema({ card_type: { name: 'card_type', type: 'int' } }))
  const exact = compileSchema(newestBundledSchema(TERMINAL_TRANSACTION))
  const cases: [string, () => Promise<Buffer | null>, ErrorCode, Record<string, unknown>][] = [
    ['a null value (tombstone)', async () => null, 'RISK_ERR_BAD_FRAME', {}],
    ['an empty value', async () => Buffer.alloc(0), 'RISK_ERR_BAD_FRAME', {}],
    ['plain text', async () => Buffer.from('hello'), 'RISK_ERR_BAD_FRAME', {}],
    ['only whitespace', async () => Buffer.from('  \n '), 'RISK_ERR_BAD_FRAME', {}],
    ['a JSON array', async () => Buffer.from('[1,2]'), 'RISK_ERR_BAD_FRAME', {}],
    ['magic byte 1', async () => Buffer.from([1, 0, 0, 3, 233, 2]), 'RISK_ERR_BAD_FRAME', {}],
    ['a frame shorter than its header', async () => Buffer.from([0, 0, 0, 3]), 'RISK_ERR_BAD_FRAME', {}],
    [
      'unterminated JSON',
      async () => Buffer.from('{"txn_id": "t'),
      'RISK_ERR_JSON_PARSE',
      { format: 'json' },
    ],
    ['JSON followed by junk', async () => Buffer.from('{"a":1} {"b":2}'), 'RISK_ERR_JSON_PARSE', {}],
    [
      'JSON that is not UTF-8',
      async () => Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]),
      'RISK_ERR_JSON_PARSE',
      {},
    ],
    [
      'an unknown schema id',
      async () => frame(9999, Buffer.from([2])),
      'RISK_ERR_UNKNOWN_SCHEMA_ID',
      { schemaId: 9999 },
    ],
    [
      'a merchant event on the transaction topic',
      () => codec.encode(MERCHANT_EVENT, EVENT, 'avro'),
      'RISK_ERR_WRONG_SCHEMA',
      { schemaId: 1002, writer: 'posrisk.events.MerchantEvent' },
    ],
    [
      'an alert id on the transaction topic',
      async () => frame(1003, Buffer.from([2])),
      'RISK_ERR_WRONG_SCHEMA',
      {},
    ],
    [
      'a header without a body',
      async () => frame(1001, Buffer.alloc(0)),
      'RISK_ERR_AVRO_DECODE',
      { schemaId: 1001 },
    ],
    ['a truncated body', async () => (await good()).subarray(0, -3), 'RISK_ERR_AVRO_DECODE', {}],
    [
      'trailing bytes',
      async () => Buffer.concat([await good(), Buffer.from([0])]),
      'RISK_ERR_AVRO_DECODE',
      {},
    ],
    [
      'an enum index out of range',
      async () => frame(1001, intEnums.toBuffer({ ...TXN, card_type: 9 })),
      'RISK_ERR_AVRO_DECODE',
      {},
    ],
    [
      'a negative enum index',
      async () => frame(1001, intEnums.toBuffer({ ...TXN, card_type: -1 })),
      'RISK_ERR_AVRO_DECODE',
      {},
    ],
    [
      'an amount beyond 2^53',
      async () => frame(1001, exact.toBuffer({ ...TXN, amount_minor: 2n ** 53n + 1n })),
      'RISK_ERR_INVALID_FIELD',
      { field: 'amount_minor' },
    ],
    [
      'an amount one past the exact range',
      async () => frame(1001, exact.toBuffer({ ...TXN, amount_minor: BigInt(MAX_EXACT_LONG) + 1n })),
      'RISK_ERR_INVALID_FIELD',
      { field: 'amount_minor' },
    ],
    [
      'a timestamp below -2^53',
      async () => frame(1001, exact.toBuffer({ ...TXN, event_time: -(2n ** 62n) })),
      'RISK_ERR_INVALID_FIELD',
      { field: 'event_time' },
    ],
  ]
  it('names a nested long beyond 2^53 by its path', async () => {
    const scoreEvent = compileSchema(newestBundledSchema(SCORE_EVENT))
    const opened = (at: bigint) => ({ case_id: `c-${at}`, reason: 'r', opened_at: at })
    const body = scoreEvent.toBuffer({
      acquirer_id: 'acq-alpha',
      merchant_id: 'm-1',
      scores: [],
      alerts: [],
      cases: [opened(1n), opened(2n ** 60n)],
    })
    const error = await decodeError(codec, SCORE_EVENT, frame(1005, body))
    expect(error).toMatchObject({ code: 'RISK_ERR_INVALID_FIELD', context: { field: 'cases[1].opened_at' } })
  })

  it.each(cases)('%s', async (_name, value, code, context) => {
    const error = await decodeError(codec, TERMINAL_TRANSACTION, await value())
    expect(error.code).toBe(code)
    expect(error.retriable).toBe(false)
    expect(error.context).toMatchObject(context)
  })

  it('decodes the largest exact long as a number', async () => {
    const result = await codec.decode(
      TERMINAL_TRANSACTION,
      frame(1001, exact.toBuffer({ ...TXN, amount_minor: MAX_EXACT_LONG })),
    )
    if (!result.ok) throw result.error
    expect(result.record.amount_minor).toBe(MAX_EXACT_LONG)
  })

  const withPan: [string, Buffer][] = [
    ['broken JSON', Buffer.from(`{"card_token": "${PAN}", oops}`)],
    // V8 quotes the input around this kind of fault in its SyntaxError message.
    ['JSON with a bare word after the PAN', Buffer.from(`{"card_token":"${PAN}","a":undefined}`)],
    ['JSON cut short', Buffer.from(`{"card_token": "${PAN}`)],
    [
      'Avro with trailing bytes',
      Buffer.concat([frame(1001, exact.toBuffer({ ...TXN, card_token: PAN })), Buffer.from([7])]),
    ],
  ]
  it.each(withPan)('never repeats the bytes of %s in its error', async (_name, value) => {
    const error = await decodeError(codec, TERMINAL_TRANSACTION, value)
    for (const text of [error.message, JSON.stringify(error.toLog()), JSON.stringify(error)]) {
      expect(text).not.toContain(PAN)
      expect(text).not.toContain(PAN.slice(-6))
    }
  })
})

describe('schema evolution', () => {
  it('reads events written with the current schema into a newer reader, with the new default', async () => {
    const writer = new EventCodec()
    const reader = new EventCodec({ readerSchemas: { [TERMINAL_TRANSACTION]: TXN_V2 } })
    const result = await reader.decode(
      TERMINAL_TRANSACTION,
      await writer.encode(TERMINAL_TRANSACTION, TXN, 'avro'),
    )
    if (!result.ok) throw result.error
    expect(result.schemaId).toBe(1001)
    expect(result.record).toStrictEqual({ ...TXN, device_model: null })
  })

  it('reads events of a newer writer schema into the current reader, dropping the unknown field', async () => {
    const newer = new EventCodec({
      readerSchemas: { [TERMINAL_TRANSACTION]: TXN_V2 },
      writerSchemas: { 2001: TXN_V2 },
    })
    const value = await newer.encode(TERMINAL_TRANSACTION, TXN_V2_RECORD, 'avro')
    expect(value.readUInt32BE(1)).toBe(2001)
    const current = new EventCodec({ writerSchemas: { 2001: TXN_V2 } })
    const result = await current.decode(TERMINAL_TRANSACTION, value)
    if (!result.ok) throw result.error
    expect(result.record).toStrictEqual(TXN)
    const same = await newer.decode(TERMINAL_TRANSACTION, value)
    if (!same.ok) throw same.error
    expect(same.record.device_model).toBe('PAX A920')
  })

  it("maps a symbol the reader does not know to the enum's default", async () => {
    const symbols = ['CREDIT', 'DEBIT', 'PREPAID', 'UNKNOWN', 'CHARGE']
    const writer = transactionSchema({
      card_type: { name: 'card_type', type: { type: 'enum', name: 'CardType', symbols, default: 'UNKNOWN' } },
    })
    const codec = new EventCodec({ writerSchemas: { 2002: writer } })
    const value = frame(2002, compileSchema(writer).toBuffer({ ...TXN, card_type: 'CHARGE' }))
    const result = await codec.decode(TERMINAL_TRANSACTION, value)
    if (!result.ok) throw result.error
    expect(result.record.card_type).toBe('UNKNOWN')
  })

  it('refuses a writer schema the reader cannot resolve', async () => {
    const strict = transactionSchema({ device_model: { name: 'device_model', type: 'string' } })
    const reader = new EventCodec({ readerSchemas: { [TERMINAL_TRANSACTION]: strict } })
    const error = await decodeError(
      reader,
      TERMINAL_TRANSACTION,
      await new EventCodec().encode(TERMINAL_TRANSACTION, TXN, 'avro'),
    )
    expect(error.code).toBe('RISK_ERR_WRONG_SCHEMA')
  })

  it('builds the resolver of a schema id once', async () => {
    const spy = vi.spyOn(avro.Type.prototype, 'createResolver')
    const codec = new EventCodec({ readerSchemas: { [TERMINAL_TRANSACTION]: TXN_V2 } })
    const value = await codec.encode(TERMINAL_TRANSACTION, TXN, 'json')
    expect(spy).not.toHaveBeenCalled()
    const avroValue = await new EventCodec().encode(TERMINAL_TRANSACTION, TXN, 'avro')
    for (let i = 0; i < 3; i++) expect((await codec.decode(TERMINAL_TRANSACTION, avroValue)).ok).toBe(true)
    expect((await codec.decode(TERMINAL_TRANSACTION, value)).ok).toBe(true)
    // avsc recurses into the fields; the record-level call is the one the codec makes.
    const recordCalls = spy.mock.calls.filter(([writer]) => writer.name === TERMINAL_TRANSACTION)
    expect(recordCalls).toHaveLength(1)
  })
})

describe('EventCodec.encode', () => {
  const codec = new EventCodec()
  const bad: [string, TerminalTransaction, string][] = [
    ['a fractional amount', { ...TXN, amount_minor: 10.5 }, 'amount_minor'],
    ['an amount beyond 2^53', { ...TXN, amount_minor: 2 ** 53 }, 'amount_minor'],
    ['a fractional event_time', { ...TXN, event_time: 0.5 }, 'event_time'],
  ]
  for (const format of ['avro', 'json'] as const) {
    it.each(bad)(`refuses %s as ${format}`, async (_name, record, field) => {
      const error = await codec.encode(TERMINAL_TRANSACTION, record, format).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'RISK_ERR_INVALID_FIELD', context: { field } })
    })
  }

  it('needs a writer id for an overridden reader schema', async () => {
    const codec = new EventCodec({ readerSchemas: { [TERMINAL_TRANSACTION]: TXN_V2 } })
    await expect(codec.encode(TERMINAL_TRANSACTION, TXN, 'avro')).rejects.toMatchObject({
      code: 'RISK_ERR_CONFIG',
    })
  })
})

describe('EventCodec options', () => {
  const cases: [string, () => EventCodec][] = [
    [
      'a reader schema of another record',
      () => new EventCodec({ readerSchemas: { [MERCHANT_EVENT]: TXN_V2 } }),
    ],
    [
      'a reader schema that is not Avro',
      () => new EventCodec({ readerSchemas: { [TERMINAL_TRANSACTION]: { type: 'nope' } } }),
    ],
    ['a writer id that is bundled already', () => new EventCodec({ writerSchemas: { 1001: TXN_V2 } })],
  ]
  it.each(cases)('refuses %s', (_name, build) => {
    expect(build).toThrow(expect.objectContaining({ code: 'RISK_ERR_CONFIG' }))
  })
})

describe('EventCodec.redactCardNumbers', () => {
  const codec = new EventCodec()
  const MASKED = '*'.repeat(16)

  it('keeps the frame, schema id and every other field of an Avro message', async () => {
    const original = await codec.encode(TERMINAL_TRANSACTION, { ...TXN, card_token: PAN }, 'avro')
    const copy = await codec.redactCardNumbers(TERMINAL_TRANSACTION, original)
    if (copy === null) throw new Error('no redacted copy')
    expect(copy.subarray(0, 5)).toStrictEqual(original.subarray(0, 5))
    expect(copy.includes(PAN)).toBe(false)
    const decoded = await codec.decode(TERMINAL_TRANSACTION, copy)
    if (!decoded.ok) throw decoded.error
    expect(decoded.record).toStrictEqual({ ...TXN, card_token: MASKED })
  })

  it('masks every field that holds a number, and only the digits of it', async () => {
    const original = await codec.encode(
      TERMINAL_TRANSACTION,
      { ...TXN, txn_id: `t-${PAN}`, terminal_id: '5555 5555 5555 4444', merchant_id: 'ok-1' },
      'avro',
    )
    const copy = await codec.redactCardNumbers(TERMINAL_TRANSACTION, original)
    if (copy === null) throw new Error('no redacted copy')
    const decoded = await codec.decode(TERMINAL_TRANSACTION, copy)
    if (!decoded.ok) throw decoded.error
    expect(decoded.record).toMatchObject({
      txn_id: `t-${MASKED}`,
      terminal_id: '**** **** **** ****',
      merchant_id: 'ok-1',
    })
  })

  it('masks a field that only the writer schema has', async () => {
    const newer = new EventCodec({
      readerSchemas: { [TERMINAL_TRANSACTION]: TXN_V2 },
      writerSchemas: { 2001: TXN_V2 },
    })
    const record = { ...TXN_V2_RECORD, device_model: PAN }
    const original = await newer.encode(TERMINAL_TRANSACTION, record, 'avro')
    const current = new EventCodec({ writerSchemas: { 2001: TXN_V2 } })
    const copy = await current.redactCardNumbers(TERMINAL_TRANSACTION, original)
    if (copy === null) throw new Error('no redacted copy')
    expect(copy.readUInt32BE(1)).toBe(2001)
    expect(containsCardNumber(copy.toString('utf8'))).toBe(false)
    const decoded = await newer.decode(TERMINAL_TRANSACTION, copy)
    if (!decoded.ok) throw decoded.error
    expect(decoded.record).toStrictEqual({ ...record, device_model: MASKED })
  })

  it('re-encodes a long beyond 2^53 unchanged', async () => {
    const exact = compileSchema(newestBundledSchema(TERMINAL_TRANSACTION))
    const original = frame(1001, exact.toBuffer({ ...TXN, card_token: PAN, amount_minor: 2n ** 60n }))
    const copy = await codec.redactCardNumbers(TERMINAL_TRANSACTION, original)
    if (copy === null) throw new Error('no redacted copy')
    expect(exact.fromBuffer(copy.subarray(5))).toMatchObject({ card_token: MASKED, amount_minor: 2n ** 60n })
  })

  it('sets a whole number holding a card number to 0, and leaves times alone', async () => {
    // 1768478399992 passes Luhn, like one event time in ten.
    const t = { ...TXN, amount_minor: 4111111111111111, event_time: 1768478399992 }
    for (const format of ['avro', 'json'] as const) {
      const copy = await codec.redactCardNumbers(
        TERMINAL_TRANSACTION,
        await codec.encode(TERMINAL_TRANSACTION, t, format),
      )
      if (copy === null) throw new Error('no redacted copy')
      const decoded = await codec.decode(TERMINAL_TRANSACTION, copy)
      if (!decoded.ok) throw decoded.error
      expect(decoded.record).toMatchObject({ amount_minor: 0, event_time: 1768478399992 })
    }
  })

  it.each(DISGUISES)(
    'masks a card number written $name in a JSON message, in known and unknown fields',
    async ({ text, pan }) => {
      const original = Buffer.from(JSON.stringify({ ...TXN, card_token: text, extra: { [text]: [text] } }))
      const copy = await codec.redactCardNumbers(TERMINAL_TRANSACTION, original)
      if (copy === null) throw new Error('no redacted copy')
      const shown = copy.toString('utf8')
      expect(containsCardNumber(shown)).toBe(false)
      expect(shown.includes(pan)).toBe(false)
      expect(JSON.parse(shown)).toMatchObject({ txn_id: TXN.txn_id, merchant_id: TXN.merchant_id })
    },
  )

  it('gives the same buffer back when there is nothing to mask', async () => {
    for (const value of [
      await codec.encode(TERMINAL_TRANSACTION, TXN, 'avro'),
      await codec.encode(TERMINAL_TRANSACTION, TXN, 'json'),
      Buffer.from('not a message'),
    ]) {
      expect(await codec.redactCardNumbers(TERMINAL_TRANSACTION, value)).toBe(value)
    }
  })

  const undecodable: [string, () => Promise<Buffer>][] = [
    ['garbage', async () => Buffer.from(`not a message ${PAN}`)],
    ['broken JSON', async () => Buffer.from(`{"card_token":"${PAN}"`)],
    ['an unknown schema id', async () => frame(4242, Buffer.from(`\u0002${PAN}`))],
    [
      'a truncated Avro body',
      async () =>
        (await codec.encode(TERMINAL_TRANSACTION, { ...TXN, card_token: PAN }, 'avro')).subarray(0, 40),
    ],
  ]
  it.each(undecodable)('masks the bytes of %s one for one', async (_name, make) => {
    const value = await make()
    const copy = await codec.redactCardNumbers(TERMINAL_TRANSACTION, value)
    expect(copy?.length).toBe(value.length)
    expect(copy?.includes(PAN)).toBe(false)
  })
})
