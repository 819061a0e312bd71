import { describe, expect, it } from 'vitest'
import { MAX_EXACT_LONG } from '../../kafka/codec.ts'
import type { ErrorCode, RiskError } from '../../lib/errors.ts'
import { containsCardNumber, luhnValid } from '../../lib/luhn.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import {
  checkEnvelope,
  hasControl,
  MIN_EVENT_TIME,
  parseIsoInstant,
  validateMerchantEvent,
  validateTransaction,
} from '../../schemas/validate.ts'
import { DISGUISES } from '../helpers/card-disguises.ts'
import { sampleMerchantEvent, sampleTxn } from '../helpers/events.ts'

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0)
const SKEW = 5 * 60_000
const KNOWN: ReadonlySet<string> = new Set(['acq-1', 'acq_zz'])
const OPTS = { now: NOW, maxFutureSkewMs: SKEW, isKnownAcquirer: (id: string) => KNOWN.has(id) }

const TXN: TerminalTransaction = sampleTxn({ event_time: NOW - 60_000 })

const EVENT: MerchantEvent = sampleMerchantEvent({
  event_time: NOW - 86_400_000,
  registered_mcc: '5311',
  latitude: 31.2304,
  longitude: 121.4737,
  settlement_account_token: 'acct_tok_1',
})

function without<T extends object>(record: T, ...fields: (keyof T & string)[]): Record<string, unknown> {
  const drop: ReadonlySet<string> = new Set(fields)
  return Object.fromEntries(Object.entries(record).filter(([k]) => !drop.has(k)))
}

describe('validateTransaction accepts', () => {
  const cases: [string, Record<string, unknown>, Partial<TerminalTransaction>][] = [
    ['a complete transaction', { ...TXN }, {}],
    [
      'event_time exactly at the allowed skew',
      { ...TXN, event_time: NOW + SKEW },
      { event_time: NOW + SKEW },
    ],
    ['event_time at 2000-01-01', { ...TXN, event_time: MIN_EVENT_TIME }, { event_time: MIN_EVENT_TIME }],
    [
      'an ISO event_time in UTC',
      { ...TXN, event_time: '2026-01-15T11:59:00Z' },
      { event_time: NOW - 60_000 },
    ],
    [
      'an ISO event_time with an offset and fraction',
      { ...TXN, event_time: '2026-01-15T19:59:00.250+08:00' },
      { event_time: NOW - 60_000 + 250 },
    ],
    [
      'an ISO event_time with a basic offset',
      { ...TXN, event_time: '2026-01-15T06:29:00-0530' },
      { event_time: NOW - 60_000 },
    ],
    ['no position at all', { ...TXN, latitude: null, longitude: null }, { latitude: null, longitude: null }],
    ['the extreme coordinates', { ...TXN, latitude: -90, longitude: 180 }, { latitude: -90, longitude: 180 }],
    ['no BIN', { ...TXN, card_bin: null }, { card_bin: null }],
    ['an 8-digit BIN', { ...TXN, card_bin: '62220212' }, { card_bin: '62220212' }],
    ['a 3-character response code', { ...TXN, response_code: 'N7A' }, { response_code: 'N7A' }],
    [
      'a 16-digit token that fails Luhn',
      { ...TXN, card_token: '4111111111111112' },
      { card_token: '4111111111111112' },
    ],
    ['a 12-digit token passing Luhn (too short for a card)', { ...TXN, card_token: '000000000000' }, {}],
    ['an id of 128 characters', { ...TXN, txn_id: 'x'.repeat(128) }, { txn_id: 'x'.repeat(128) }],
    // MAX_EXACT_LONG itself passes Luhn: a whole number of 13+ digits is scanned like a string.
    ['a 16-digit amount failing Luhn', { ...TXN, amount_minor: MAX_EXACT_LONG - 1 }, {}],
  ]
  it.each(cases)('%s', (_name, input, expected) => {
    const result = validateTransaction(input, OPTS)
    if (!result.ok) throw result.error
    expect(result.value).toEqual({ ...TXN, ...input, ...expected })
  })

  it('fills the Avro defaults of fields a JSON producer left out', () => {
    const input = without(TXN, 'card_bin', 'card_type', 'entry_mode', 'latitude', 'longitude')
    const result = validateTransaction(input, OPTS)
    if (!result.ok) throw result.error
    expect(result.value).toEqual({
      ...TXN,
      card_bin: null,
      card_type: 'UNKNOWN',
      entry_mode: 'UNKNOWN',
      latitude: null,
      longitude: null,
    })
  })

  it('drops fields the schema does not know', () => {
    const result = validateTransaction({ ...TXN, device_model: 'X990' }, OPTS)
    if (!result.ok) throw result.error
    expect(result.value).not.toHaveProperty('device_model')
  })

  it('keeps a record that already has exactly the fields, in order, and copies any other', () => {
    const order = Object.keys(TXN)
    const exact = { ...TXN }
    const kept = validateTransaction(exact, OPTS)
    if (!kept.ok) throw kept.error
    expect(kept.value).toBe(exact)
    // Each of these is copied into a record of the schema's fields in its order, equal to the exact one.
    const reversed = Object.fromEntries(Object.entries(TXN).reverse())
    const textTime = { ...TXN, event_time: new Date(TXN.event_time).toISOString() }
    class Instance {}
    const instance = Object.assign(new Instance(), TXN)
    // A missing nullable field is filled: the copy has card_bin null. Absent, or present as undefined.
    const absent: Record<string, unknown> = { ...TXN }
    delete absent.card_bin
    const undef = { ...TXN, card_bin: undefined }
    const cases: [unknown, TerminalTransaction][] = [
      [{ ...TXN, device_model: 'X990' }, TXN],
      [reversed, TXN],
      [textTime, TXN],
      [instance, TXN],
      [absent, { ...TXN, card_bin: null }],
      [undef, { ...TXN, card_bin: null }],
    ]
    for (const [other, expected] of cases) {
      const copied = validateTransaction(other, OPTS)
      if (!copied.ok) throw copied.error
      expect(copied.value).not.toBe(other)
      expect(Object.keys(copied.value)).toEqual(order)
      expect(copied.value).toStrictEqual(expected)
    }
  })
})

