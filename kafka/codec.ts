import type { Type } from 'avsc'
import avro from 'avsc'
import { type ErrorCode, type ErrorContext, RiskError } from '../lib/errors.ts'
import { findCardNumberIn, maskCardNumbersIn, maskCardNumbersInBytes } from '../lib/luhn.ts'
import { BUNDLED_SCHEMAS, loadSchemaFile, type SchemaName } from '../schemas/contract.ts'
import type {
  MerchantEvent,
  RiskAlert,
  RuleHit,
  ScoreEvent,
  TerminalTransaction,
} from '../schemas/types.generated.ts'
import { type FlatReader, flatReader } from './flat-record.ts'
import type { SchemaRegistryClient } from './schema-registry.ts'

/**
 * The wire format of our topics. A value is either a Confluent-framed Avro message (magic byte 0, the
 * schema id as a big-endian uint32, then the Avro binary body) or a UTF-8 JSON object. Both decode to
 * the same plain object, so everything after the codec is blind to the format.
 */

export type WireFormat = 'avro' | 'json'

export type DecodeResult =
  | { ok: true; record: Record<string, unknown>; format: WireFormat; schemaId: number | null }
  | { ok: false; error: RiskError }

/** The TypeScript type of each record a producer encodes. */
export interface EventTypes {
  'posrisk.events.TerminalTransaction': TerminalTransaction
  'posrisk.events.MerchantEvent': MerchantEvent
  'posrisk.alerts.RiskAlert': RiskAlert
  'posrisk.internal.RuleHit': RuleHit
  'posrisk.internal.ScoreEvent': ScoreEvent
}

export interface EventCodecOptions {
  /** Writer schemas are looked up by id in this registry; unset, only bundled ids are known. */
  schemaRegistry?: Pick<SchemaRegistryClient, 'getSchemaById' | 'register'>
  /**
   * Reader schemas replacing the newest bundled one of a record (the record name must match). Decoding
   * resolves every writer schema into the reader schema; encoding writes with it.
   */
  readerSchemas?: Partial<Record<SchemaName, unknown>>
  /** Writer schemas by id beside the bundled ones; only without a registry, which owns ids otherwise. */
  writerSchemas?: Readonly<Record<number, unknown>>
}

export interface EncodeOptions {
  /** Subject to register the schema under (`<topic>-value`); required with a Schema Registry. */
  subject?: string
}

export const MAGIC_BYTE = 0
const HEADER_SIZE = 5

/** The Confluent TopicNameStrategy subject of a topic's values. */
export function valueSubject(topic: string): string {
  return `${topic}-value`
}

/** The newest bundled schema (the highest id) of a record, as parsed JSON. */
export function newestBundledSchema(name: SchemaName): unknown {
  let newest: { id: number; file: string } | undefined
  for (const s of BUNDLED_SCHEMAS) {
    if (s.name === name && (newest === undefined || s.id > newest.id)) newest = s
  }
  if (newest === undefined) throw new Error(`no bundled schema named ${name}`)
  return loadSchemaFile(newest.file)
}

/** avsc's bound for a long held as a number (its own check stops two short of Number.MAX_SAFE_INTEGER). */
export const MAX_EXACT_LONG = 2 ** 53 - 2
const SAFE_MIN = BigInt(-MAX_EXACT_LONG)
const SAFE_MAX = BigInt(MAX_EXACT_LONG)
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

function exactLongValue(n: bigint): number | bigint {
  return n >= SAFE_MIN && n <= SAFE_MAX ? Number(n) : n
}

function isExactLong(v: unknown): v is number | bigint {
  return (
    (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= MAX_EXACT_LONG) ||
    (typeof v === 'bigint' && v >= INT64_MIN && v <= INT64_MAX)
  )
}

/**
 * Avro long as a JS number while it is exact, and a bigint beyond 2^53. avsc's own long type throws a
 * bare "potential precision loss" there; a bigint lets the codec name the field, and lets the DLQ
 * redaction re-encode such a message byte for byte.
 */
const exactLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => exactLongValue(buf.readBigInt64LE()),
  toBuffer: (v: number | bigint) => {
    const buf = Buffer.alloc(8)
    buf.writeBigInt64LE(BigInt(v))
    return buf
  },
  fromJSON: (v: unknown) => (typeof v === 'number' ? v : exactLongValue(BigInt(String(v)))),
  toJSON: (v: number | bigint) => (typeof v === 'number' ? v : v.toString()),
  isValid: isExactLong,
  compare: (a: number | bigint, b: number | bigint) => (a < b ? -1 : a > b ? 1 : 0),
})

type AvroSchema = Parameters<typeof avro.Type.forSchema>[0]

/** avsc itself rejects a malformed schema; this only keeps non-JSON values out. */
function isSchemaShaped(v: unknown): v is AvroSchema {
  return typeof v === 'string' || (typeof v === 'object' && v !== null)
}

/** `"long"` or `{"type": "long", ...}`: avsc builds the second form (our timestamps) past its registry. */
function isLongSchema(s: unknown): boolean {
  return s === 'long' || (typeof s === 'object' && s !== null && 'type' in s && s.type === 'long')
}

/**
 * Compiles a schema; every call gets its own name registry, so a writer and a reader may share a name.
 * With `exactLongs` (the codec's choice) a long beyond 2^53 is a bigint; without, avsc rejects it.
 */
export function compileSchema(schema: unknown, opts: { exactLongs: boolean } = { exactLongs: true }): Type {
  if (!isSchemaShaped(schema)) throw new Error('an Avro schema is a JSON string, object or array')
  if (!opts.exactLongs) return avro.Type.forSchema(schema)
  return avro.Type.forSchema(schema, { typeHook: (s) => (isLongSchema(s) ? exactLong : undefined) })
}

type Resolver = ReturnType<Type['createResolver']>

function isRecordObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v)
}

function failure(
  code: ErrorCode,
  message: string,
  context: ErrorContext,
  cause?: unknown,
): { ok: false; error: RiskError } {
  return {
    ok: false,
    error: new RiskError(code, message, { context, ...(cause === undefined ? {} : { cause }) }),
  }
}

/**
 * Copies avsc Record instances into plain objects; `found.unsafe` is set when a long is not exact (a
 * bigint). No paths are built on the way: every field of every record passes here, and a path is only
 * wanted for the rare record that has such a long (bigintPath).
 */
function toPlain(v: unknown, found: { unsafe: boolean }): unknown {
  if (typeof v === 'bigint') {
    found.unsafe = true
    return v
  }
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v
  if (Array.isArray(v)) {
    const items: unknown[] = new Array(v.length)
    for (let i = 0; i < v.length; i++) items[i] = toPlain(v[i], found)
    return items
  }
  const out: Record<string, unknown> = {}
  // Own keys only: avsc puts its methods (clone, toBuffer, ...) on the records' prototype, enumerable.
  const fields = v as Record<string, unknown>
  for (const k of Object.keys(fields)) out[k] = toPlain(fields[k], found)
  return out
}

/** The path of the first bigint in `v`, depth first in key order (as toPlain walks); null when none. */
function bigintPath(v: unknown, path: string): string | null {
  if (typeof v === 'bigint') return path
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return null
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = bigintPath(v[i], `${path}[${i}]`)
      if (p !== null) return p
    }
    return null
  }
  for (const [k, item] of Object.entries(v)) {
    const p = bigintPath(item, path === '' ? k : `${path}.${k}`)
    if (p !== null) return p
  }
  return null
}

function detectFormat(value: Buffer): WireFormat | null {
  if (value[0] === MAGIC_BYTE) return 'avro'
  for (const byte of value) {
    // JSON whitespace: space, tab, line feed, carriage return.
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue
    return byte === 0x7b ? 'json' : null
  }
  return null
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Parses a JSON object; null when it is not one. */
function parseJsonObject(value: Buffer): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(utf8.decode(value))
    return isRecordObject(parsed) ? parsed : null
  } catch {
    // The parser's message quotes the input, which may hold a card number: it is never passed on.
    return null
  }
}

