import type { Type } from 'avsc'
import avro from 'avsc'
import type { IHeaders } from 'kafkajs'
import { ACQUIRER_ID, ACQUIRER_ID_RULE } from '../acquirers/ids.ts'
import { compileSchema, MAX_EXACT_LONG, newestBundledSchema } from '../kafka/codec.ts'
import { type ErrorCode, type ErrorContext, RiskError } from '../lib/errors.ts'
import { containsCardNumber, findCardNumberIn, maskCardNumbers, maskCardNumbersInBytes } from '../lib/luhn.ts'
import { MERCHANT_EVENT, type SchemaName, TERMINAL_TRANSACTION } from './contract.ts'
import type { MerchantEvent, TerminalTransaction } from './types.generated.ts'

/**
 * Validation beyond Avro: what the schema cannot say (amounts above zero, code formats, plausible
 * times and positions, no raw card numbers), and for JSON input also what Avro would have enforced
 * (required fields, types, enum symbols, defaults). The shape checks come from the schema itself, so
 * the .avsc files stay the single source of truth. Pure: the clock comes in as `now`.
 */

export type Validated<T> = { ok: true; value: T } | { ok: false; error: RiskError }

export interface ValidateOptions {
  /** The current time, epoch milliseconds. */
  now: number
  /** How far event_time may lie after `now` before the event counts as from the future. */
  maxFutureSkewMs: number
  /**
   * Whether the deployment serves this acquirer (acquirers/registry.ts). An event of any other acquirer
   * is rejected: traffic must not invent acquirers, each of which would get its own alert topic.
   */
  isKnownAcquirer: (acquirerId: string) => boolean
}

/** For replays of labelled files (backtests, simulations): every acquirer in the file is served. */
export const EVERY_ACQUIRER = (_acquirerId: string): boolean => true

/** Earliest plausible event_time: anything before is a zero or a seconds-for-milliseconds mix-up. */
export const MIN_EVENT_TIME = Date.UTC(2000, 0, 1)
export const MAX_ID_LENGTH = 128
/** Longest excerpt of a field value quoted in an error message. */
const MAX_QUOTED = 64
/** Fields whose value never appears in an error, whatever the error. */
const SENSITIVE_FIELDS: ReadonlySet<string> = new Set(['card_token'])

const CURRENCY = /^[A-Z]{3}$/
const MCC = /^\d{4}$/
const RESPONSE_CODE = /^[0-9A-Z]{2,3}$/
const CARD_BIN = /^\d{6,8}$/
/** RFC 3339 / ISO-8601 extended date-time; the zone is mandatory so that an instant is unambiguous. */
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/

interface FieldSpec {
  name: string
  type: Type
  /** What a missing field becomes: its Avro default, or its enum's default; null when required. */
  fill: { value: unknown } | null
  /** timestamp-millis: JSON may give it as an ISO-8601 string. */
  timestamp: boolean
  /** The allowed values, for error messages. */
  expected: string
}

interface RecordSpec {
  type: Type
  fields: readonly FieldSpec[]
  /** Names of the timestamp fields. */
  times: ReadonlySet<string>
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v)
}

function describe(type: Type): string {
  if (type instanceof avro.types.EnumType) return `one of ${type.symbols.join(', ')}`
  if (type instanceof avro.types.UnwrappedUnionType) return type.types.map(describe).join(' or ')
  switch (type.typeName) {
    case 'int':
      return 'an integer'
    case 'long':
      return `an integer within ±${MAX_EXACT_LONG}`
    case 'float':
    case 'double':
      return 'a number'
    case 'string':
      return 'a string'
    case 'boolean':
      return 'a boolean'
    default:
      return type.typeName
  }
}

function recordSpec(name: SchemaName): RecordSpec {
  const schema = newestBundledSchema(name)
  if (!isObject(schema) || !Array.isArray(schema.fields)) throw new Error(`schema of ${name} is not a record`)
  // avsc's own long: a long beyond 2^53 fails the type check instead of coming through as a bigint.
  const type = compileSchema(schema, { exactLongs: false })
  if (!(type instanceof avro.types.RecordType)) throw new Error(`schema of ${name} is not a record`)
  const rawFields: unknown[] = schema.fields
  const fields = type.fields.map((f): FieldSpec => {
    const raw = rawFields.find((r) => isObject(r) && r.name === f.name)
    const timestamp = isObject(raw) && isObject(raw.type) && raw.type.logicalType === 'timestamp-millis'
    const fieldDefault: unknown = f.defaultValue()
    const enumDefault =
      f.type instanceof avro.types.EnumType && 'default' in f.type && typeof f.type.default === 'string'
        ? f.type.default
        : undefined
    const fill =
      fieldDefault !== undefined
        ? { value: fieldDefault }
        : enumDefault !== undefined
          ? { value: enumDefault }
          : null
    const expected = timestamp
      ? 'epoch milliseconds or an ISO-8601 date-time with a zone offset'
      : describe(f.type)
    return { name: f.name, type: f.type, fill, timestamp, expected }
  })
  return { type, fields, times: new Set(fields.filter((f) => f.timestamp).map((f) => f.name)) }
}