describe('validateTransaction rejects', () => {
  const cases: [string, unknown, ErrorCode, string][] = [
    ['null instead of a record', null, 'RISK_ERR_INVALID_FIELD', '$'],
    ['an array instead of a record', [TXN], 'RISK_ERR_INVALID_FIELD', '$'],
    ['a missing txn_id', without(TXN, 'txn_id'), 'RISK_ERR_MISSING_FIELD', 'txn_id'],
    ['a missing amount', without(TXN, 'amount_minor'), 'RISK_ERR_MISSING_FIELD', 'amount_minor'],
    [
      'a missing txn_type (an enum without default)',
      without(TXN, 'txn_type'),
      'RISK_ERR_MISSING_FIELD',
      'txn_type',
    ],
    ['a missing event_time', without(TXN, 'event_time'), 'RISK_ERR_MISSING_FIELD', 'event_time'],
    ['a numeric txn_id', { ...TXN, txn_id: 17 }, 'RISK_ERR_INVALID_FIELD', 'txn_id'],
    ['a null txn_id', { ...TXN, txn_id: null }, 'RISK_ERR_INVALID_FIELD', 'txn_id'],
    ['an empty txn_id', { ...TXN, txn_id: '' }, 'RISK_ERR_INVALID_FIELD', 'txn_id'],
    ['a txn_id of 129 characters', { ...TXN, txn_id: 'x'.repeat(129) }, 'RISK_ERR_INVALID_FIELD', 'txn_id'],
    [
      'a line feed in acquirer_id',
      { ...TXN, acquirer_id: 'acq\n1' },
      'RISK_ERR_INVALID_FIELD',
      'acquirer_id',
    ],
    // The acquirer id names its alert topic: nothing a topic name cannot hold, nothing to rewrite.
    ['a space in acquirer_id', { ...TXN, acquirer_id: 'acq 1' }, 'RISK_ERR_INVALID_FIELD', 'acquirer_id'],
    ['a slash in acquirer_id', { ...TXN, acquirer_id: 'acq/1' }, 'RISK_ERR_INVALID_FIELD', 'acquirer_id'],
    ['a CJK acquirer_id', { ...TXN, acquirer_id: '银行' }, 'RISK_ERR_INVALID_FIELD', 'acquirer_id'],
    [
      'an acquirer_id of 65 characters',
      { ...TXN, acquirer_id: 'a'.repeat(65) },
      'RISK_ERR_INVALID_FIELD',
      'acquirer_id',
    ],
    [
      'a C1 control in merchant_id',
      { ...TXN, merchant_id: 'mer\u008542' },
      'RISK_ERR_INVALID_FIELD',
      'merchant_id',
    ],
    ['a NUL in terminal_id', { ...TXN, terminal_id: 'T\u00009' }, 'RISK_ERR_INVALID_FIELD', 'terminal_id'],
    ['an empty card_token', { ...TXN, card_token: '' }, 'RISK_ERR_INVALID_FIELD', 'card_token'],
    ['a numeric card_token', { ...TXN, card_token: 12345 }, 'RISK_ERR_INVALID_FIELD', 'card_token'],
    ['an unknown card_type', { ...TXN, card_type: 'CHARGE' }, 'RISK_ERR_INVALID_FIELD', 'card_type'],
    ['a null card_type', { ...TXN, card_type: null }, 'RISK_ERR_INVALID_FIELD', 'card_type'],
    ['a lower-case txn_type', { ...TXN, txn_type: 'purchase' }, 'RISK_ERR_INVALID_FIELD', 'txn_type'],
    ['an unknown entry_mode', { ...TXN, entry_mode: 'NFC' }, 'RISK_ERR_INVALID_FIELD', 'entry_mode'],
    ['a zero amount', { ...TXN, amount_minor: 0 }, 'RISK_ERR_INVALID_FIELD', 'amount_minor'],
    ['a negative amount', { ...TXN, amount_minor: -500 }, 'RISK_ERR_INVALID_FIELD', 'amount_minor'],
    ['a fractional amount', { ...TXN, amount_minor: 10.5 }, 'RISK_ERR_INVALID_FIELD', 'amount_minor'],
    ['an amount beyond 2^53', { ...TXN, amount_minor: 2 ** 53 }, 'RISK_ERR_INVALID_FIELD', 'amount_minor'],
    [
      'an amount past the exact long range',
      { ...TXN, amount_minor: MAX_EXACT_LONG + 1 },
      'RISK_ERR_INVALID_FIELD',
      'amount_minor',
    ],
    ['an amount as a string', { ...TXN, amount_minor: '100' }, 'RISK_ERR_INVALID_FIELD', 'amount_minor'],
    ['a lower-case currency', { ...TXN, currency: 'cny' }, 'RISK_ERR_INVALID_FIELD', 'currency'],
    ['a two-letter currency', { ...TXN, currency: 'CN' }, 'RISK_ERR_INVALID_FIELD', 'currency'],
    ['a numeric currency code', { ...TXN, currency: '156' }, 'RISK_ERR_INVALID_FIELD', 'currency'],
    ['a three-digit MCC', { ...TXN, mcc: '531' }, 'RISK_ERR_INVALID_FIELD', 'mcc'],
    ['a five-digit MCC', { ...TXN, mcc: '53110' }, 'RISK_ERR_INVALID_FIELD', 'mcc'],
    ['a non-digit MCC', { ...TXN, mcc: '53a1' }, 'RISK_ERR_INVALID_FIELD', 'mcc'],
    [
      'a one-character response code',
      { ...TXN, response_code: '0' },
      'RISK_ERR_INVALID_FIELD',
      'response_code',
    ],
    [
      'a four-character response code',
      { ...TXN, response_code: '0000' },
      'RISK_ERR_INVALID_FIELD',
      'response_code',
    ],
    [
      'a lower-case response code',
      { ...TXN, response_code: 'n7' },
      'RISK_ERR_INVALID_FIELD',
      'response_code',
    ],
    ['a five-digit BIN', { ...TXN, card_bin: '62220' }, 'RISK_ERR_INVALID_FIELD', 'card_bin'],
    ['a nine-digit BIN', { ...TXN, card_bin: '622202123' }, 'RISK_ERR_INVALID_FIELD', 'card_bin'],
    ['a BIN with letters', { ...TXN, card_bin: '62AB02' }, 'RISK_ERR_INVALID_FIELD', 'card_bin'],
    [
      'an event_time past the skew',
      { ...TXN, event_time: NOW + SKEW + 1 },
      'RISK_ERR_FUTURE_EVENT',
      'event_time',
    ],
    [
      'an event_time before 2000',
      { ...TXN, event_time: MIN_EVENT_TIME - 1 },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    [
      'an event_time in seconds',
      { ...TXN, event_time: 1_768_478_400 },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    ['a fractional event_time', { ...TXN, event_time: NOW + 0.5 }, 'RISK_ERR_INVALID_FIELD', 'event_time'],
    [
      'an event_time as a numeric string',
      { ...TXN, event_time: String(NOW) },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    [
      'an ISO date without time',
      { ...TXN, event_time: '2026-01-15' },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    [
      'an ISO date-time without a zone',
      { ...TXN, event_time: '2026-01-15T11:59:00' },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    [
      'an impossible ISO date',
      { ...TXN, event_time: '2026-02-30T00:00:00Z' },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    [
      'an ISO hour 24',
      { ...TXN, event_time: '2026-01-15T24:00:00Z' },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    [
      'a date in prose',
      { ...TXN, event_time: 'Jan 15 2026 12:00 GMT' },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    ['a latitude above 90', { ...TXN, latitude: 90.0001 }, 'RISK_ERR_INVALID_FIELD', 'latitude'],
    ['a latitude below -90', { ...TXN, latitude: -91 }, 'RISK_ERR_INVALID_FIELD', 'latitude'],
    ['a longitude above 180', { ...TXN, longitude: 180.5 }, 'RISK_ERR_INVALID_FIELD', 'longitude'],
    ['a NaN longitude', { ...TXN, longitude: Number.NaN }, 'RISK_ERR_INVALID_FIELD', 'longitude'],
    [
      'an infinite latitude',
      { ...TXN, latitude: Number.POSITIVE_INFINITY },
      'RISK_ERR_INVALID_FIELD',
      'latitude',
    ],
    ['a latitude as a string', { ...TXN, latitude: '31.2' }, 'RISK_ERR_INVALID_FIELD', 'latitude'],
    ['a longitude without latitude', { ...TXN, latitude: null }, 'RISK_ERR_INVALID_FIELD', 'latitude'],
    ['a latitude without longitude', without(TXN, 'longitude'), 'RISK_ERR_INVALID_FIELD', 'longitude'],
  ]
  it.each(cases)('%s', (_name, input, code, field) => {
    const result = validateTransaction(input, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.code).toBe(code)
    expect(result.error.retriable).toBe(false)
    expect(result.error.context.field).toBe(field)
  })

  it('names the allowed symbols of an enum', () => {
    const result = validateTransaction({ ...TXN, card_type: 'CHARGE' }, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.message).toContain('CREDIT, DEBIT, PREPAID, UNKNOWN')
    expect(result.error.context.expected).toContain('CREDIT, DEBIT, PREPAID, UNKNOWN')
    expect(result.error.message).toContain('"CHARGE"')
  })

  it('quotes at most 64 characters of a bad value', () => {
    const result = validateTransaction({ ...TXN, currency: 'Q'.repeat(500) }, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.message).toContain('Q'.repeat(60))
    expect(result.error.message).not.toContain('Q'.repeat(64))
  })

  it('shows a NaN as NaN', () => {
    const result = validateTransaction({ ...TXN, longitude: Number.NaN }, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.message).toMatch(/got NaN$/)
  })

  it('reports how far in the future an event is', () => {
    const result = validateTransaction({ ...TXN, event_time: NOW + 3_600_000 }, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.context).toMatchObject({ field: 'event_time', now: NOW, maxFutureSkewMs: SKEW })
    expect(result.error.message).toContain('3600000 ms ahead')
  })
})

describe('raw card numbers', () => {
  const pans: [string, unknown][] = [
    ['a Visa test PAN', '4111111111111111'],
    ['the PAN in groups of four', '4111 1111 1111 1111'],
    ['the PAN with dashes', '4111-1111-1111-1111'],
    ['the PAN with a tab and no-break spaces', '4111\t1111\u00a01111\u00a01111'],
    ['a 13-digit PAN', '4222222222222'],
    ['a 19-digit PAN', '4000000000000000006'],
    ['a Discover test PAN', '6011000990139424'],
    ['the PAN as a JSON number', 4111111111111111],
  ]
  it.each(pans)('rejects %s without ever repeating it', (_name, pan) => {
    const result = validateTransaction({ ...TXN, card_token: pan }, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    const { error } = result
    expect(error.code).toBe('RISK_ERR_RAW_CARD_NUMBER')
    expect(error.context.field).toBe('card_token')
    const digits = String(pan).replace(/\D/g, '')
    const exposed = [
      error.message,
      String(error),
      JSON.stringify(error),
      JSON.stringify(error.toLog()),
      error.stack,
    ]
    for (const text of exposed) {
      expect(text).not.toContain(digits)
      expect(text).not.toContain(String(pan))
      expect(text).not.toContain(digits.slice(0, 8))
    }
  })

  it('wins over every other fault, so the DLQ copy gets redacted', () => {
    const input = { ...without(TXN, 'txn_id'), amount_minor: -1, card_token: '4111111111111111' }
    const result = validateTransaction(input, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.code).toBe('RISK_ERR_RAW_CARD_NUMBER')
  })

  it('never quotes card_token in other errors either', () => {
    const token = `tok_${'7'.repeat(200)}`
    const result = validateTransaction({ ...TXN, card_token: token }, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.context.field).toBe('card_token')
    expect(JSON.stringify(result.error.toLog())).not.toContain('7777777')
  })

  const luhn: [string, boolean][] = [
    ['4111111111111111', true],
    ['5555555555554444', true],
    ['4111111111111112', false],
    ['0', true],
    ['', false],
    ['41111111x1111111', false],
  ]
  it.each(luhn)('luhnValid(%j) is %s', (digits, expected) => {
    expect(luhnValid(digits)).toBe(expected)
  })

  const lookalikes: [string, boolean][] = [
    ['4111 1111 1111 1111', true],
    ['411111111111', false],
    ['41111111111111111113', false],
    ['4111111111111111a', true],
    ['tok_4111111111111111', true],
    ['tok4111111111111111', true],
    ['4111111111111111abc', true],
    ['卡号4111111111111111元', true],
    ['d3d247fa-7ef2-43ae-8bf5-487010125957 4111 1111 1111 1111', true],
    // Identifiers whose digits happen to pass (found among random ones): a UUID (across its dashes),
    // runs of 20 to 128 hexadecimal characters.
    ['d3d247fa-7ef2-43ae-8bf5-487010125957', false],
    ['1626834d-c538-4337-9787-118436bf6a3c', false],
    ['146b9659187997485e3f', false],
    ['48666303408654d93af466c8a4f29e9a', false],
    ['k3ec50281317469021714beb6', false],
    [`${'f'.repeat(112)}4111111111111111`, false],
    [`${'f'.repeat(112)}4111111111111111 ${'f'.repeat(120)}`, false],
    // 129 characters: longer than any digest, so a number in it is a number again.
    [`${'f'.repeat(113)}4111111111111111`, true],
  ]
  it.each(lookalikes)('containsCardNumber(%j) is %s', (value, expected) => {
    expect(containsCardNumber(value)).toBe(expected)
  })

  it('takes the digits of an identifier for what they pass, before the exemption', () => {
    // Each exempted id above does hold a run that passes: what makes it an id is around the digits.
    expect(luhnValid('4870101259' + '57')).toBe(false)
    expect(containsCardNumber('487010125957 8bf5')).toBe(false)
    expect(containsCardNumber('8bf5-487010125957')).toBe(true)
    expect(containsCardNumber('146b9659187997485')).toBe(true)
  })

  it('accepts events whose ids are UUIDs or long hexadecimal ids', () => {
    const result = validateTransaction(
      {
        ...TXN,
        txn_id: 'd3d247fa-7ef2-43ae-8bf5-487010125957',
        card_token: '48666303408654d93af466c8a4f29e9a',
      },
      OPTS,
    )
    expect(result.ok).toBe(true)
  })
})

/** Every text a rejection can show: none may hold the PAN in any form. */
function expectWithheld(error: RiskError, text: string, pan: string): void {
  const exposed = [error.message, String(error), JSON.stringify(error.toLog()), error.stack ?? '']
  for (const shown of exposed) {
    expect(containsCardNumber(shown)).toBe(false)
    expect(shown).not.toContain(text)
    expect(shown.replace(/\D/g, '')).not.toContain(pan)
  }
}

describe('card numbers in any field', () => {
  const txnFields = Object.entries(TXN)
    .filter(([, v]) => typeof v === 'string')
    .map(([k]) => k)
  const eventFields = [...Object.keys(EVENT), 'terminal_id'].filter(
    (k, i, all) => all.indexOf(k) === i && k !== 'event_time' && k !== 'latitude' && k !== 'longitude',
  )
  const txnCases = txnFields.flatMap((field) => DISGUISES.map((d) => ({ field, ...d })))
  const eventCases = eventFields.flatMap((field) => DISGUISES.map((d) => ({ field, ...d })))

  it.each(txnCases)(
    'rejects a transaction with a card number in $field, written $name',
    ({ field, text, pan }) => {
      const result = validateTransaction({ ...TXN, [field]: text }, OPTS)
      if (result.ok) throw new Error('expected a rejection')
      expect(result.error.code).toBe('RISK_ERR_RAW_CARD_NUMBER')
      expect(result.error.context.field).toBe(field)
      expect(result.error.message).toContain(`${field} must not hold a card number`)
      expectWithheld(result.error, text, pan)
    },
  )

  it.each(eventCases)(
    'rejects a merchant event with a card number in $field, written $name',
    ({ field, text, pan }) => {
      const result = validateMerchantEvent({ ...EVENT, [field]: text }, OPTS)
      if (result.ok) throw new Error('expected a rejection')
      expect(result.error.code).toBe('RISK_ERR_RAW_CARD_NUMBER')
      expect(result.error.context.field).toBe(field)
      expectWithheld(result.error, text, pan)
    },
  )

  const elsewhere: [string, Record<string, unknown>, string][] = [
    ['a field the schema does not know', { ...TXN, note: 'pan 4111 1111 1111 1111' }, 'note'],
    ['a nested object', { ...TXN, extra: { list: ['x', '5555555555554444'] } }, 'extra.list[1]'],
    ['an object key', { ...TXN, extra: { '4111111111111111': 1 } }, 'extra.****************'],
    ['a whole-number amount', { ...TXN, amount_minor: 4111111111111111 }, 'amount_minor'],
  ]
  it.each(elsewhere)('rejects a card number in %s, naming where (masked)', (_name, input, field) => {
    const result = validateTransaction(input, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.code).toBe('RISK_ERR_RAW_CARD_NUMBER')
    expect(result.error.context.field).toBe(field)
    expect(containsCardNumber(JSON.stringify(result.error.toLog()))).toBe(false)
  })

  it('leaves event_time alone, although epoch milliseconds have 13 digits', () => {
    // 1768478399992 passes Luhn: a time is not a card number.
    const at = NOW - 8
    expect(luhnValid(String(at))).toBe(true)
    const result = validateTransaction({ ...TXN, event_time: at }, OPTS)
    if (!result.ok) throw result.error
    expect(result.value.event_time).toBe(at)
  })
})

describe('acquirers', () => {
  it('accepts a known acquirer', () => {
    expect(validateTransaction({ ...TXN, acquirer_id: 'acq_zz' }, OPTS).ok).toBe(true)
  })

  const unknown: [string, string][] = [
    ['an invented acquirer', 'acq-invented'],
    ['a known id with a dot for its underscore', 'acq.zz'],
    ['a known id in another case', 'ACQ-1'],
  ]
  it.each(unknown)('rejects %s with its own code, naming the field', (_name, acquirer) => {
    for (const result of [
      validateTransaction({ ...TXN, acquirer_id: acquirer }, OPTS),
      validateMerchantEvent({ ...EVENT, acquirer_id: acquirer }, OPTS),
    ]) {
      if (result.ok) throw new Error('expected a rejection')
      expect(result.error.code).toBe('RISK_ERR_UNKNOWN_ACQUIRER')
      expect(result.error.retriable).toBe(false)
      expect(result.error.context.field).toBe('acquirer_id')
      expect(result.error.message).toContain('not an acquirer this deployment serves')
    }
  })

  it('checks the syntax of an id before asking whether it is known', () => {
    const result = validateTransaction({ ...TXN, acquirer_id: 'acq/1' }, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.code).toBe('RISK_ERR_INVALID_FIELD')
  })
})

describe('checkEnvelope: the Kafka key and headers', () => {
  it.each(DISGUISES)('rejects a key holding a card number written $name', ({ text, pan }) => {
    const error = checkEnvelope(Buffer.from(text), undefined)
    expect(error?.code).toBe('RISK_ERR_RAW_CARD_NUMBER')
    expect(error?.context.field).toBe('kafka.key')
    if (error) expectWithheld(error, text, pan)
  })

  it.each(DISGUISES)('rejects a header holding a card number written $name', ({ text, pan }) => {
    for (const value of [Buffer.from(text), text, [Buffer.from('ok'), Buffer.from(text)]]) {
      const error = checkEnvelope(Buffer.from('m-1'), { 'x-trace': Buffer.from('1'), 'x-note': value })
      expect(error?.code).toBe('RISK_ERR_RAW_CARD_NUMBER')
      expect(error?.context.field).toBe('kafka.headers.x-note')
      if (error) expectWithheld(error, text, pan)
    }
  })

  it('rejects a header whose name is a card number, and masks the name it reports', () => {
    const error = checkEnvelope(null, { '5555 5555 5555 4444': Buffer.from('x') })
    expect(error?.context.field).toBe('kafka.headers.**** **** **** ****')
  })

  it('accepts an ordinary key and headers', () => {
    expect(
      checkEnvelope(Buffer.from('mer-42'), { 'x-delivered-at': Buffer.from('1768478400000') }),
    ).toBeNull()
    expect(checkEnvelope(null, undefined)).toBeNull()
  })
})

describe('validateMerchantEvent', () => {
  it('accepts an onboarding event and fills missing optional fields with null', () => {
    const result = validateMerchantEvent(
      without(EVENT, 'terminal_id', 'merchant_name', 'settlement_account_token', 'latitude', 'longitude'),
      OPTS,
    )
    if (!result.ok) throw result.error
    expect(result.value).toEqual({
      ...EVENT,
      terminal_id: null,
      merchant_name: null,
      settlement_account_token: null,
      latitude: null,
      longitude: null,
    })
  })

  it('accepts a terminal binding with its terminal and an ISO time', () => {
    const input = {
      ...EVENT,
      kind: 'TERMINAL_BOUND',
      terminal_id: 'T-9001',
      event_time: '2026-01-15T20:00:00+08:00',
    }
    const result = validateMerchantEvent(input, OPTS)
    if (!result.ok) throw result.error
    expect(result.value).toMatchObject({ kind: 'TERMINAL_BOUND', terminal_id: 'T-9001', event_time: NOW })
  })

  const rejections: [string, unknown, ErrorCode, string][] = [
    ['a missing event_id', without(EVENT, 'event_id'), 'RISK_ERR_MISSING_FIELD', 'event_id'],
    ['a missing kind', without(EVENT, 'kind'), 'RISK_ERR_MISSING_FIELD', 'kind'],
    ['an unknown kind', { ...EVENT, kind: 'REOPENED' }, 'RISK_ERR_INVALID_FIELD', 'kind'],
    ['an empty event_id', { ...EVENT, event_id: '' }, 'RISK_ERR_INVALID_FIELD', 'event_id'],
    [
      'a control character in merchant_id',
      { ...EVENT, merchant_id: 'm\r1' },
      'RISK_ERR_INVALID_FIELD',
      'merchant_id',
    ],
    ['an empty terminal_id', { ...EVENT, terminal_id: '' }, 'RISK_ERR_INVALID_FIELD', 'terminal_id'],
    [
      'TERMINAL_BOUND without a terminal',
      { ...EVENT, kind: 'TERMINAL_BOUND' },
      'RISK_ERR_MISSING_FIELD',
      'terminal_id',
    ],
    [
      'TERMINAL_UNBOUND without a terminal',
      without({ ...EVENT, kind: 'TERMINAL_UNBOUND' }, 'terminal_id'),
      'RISK_ERR_MISSING_FIELD',
      'terminal_id',
    ],
    [
      'a five-digit registered MCC',
      { ...EVENT, registered_mcc: '53110' },
      'RISK_ERR_INVALID_FIELD',
      'registered_mcc',
    ],
    ['a latitude without longitude', { ...EVENT, longitude: null }, 'RISK_ERR_INVALID_FIELD', 'longitude'],
    ['a longitude out of range', { ...EVENT, longitude: -180.01 }, 'RISK_ERR_INVALID_FIELD', 'longitude'],
    [
      'an event from the future',
      { ...EVENT, event_time: NOW + SKEW + 1 },
      'RISK_ERR_FUTURE_EVENT',
      'event_time',
    ],
    ['an event before 2000', { ...EVENT, event_time: 0 }, 'RISK_ERR_INVALID_FIELD', 'event_time'],
  ]
  it.each(rejections)('rejects %s', (_name, input, code, field) => {
    const result = validateMerchantEvent(input, OPTS)
    if (result.ok) throw new Error('expected a rejection')
    expect(result.error.code).toBe(code)
    expect(result.error.context.field).toBe(field)
  })
})

describe('parseIsoInstant', () => {
  const cases: [string, number | null][] = [
    ['2026-01-15T12:00:00Z', NOW],
    ['2026-01-15t12:00:00z', NOW],
    ['2026-01-15T12:00Z', NOW],
    ['2026-01-15T12:00:00.123456789Z', NOW + 123],
    ['2026-01-15T12:00:00,5Z', NOW + 500],
    ['2026-01-16T01:00:00+13:00', NOW],
    ['2026-01-15T07:00:00-05', NOW],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2025-02-29T00:00:00Z', null],
    ['2026-13-01T00:00:00Z', null],
    ['2026-01-15T12:60:00Z', null],
    ['2026-01-15T12:00:60Z', null],
    ['2026-01-15T12:00:00+24:00', null],
    ['2026-01-15 12:00:00Z', null],
    ['2026-01-15T12:00:00', null],
    [' 2026-01-15T12:00:00Z', null],
  ]
  it.each(cases)('%j is %s', (text, expected) => {
    expect(parseIsoInstant(text)).toBe(expected)
  })
})

describe('hasControl', () => {
  it('says what /\\p{Cc}/u says, for every UTF-16 unit alone and inside a text', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const ch = String.fromCharCode(c)
      expect(hasControl(ch)).toBe(/\p{Cc}/u.test(ch))
      expect(hasControl(`id-${ch}-1`)).toBe(/\p{Cc}/u.test(`id-${ch}-1`))
    }
    for (const text of ['', 'mer-42', '\u{1f600}', 'tok\u200b', 'a\u0085b', 'a\u00a0b'])
      expect(hasControl(text)).toBe(/\p{Cc}/u.test(text))
  })
})

describe('the first fault in field order is the one reported', () => {
  // The field types are checked on the whole record at once, and field by field only to name a misfit:
  // the error must still be the first fault in schema order, whatever its kind.
  const cases: readonly [string, Record<string, unknown>, ErrorCode, string][] = [
    [
      'a bad txn_id before a missing amount',
      { ...without(TXN, 'amount_minor'), txn_id: 7 },
      'RISK_ERR_INVALID_FIELD',
      'txn_id',
    ],
    [
      'a missing txn_id before a bad amount',
      { ...without(TXN, 'txn_id'), amount_minor: 'ten' },
      'RISK_ERR_MISSING_FIELD',
      'txn_id',
    ],
    [
      'a bad txn_id before a bad event_time text',
      { ...TXN, txn_id: null, event_time: 'yesterday' },
      'RISK_ERR_INVALID_FIELD',
      'txn_id',
    ],
    [
      'a bad event_time text before a bad card_type',
      { ...TXN, event_time: 'yesterday', card_type: 'GOLD' },
      'RISK_ERR_INVALID_FIELD',
      'event_time',
    ],
    [
      'a bad card_type before a missing currency',
      { ...without(TXN, 'currency'), card_type: 'GOLD' },
      'RISK_ERR_INVALID_FIELD',
      'card_type',
    ],
    [
      'a bad card_type before a bad latitude',
      { ...TXN, card_type: 'GOLD', latitude: 'north' },
      'RISK_ERR_INVALID_FIELD',
      'card_type',
    ],
    ['a bad latitude alone', { ...TXN, latitude: 'north' }, 'RISK_ERR_INVALID_FIELD', 'latitude'],
  ]
  it.each(cases)('%s', (_name, record, code, field) => {
    const v = validateTransaction(record, OPTS)
    expect(v.ok).toBe(false)
    if (!v.ok) {
      expect(v.error.code).toBe(code)
      expect(v.error.context.field).toBe(field)
    }
  })
})