type WriterLookup = { ok: true; type: Type } | { ok: false; error: RiskError }

/**
 * Decodes and encodes the values of our topics. Built from options, never from the environment;
 * schemas compile in the constructor so that a broken schema stops start-up.
 */
export class EventCodec {
  readonly #registry: EventCodecOptions['schemaRegistry'] | undefined
  readonly #readers = new Map<SchemaName, { schema: unknown; type: Type }>()
  /** Bundled (and extra) writer types, or the registry's, compiled once per id. */
  readonly #writers = new Map<number, Type>()
  /** Resolvers by reader (the expected record) and writer schema id. */
  readonly #resolvers = new Map<SchemaName, Map<number, Resolver>>()
  /**
   * Beside a resolver, the flat reader of a writer schema that is the reader's own (canonical form):
   * what the rules worker and ingest read of the input topics, at a fraction of avsc's cost.
   */
  readonly #flatReaders = new Map<SchemaName, Map<number, FlatReader>>()
  /** The id encode frames a record with, by record name (bundled) or name and subject (registry). */
  readonly #ownIds = new Map<string, number>()

  constructor(opts: EventCodecOptions = {}) {
    this.#registry = opts.schemaRegistry
    for (const { name } of BUNDLED_SCHEMAS) {
      const schema = opts.readerSchemas?.[name] ?? newestBundledSchema(name)
      const type = compileConfigured(schema, `the reader schema of ${name}`)
      if (!(type instanceof avro.types.RecordType) || type.name !== name) {
        throw new RiskError(
          'RISK_ERR_CONFIG',
          `the reader schema given for ${name} is not a record named ${name}`,
        )
      }
      this.#readers.set(name, { schema, type })
    }
    const extra = Object.entries(opts.writerSchemas ?? {})
    if (this.#registry !== undefined) {
      if (extra.length > 0) {
        throw new RiskError(
          'RISK_ERR_CONFIG',
          'extra writer schemas are for bundled mode; the Schema Registry owns ids',
        )
      }
      return
    }
    for (const s of BUNDLED_SCHEMAS) this.#writers.set(s.id, compileSchema(loadSchemaFile(s.file)))
    for (const [key, schema] of extra) {
      const id = Number(key)
      if (this.#writers.has(id)) {
        throw new RiskError('RISK_ERR_CONFIG', `writer schema id ${id} is already bundled`)
      }
      this.#writers.set(id, compileConfigured(schema, `the writer schema of id ${id}`))
    }
  }

  /**
   * Decodes one message value into a plain object of the `expected` record. Never throws: bad input
   * gives a non-retriable error, and only an unreachable Schema Registry a retriable one.
   */
  async decode(expected: SchemaName, value: Buffer | null): Promise<DecodeResult> {
    const now = this.decodeNow(expected, value)
    if (now !== null) return now
    // decodeNow leaves only a framed Avro value whose writer schema is not yet resolved.
    const body = value as Buffer
    const schemaId = body.readUInt32BE(1)
    const resolved = await this.#resolver(expected, schemaId)
    if (!resolved.ok) return resolved
    return this.#decodeAvro(body, schemaId, resolved.reader, resolved.resolver, { schema: expected })
  }

  /**
   * `decode` without a promise, for the loops that decode every record of a part: the same result, or
   * null when the value is framed Avro of a writer schema not yet resolved (the Schema Registry may
   * have to be asked; `decode` does).
   */
  decodeNow(expected: SchemaName, value: Buffer | null): DecodeResult | null {
    const context = { schema: expected }
    if (value === null || value.length === 0) {
      return failure('RISK_ERR_BAD_FRAME', 'the message value is empty', context)
    }
    const format = detectFormat(value)
    if (format === 'json') {
      const record = parseJsonObject(value)
      if (record === null) {
        const message = `the value (${value.length} bytes) is not a valid JSON object`
        return failure('RISK_ERR_JSON_PARSE', message, { ...context, format })
      }
      return { ok: true, record, format, schemaId: null }
    }
    if (format === null || value.length < HEADER_SIZE) {
      return failure(
        'RISK_ERR_BAD_FRAME',
        'the value is neither a Confluent-framed Avro message (magic byte 0, 4-byte schema id) nor a JSON object',
        context,
      )
    }
    const schemaId = value.readUInt32BE(1)
    const flat = this.#flatReaders.get(expected)?.get(schemaId)?.(value, HEADER_SIZE)
    if (flat !== undefined) return { ok: true, record: flat, format: 'avro', schemaId }
    const resolver = this.#resolvers.get(expected)?.get(schemaId)
    if (resolver === undefined) return null
    return this.#decodeAvro(value, schemaId, this.#reader(expected).type, resolver, context)
  }