const TRANSACTION_SPEC = recordSpec(TERMINAL_TRANSACTION)
const MERCHANT_EVENT_SPEC = recordSpec(MERCHANT_EVENT)

// The generated types come from the same schemas, so conforming to the schema is conforming to the type.
function isTerminalTransaction(v: unknown): v is TerminalTransaction {
  return TRANSACTION_SPEC.type.isValid(v)
}

function isMerchantEvent(v: unknown): v is MerchantEvent {
  return MERCHANT_EVENT_SPEC.type.isValid(v)
}

/**
 * A value for an error message: quoted, truncated, and never for a sensitive field. The scan for card
 * numbers runs before every other rule, so a value quoted here holds none; masking it again costs
 * little and keeps that true if the order ever changes.
 */
function quote(field: string, value: unknown): string {
  if (SENSITIVE_FIELDS.has(field)) return ''
  let text: string
  try {
    // String() for numbers: JSON would show NaN and Infinity as null.
    text = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))
  } catch {
    text = String(value)
  }
  text = maskCardNumbers(text)
  return `; got ${text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED - 1)}…` : text}`
}

function fieldError(code: ErrorCode, field: string, message: string, context: ErrorContext = {}): RiskError {
  return new RiskError(code, message, { context: { field, ...context } })
}

function invalid(field: string, value: unknown, rule: string): RiskError {
  return fieldError('RISK_ERR_INVALID_FIELD', field, `${field} ${rule}${quote(field, value)}`, {
    expected: rule,
  })
}

/** Epoch milliseconds from an ISO-8601 instant; null unless the string is a real calendar instant. */
export function parseIsoInstant(text: string): number | null {
  const m = ISO_INSTANT.exec(text)
  if (m === null) return null
  const part = (i: number): number => Number(m[i] ?? '0')
  const [year, month, day, hour, minute, second] = [part(1), part(2), part(3), part(4), part(5), part(6)]
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3))
  const offsetMinutes = m[9] === undefined ? 0 : (m[9] === '-' ? -1 : 1) * (part(10) * 60 + part(11))
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return null
  if (hour > 23 || minute > 59 || second > 59 || part(10) > 23 || part(11) > 59) return null
  const local = new Date(0)
  local.setUTCFullYear(year, month - 1, day)
  local.setUTCHours(hour, minute, second, millis)
  return local.getTime() - offsetMinutes * 60_000
}

const CARD_NUMBER_RULE = 'must not hold a card number (13-19 digits passing Luhn, separators ignored)'

function cardNumberError(field: string): RiskError {
  // A field path can come from a JSON key, which is input too: it is masked like a value.
  const named = maskCardNumbers(field)
  return fieldError(
    'RISK_ERR_RAW_CARD_NUMBER',
    named,
    `${named} ${CARD_NUMBER_RULE}; the value is withheld`,
    { rule: 'no-card-number' },
  )
}

/**
 * Checks the record against the schema and fills defaults. A card number is looked for first, in every
 * field (known or not), and wins over every other fault: no other error message may quote a value
 * that holds one, and a RISK_ERR_RAW_CARD_NUMBER rejection is dead-lettered redacted.
 */
function conform(record: unknown, spec: RecordSpec): Validated<Record<string, unknown>> {
  if (!isObject(record)) {
    const got = record === null ? 'null' : Array.isArray(record) ? 'an array' : typeof record
    const error = fieldError(
      'RISK_ERR_INVALID_FIELD',
      '$',
      `the event must be a record (an object); got ${got}`,
    )
    return { ok: false, error }
  }
  const card = findCardNumberIn(record, spec.times)
  if (card !== null) return { ok: false, error: cardNumberError(card) }
  // A record that already is what the copy below would make (the flat Avro reader's are) is kept.
  if (conformed(record, spec.fields)) return { ok: true, value: record }
  const out: Record<string, unknown> = {}
  const fields = spec.fields
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]
    if (field === undefined) break
    let v = record[field.name]
    if (v === undefined) {
      if (field.fill === null) {
        const error =
          misfit(out, fields, i) ??
          fieldError('RISK_ERR_MISSING_FIELD', field.name, `${field.name} is required but missing`)
        return { ok: false, error }
      }
      v = field.fill.value
    }
    if (field.timestamp && typeof v === 'string') {
      const ms = parseIsoInstant(v)
      if (ms === null)
        return {
          ok: false,
          error: misfit(out, fields, i) ?? invalid(field.name, v, `must be ${field.expected}`),
        }
      v = ms
    }
    out[field.name] = v
  }
  return { ok: true, value: out }
}

/**
 * Whether a record is a plain object with exactly the spec's fields, in its order (so of the same shape
 * as conform's copy), none missing and no time as text: conform would copy it unchanged.
 */
function conformed(record: Record<string, unknown>, fields: readonly FieldSpec[]): boolean {
  if (Object.getPrototypeOf(record) !== Object.prototype) return false
  let i = 0
  for (const name in record) {
    const field = fields[i++]
    if (field === undefined || field.name !== name) return false
    const v = record[name]
    if (v === undefined || (field.timestamp && typeof v === 'string')) return false
  }
  return i === fields.length
}

/**
 * The error of the first of the first `count` fields of a conformed record that does not fit its type;
 * null when they all fit. The types are checked once, on the whole record (validate); field by field
 * only to name the first misfit, in field order with the missing fields and bad times conform reports.
 */
function misfit(out: Record<string, unknown>, fields: readonly FieldSpec[], count: number): RiskError | null {
  for (let i = 0; i < count; i++) {
    const field = fields[i]
    if (field === undefined) break
    const v = out[field.name]
    if (!field.type.isValid(v)) return invalid(field.name, v, `must be ${field.expected}`)
  }
  return null
}

/**
 * Whether a text holds a control character (Unicode's Cc: U+0000 to U+001F and U+007F to U+009F), as
 * `/\p{Cc}/u` says, without a Unicode regular expression on each of an event's four ids.
 */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true
  }
  return false
}

type Rule<T> = (record: T, opts: ValidateOptions) => RiskError | null

function idRule(field: string, value: string): RiskError | null {
  if (value.length === 0) return invalid(field, value, 'must not be empty')
  if (value.length > MAX_ID_LENGTH)
    return invalid(field, value, `must be at most ${MAX_ID_LENGTH} characters`)
  if (hasControl(value)) return invalid(field, value, 'must not contain control characters')
  return null
}

function patternRule(field: string, value: string | null, pattern: RegExp, what: string): RiskError | null {
  return value === null || pattern.test(value) ? null : invalid(field, value, `must be ${what}`)
}

function eventTimeRule(value: number, opts: ValidateOptions): RiskError | null {
  if (value < MIN_EVENT_TIME) return invalid('event_time', value, 'must not be before 2000-01-01T00:00:00Z')
  if (value > opts.now + opts.maxFutureSkewMs) {
    return fieldError(
      'RISK_ERR_FUTURE_EVENT',
      'event_time',
      `event_time ${value} (${describeInstant(value)}) is ${value - opts.now} ms ahead of the clock, more than the allowed ${opts.maxFutureSkewMs} ms`,
      { eventTime: value, now: opts.now, maxFutureSkewMs: opts.maxFutureSkewMs },
    )
  }
  return null
}

function describeInstant(ms: number): string {
  // Date covers ±8.64e15 ms; a safe integer can lie beyond it.
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : 'beyond the calendar'
}

function coordinateRule(
  field: 'latitude' | 'longitude',
  value: number | null,
  limit: number,
): RiskError | null {
  if (value === null) return null
  return Number.isFinite(value) && value >= -limit && value <= limit
    ? null
    : invalid(field, value, `must be a finite number in [-${limit}, ${limit}]`)
}

/** A position is a pair: half of one is a terminal or an upstream bug, not a place. */
function positionRule(r: { latitude: number | null; longitude: number | null }): RiskError | null {
  if ((r.latitude === null) !== (r.longitude === null)) {
    const missing = r.latitude === null ? 'latitude' : 'longitude'
    return invalid(missing, null, 'must be set when the other coordinate is (both null or both set)')
  }
  return coordinateRule('latitude', r.latitude, 90) ?? coordinateRule('longitude', r.longitude, 180)
}

// An acquirer id names the acquirer's alert topic (risk.alerts.<acquirer_id>), so it must be a valid,
// unambiguous topic-name part (acquirers/ids.ts): rewriting odd characters could make two acquirers
// share a topic.

function acquirerRule(r: { acquirer_id: string }, opts: ValidateOptions): RiskError | null {
  const malformed =
    idRule('acquirer_id', r.acquirer_id) ??
    patternRule('acquirer_id', r.acquirer_id, ACQUIRER_ID, ACQUIRER_ID_RULE)
  if (malformed !== null) return malformed
  if (opts.isKnownAcquirer(r.acquirer_id)) return null
  return fieldError(
    'RISK_ERR_UNKNOWN_ACQUIRER',
    'acquirer_id',
    `acquirer_id ${JSON.stringify(r.acquirer_id)} is not an acquirer this deployment serves (acquirers.known, or POST /v1/acquirers)`,
    { expected: 'a known acquirer' },
  )
}

const TRANSACTION_RULES: readonly Rule<TerminalTransaction>[] = [
  (r) => idRule('txn_id', r.txn_id),
  (r, o) => eventTimeRule(r.event_time, o),
  acquirerRule,
  (r) => idRule('merchant_id', r.merchant_id),
  (r) => idRule('terminal_id', r.terminal_id),
  (r) => idRule('card_token', r.card_token),
  (r) => patternRule('card_bin', r.card_bin, CARD_BIN, '6 to 8 digits'),
  // The schema's long already guarantees a safe integer.
  (r) => (r.amount_minor > 0 ? null : invalid('amount_minor', r.amount_minor, 'must be greater than zero')),
  (r) => patternRule('currency', r.currency, CURRENCY, 'three upper-case letters (ISO 4217)'),
  (r) => patternRule('mcc', r.mcc, MCC, 'four digits'),
  (r) => patternRule('response_code', r.response_code, RESPONSE_CODE, '2 or 3 digits or upper-case letters'),
  positionRule,
]

const TERMINAL_KINDS: ReadonlySet<string> = new Set(['TERMINAL_BOUND', 'TERMINAL_UNBOUND'])

const MERCHANT_EVENT_RULES: readonly Rule<MerchantEvent>[] = [
  (r) => idRule('event_id', r.event_id),
  (r, o) => eventTimeRule(r.event_time, o),
  acquirerRule,
  (r) => idRule('merchant_id', r.merchant_id),
  (r) => {
    if (r.terminal_id !== null) return idRule('terminal_id', r.terminal_id)
    if (!TERMINAL_KINDS.has(r.kind)) return null
    return fieldError(
      'RISK_ERR_MISSING_FIELD',
      'terminal_id',
      `terminal_id is required for a ${r.kind} event`,
      {
        kind: r.kind,
      },
    )
  },
  (r) => patternRule('registered_mcc', r.registered_mcc, MCC, 'four digits'),
  positionRule,
]

function validate<T>(
  record: unknown,
  opts: ValidateOptions,
  spec: RecordSpec,
  isT: (v: unknown) => v is T,
  rules: readonly Rule<T>[],
): Validated<T> {
  const conformed = conform(record, spec)
  if (!conformed.ok) return conformed
  const value = conformed.value
  if (!isT(value)) {
    // A record fits when each of its fields does (none is undefined after conform): misfit names one.
    const error =
      misfit(value, spec.fields, spec.fields.length) ?? invalid('$', undefined, 'does not match the schema')
    return { ok: false, error }
  }
  for (const rule of rules) {
    const error = rule(value, opts)
    if (error !== null) return { ok: false, error }
  }
  return { ok: true, value }
}

/**
 * What a message carries besides its value: the Kafka key and headers (names and values). A card
 * number there rejects the message like one in a field; the field is named `kafka.key` or
 * `kafka.headers.<name>`.
 */
export function checkEnvelope(key: Buffer | null, headers: IHeaders | undefined): RiskError | null {
  if (key !== null && maskCardNumbersInBytes(key) !== null) return cardNumberError('kafka.key')
  for (const [name, value] of Object.entries(headers ?? {})) {
    const field = `kafka.headers.${name}`
    if (containsCardNumber(name)) return cardNumberError(field)
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined) continue
      if (typeof v === 'string' ? containsCardNumber(v) : maskCardNumbersInBytes(v) !== null)
        return cardNumberError(field)
    }
  }
  return null
}

/** Validates a decoded transaction (Avro or JSON) into a TerminalTransaction with defaults filled. */
export function validateTransaction(record: unknown, opts: ValidateOptions): Validated<TerminalTransaction> {
  return validate(record, opts, TRANSACTION_SPEC, isTerminalTransaction, TRANSACTION_RULES)
}

/** Validates a decoded merchant lifecycle event into a MerchantEvent with defaults filled. */
export function validateMerchantEvent(record: unknown, opts: ValidateOptions): Validated<MerchantEvent> {
  return validate(record, opts, MERCHANT_EVENT_SPEC, isMerchantEvent, MERCHANT_EVENT_RULES)
}