  #decodeAvro(
    value: Buffer,
    schemaId: number,
    reader: Type,
    resolver: Resolver,
    context: { schema: SchemaName },
  ): DecodeResult {
    const avroContext = { ...context, format: 'avro' as const, schemaId }
    let decoded: unknown
    try {
      decoded = reader.fromBuffer(value.subarray(HEADER_SIZE), resolver)
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e)
      return failure(
        'RISK_ERR_AVRO_DECODE',
        `the Avro body does not decode with schema id ${schemaId}: ${detail}`,
        avroContext,
        e,
      )
    }
    const found = { unsafe: false }
    const record = toPlain(decoded, found)
    if (found.unsafe) {
      const field = bigintPath(record, '') ?? ''
      return failure(
        'RISK_ERR_INVALID_FIELD',
        `${field} is a long beyond ±(2^53 - 2), which a JS number cannot hold exactly`,
        { ...avroContext, field },
      )
    }
    if (!isRecordObject(record)) {
      return failure('RISK_ERR_AVRO_DECODE', `schema id ${schemaId} did not decode to a record`, avroContext)
    }
    return { ok: true, record, format: 'avro', schemaId }
  }

  /**
   * Decodes a record of the service's own internal topics, typed: the value must decode to exactly the
   * schema's shape (the reader's `isValid`), which is what makes it an `EventTypes[N]`. Input records
   * from outside go through `decode` and the validation in ingest/ instead.
   */
  async decodeInternal<N extends SchemaName>(
    name: N,
    value: Buffer | null,
  ): Promise<{ ok: true; record: EventTypes[N] } | { ok: false; error: RiskError }> {
    const decoded = await this.decode(name, value)
    if (!decoded.ok) return decoded
    const type = this.#reader(name).type
    const fits = (r: unknown): r is EventTypes[N] => type.isValid(r)
    if (!fits(decoded.record)) {
      return failure('RISK_ERR_INVALID_FIELD', `the record does not fit ${name}`, { schema: name })
    }
    return { ok: true, record: decoded.record }
  }

  /**
   * Encodes a record for producers: framed Avro with the codec's schema of `name` (its bundled id, or
   * the id the registry gives it under `opts.subject`), or UTF-8 JSON. Either way the record must fit
   * the schema: a message this produces always decodes.
   */
  async encode<N extends SchemaName>(
    name: N,
    record: EventTypes[N],
    format: WireFormat,
    opts: EncodeOptions = {},
  ): Promise<Buffer> {
    const reader = this.#reader(name)
    const invalid = invalidPath(reader.type, record)
    if (invalid !== null) {
      throw new RiskError(
        'RISK_ERR_INVALID_FIELD',
        `cannot encode ${name}: ${invalid} does not fit the schema`,
        {
          context: { schema: name, field: invalid },
        },
      )
    }
    if (format === 'json') return Buffer.from(JSON.stringify(record), 'utf8')
    const id = await this.#ownId(name, reader, opts)
    return frame(id, reader.type.toBuffer(record))
  }

  /**
   * The dead-letter copy of a rejected message, with every card number in it masked (see
   * lib/luhn.ts maskCardNumbersIn): the same framing, writer schema id and fields, decoded with the
   * writer schema so that fields the reader schema drops are masked too. The same buffer when it holds
   * no card number; the bytes masked one for one when it cannot be decoded; null when a masked copy
   * cannot be made (it would not encode, or would still hold a number), so that the value is dropped.
   * A JSON copy is re-serialised, so its layout may differ from the original.
   */
  async redactCardNumbers(expected: SchemaName, value: Buffer): Promise<Buffer | null> {
    const times = this.#times(expected)
    const format = value.length === 0 ? null : detectFormat(value)
    if (format === 'json') {
      const record = parseJsonObject(value)
      if (record === null) return maskCardNumbersInBytes(value) ?? value
      const masked = maskCardNumbersIn(record, times)
      if (masked === record) return value
      const copy = Buffer.from(JSON.stringify(masked), 'utf8')
      const reread = parseJsonObject(copy)
      return reread !== null && findCardNumberIn(reread, times) === null ? copy : null
    }
    if (format !== 'avro' || value.length < HEADER_SIZE) return maskCardNumbersInBytes(value) ?? value
    const schemaId = value.readUInt32BE(1)
    const writer = await this.#writer(expected, schemaId)
    if (!writer.ok) return maskCardNumbersInBytes(value) ?? value
    let record: unknown
    try {
      // The writer schema, not the reader: the copy keeps the exact schema id and fields it came with.
      record = writer.type.fromBuffer(value.subarray(HEADER_SIZE))
    } catch {
      return maskCardNumbersInBytes(value) ?? value
    }
    const masked = maskCardNumbersIn(record, times)
    if (masked === record) return value
    try {
      const copy = frame(schemaId, writer.type.toBuffer(masked))
      const reread: unknown = writer.type.fromBuffer(copy.subarray(HEADER_SIZE))
      return findCardNumberIn(reread, times) === null ? copy : null
    } catch {
      // A masked enum symbol, say: no longer a valid record.
      return null
    }
  }

  /** The timestamp fields of a record, whose epoch milliseconds are not card numbers. */
  #times(name: SchemaName): ReadonlySet<string> {
    const schema = this.#reader(name).schema
    const fields = isRecordObject(schema) && Array.isArray(schema.fields) ? schema.fields : []
    const times = new Set<string>()
    for (const f of fields) {
      if (isRecordObject(f) && isRecordObject(f.type) && f.type.logicalType === 'timestamp-millis')
        times.add(String(f.name))
    }
    return times
  }

  #reader(name: SchemaName): { schema: unknown; type: Type } {
    const reader = this.#readers.get(name)
    if (reader === undefined) throw new Error(`no reader schema for ${name}`)
    return reader
  }

  async #ownId(
    name: SchemaName,
    reader: { schema: unknown; type: Type },
    opts: EncodeOptions,
  ): Promise<number> {
    const key = this.#registry === undefined ? name : `${name}\u0000${opts.subject ?? ''}`
    const known = this.#ownIds.get(key)
    if (known !== undefined) return known
    let id: number | null = null
    if (this.#registry === undefined) {
      for (const [candidate, type] of this.#writers) {
        if (type.equals(reader.type) && (id === null || candidate > id)) id = candidate
      }
      if (id === null) {
        const message = `the reader schema of ${name} has no bundled or extra writer schema id`
        throw new RiskError('RISK_ERR_CONFIG', message, { context: { schema: name } })
      }
    } else {
      if (opts.subject === undefined || opts.subject === '') {
        const message = `encoding ${name} as Avro with a Schema Registry needs a subject`
        throw new RiskError('RISK_ERR_CONFIG', message, { context: { schema: name } })
      }
      // The original schema text, not avsc's export of it, which drops enum defaults and logical types.
      id = await this.#registry.register(opts.subject, JSON.stringify(reader.schema))
      if (!this.#writers.has(id)) this.#writers.set(id, compileSchema(reader.schema))
    }
    this.#ownIds.set(key, id)
    return id
  }

  /** The writer type of `schemaId`, checked to be a record `expected` can read. */
  async #writer(expected: SchemaName, schemaId: number): Promise<WriterLookup> {
    const context = { schema: expected, format: 'avro', schemaId }
    let type = this.#writers.get(schemaId)
    if (type === undefined) {
      if (this.#registry === undefined) {
        return failure('RISK_ERR_UNKNOWN_SCHEMA_ID', `schema id ${schemaId} is not a bundled schema`, context)
      }
      let registered: { schema: string; schemaType: string }
      try {
        registered = await this.#registry.getSchemaById(schemaId)
      } catch (e) {
        return { ok: false, error: asDecodeError(e, context) }
      }
      if (registered.schemaType.toUpperCase() !== 'AVRO') {
        return failure(
          'RISK_ERR_WRONG_SCHEMA',
          `schema id ${schemaId} is a ${registered.schemaType} schema`,
          context,
        )
      }
      try {
        type = compileSchema(JSON.parse(registered.schema))
      } catch (e) {
        return failure(
          'RISK_ERR_WRONG_SCHEMA',
          `schema id ${schemaId} is not a valid Avro schema`,
          context,
          e,
        )
      }
      this.#writers.set(schemaId, type)
    }
    const reader = this.#reader(expected).type
    const name = type.name
    if (!(type instanceof avro.types.RecordType) || name === undefined || !namesMatch(reader, name)) {
      return failure(
        'RISK_ERR_WRONG_SCHEMA',
        `schema id ${schemaId} describes ${name ?? type.typeName}, not ${expected}`,
        { ...context, writer: name ?? type.typeName },
      )
    }
    return { ok: true, type }
  }

  async #resolver(
    expected: SchemaName,
    schemaId: number,
  ): Promise<{ ok: true; reader: Type; resolver: Resolver } | { ok: false; error: RiskError }> {
    const reader = this.#reader(expected).type
    let byId = this.#resolvers.get(expected)
    if (byId === undefined) {
      byId = new Map()
      this.#resolvers.set(expected, byId)
    }
    const cached = byId.get(schemaId)
    if (cached !== undefined) return { ok: true, reader, resolver: cached }
    const writer = await this.#writer(expected, schemaId)
    if (!writer.ok) return writer
    let resolver: Resolver
    try {
      resolver = reader.createResolver(writer.type)
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e)
      return failure(
        'RISK_ERR_WRONG_SCHEMA',
        `schema id ${schemaId} cannot be read as the current ${expected}: ${detail}`,
        { schema: expected, format: 'avro', schemaId },
        e,
      )
    }
    byId.set(schemaId, resolver)
    const flat = writer.type.equals(reader) ? flatReader(reader, exactLong) : null
    if (flat !== null) {
      let flatById = this.#flatReaders.get(expected)
      if (flatById === undefined) {
        flatById = new Map()
        this.#flatReaders.set(expected, flatById)
      }
      flatById.set(schemaId, flat)
    }
    return { ok: true, reader, resolver }
  }
}

function compileConfigured(schema: unknown, what: string): Type {
  try {
    return compileSchema(schema)
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e)
    throw new RiskError('RISK_ERR_CONFIG', `${what} is not a valid Avro schema: ${detail}`, { cause: e })
  }
}

function namesMatch(reader: Type, writerName: string): boolean {
  return reader.name === writerName || (reader.aliases ?? []).includes(writerName)
}

function asDecodeError(e: unknown, context: ErrorContext): RiskError {
  if (e instanceof RiskError) return e
  const detail = e instanceof Error ? e.message : String(e)
  return new RiskError('RISK_ERR_SCHEMA_REGISTRY', `the Schema Registry look-up failed: ${detail}`, {
    cause: e,
    context,
  })
}

function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_SIZE)
  header.writeUInt8(MAGIC_BYTE, 0)
  header.writeUInt32BE(schemaId, 1)
  return Buffer.concat([header, body])
}

/** The path of the first value that does not fit `type`, or null; the value itself is never reported. */
function invalidPath(type: Type, record: unknown): string | null {
  let path: string | null = null
  const valid = type.isValid(record, {
    errorHook: (p: string[]) => {
      path ??= p.join('.')
    },
  })
  return valid ? null : (path ?? '(record)')
}
