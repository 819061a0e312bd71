import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { EventCodec, newestBundledSchema, valueSubject } from '../../kafka/codec.ts'
import { SchemaRegistryClient } from '../../kafka/schema-registry.ts'
import { isRiskError, type RiskError } from '../../lib/errors.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import { sampleMerchantEvent, sampleTxn } from '../helpers/events.ts'

/**
 * A test double of the Confluent Schema Registry: just the two endpoints the client uses, on a real
 * HTTP server at 127.0.0.1 so that the client's HTTP, timeouts and error mapping run for real.
 * Special ids: 500 answers a server error, 503 an HTML page, 4040 a bare 404 (a wrong path behind a
 * proxy), 7777 never answers. Subject `incompatible-value` is refused with 409.
 */
interface RegistryDouble {
  url: string
  port: number
  requests: { method: string; path: string; headers: IncomingHttpHeaders; body: string }[]
  schemas: Map<number, { schema: string; schemaType?: string }>
  /** How many next requests fail with 500 before the double answers normally again. */
  failures: number
  close: () => Promise<void>
}

const doubles: RegistryDouble[] = []

afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()))
})

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' })
  res.end(JSON.stringify(body))
}

async function startRegistry(auth?: { username: string; password: string }): Promise<RegistryDouble> {
  const schemas = new Map<number, { schema: string; schemaType?: string }>()
  const requests: RegistryDouble['requests'] = []
  const double: RegistryDouble = {
    url: '',
    port: 0,
    requests,
    schemas,
    failures: 0,
    close: async () => {},
  }
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => {
      const path = req.url ?? ''
      requests.push({ method: req.method ?? '', path, headers: req.headers, body })
      const expected = auth && `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
      if (expected !== undefined && req.headers.authorization !== expected) {
        send(res, 401, { error_code: 401, message: 'Unauthorized' })
        return
      }
      if (double.failures > 0) {
        double.failures--
        send(res, 500, { error_code: 50001, message: 'Error in the backend data store' })
        return
      }
      const byId = /^\/schemas\/ids\/(\d+)$/.exec(path)
      if (req.method === 'GET' && byId !== null) {
        const id = Number(byId[1])
        if (id === 7777) return // never answers
        if (id === 500)
          return send(res, 500, { error_code: 50001, message: 'Error in the backend data store' })
        if (id === 503) {
          res.writeHead(503, { 'content-type': 'text/html' })
          res.end('<html>Service Unavailable</html>')
          return
        }
        if (id === 4040) {
          res.writeHead(404, { 'content-type': 'text/plain' })
          res.end('Not Found')
          return
        }
        const found = schemas.get(id)
        if (found === undefined)
          return send(res, 404, { error_code: 40403, message: `Schema ${id} not found` })
        return send(res, 200, found)
      }
      const versions = /^\/subjects\/([^/]+)\/versions$/.exec(path)
      if (req.method === 'POST' && versions !== null) {
        if (req.headers['content-type'] !== 'application/vnd.schemaregistry.v1+json') {
          return send(res, 415, { error_code: 415, message: 'Unsupported Media Type' })
        }
        const subject = decodeURIComponent(versions[1] ?? '')
        if (subject === 'incompatible-value') {
          return send(res, 409, { error_code: 409, message: 'Schema being registered is incompatible' })
        }
        let schema: unknown
        try {
          const parsed: unknown = JSON.parse(body)
          schema =
            typeof parsed === 'object' && parsed !== null && 'schema' in parsed ? parsed.schema : undefined
          if (typeof schema !== 'string') throw new Error('no schema')
          JSON.parse(schema)
        } catch {
          return send(res, 422, { error_code: 42201, message: 'Invalid schema' })
        }
        for (const [id, known] of schemas) if (known.schema === schema) return send(res, 200, { id })
        const id = Math.max(0, ...schemas.keys()) + 1
        schemas.set(id, { schema })
        return send(res, 200, { id })
      }
      send(res, 404, { error_code: 404, message: 'HTTP 404 Not Found' })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the double has no TCP address')
  const { port } = address
  double.port = port
  double.url = `http://127.0.0.1:${port}`
  double.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  doubles.push(double)
  return double
}

/** A URL where nothing listens: the port of a server that was started and closed. */
async function deadUrl(): Promise<string> {
  const double = await startRegistry()
  await double.close()
  doubles.splice(doubles.indexOf(double), 1)
  return double.url
}

async function rejection(p: Promise<unknown>): Promise<RiskError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  if (!isRiskError(e)) throw new Error(`expected a RiskError, got ${String(e)}`)
  return e
}

const TXN: TerminalTransaction = sampleTxn({
  card_bin: null,
  card_type: 'DEBIT',
  amount_minor: 12_800,
  mcc: '5411',
  latitude: null,
  longitude: null,
})

const EVENT: MerchantEvent = sampleMerchantEvent()

const TXN_SCHEMA = JSON.stringify(newestBundledSchema(TERMINAL_TRANSACTION))

describe('SchemaRegistryClient', () => {
  it('registers a schema with the registry content type and reads it back by id', async () => {
    const registry = await startRegistry()
    const client = new SchemaRegistryClient({ url: registry.url })
    const id = await client.register('pos.transactions-value', TXN_SCHEMA)
    expect(registry.schemas.get(id)?.schema).toBe(TXN_SCHEMA)
    const post = registry.requests[0]
    expect(post).toMatchObject({ method: 'POST', path: '/subjects/pos.transactions-value/versions' })
    expect(post?.headers['content-type']).toBe('application/vnd.schemaregistry.v1+json')
    expect(JSON.parse(post?.body ?? '')).toStrictEqual({ schema: TXN_SCHEMA })

    const reader = new SchemaRegistryClient({ url: registry.url })
    expect(await reader.getSchemaById(id)).toStrictEqual({ schema: TXN_SCHEMA, schemaType: 'AVRO' })
    expect(registry.requests.map((r) => `${r.method} ${r.path}`)).toStrictEqual([
      'POST /subjects/pos.transactions-value/versions',
      `GET /schemas/ids/${id}`,
    ])
  })

  it('accepts a schema object and sends it as a JSON string', async () => {
    const registry = await startRegistry()
    const client = new SchemaRegistryClient({ url: registry.url })
    const schema = newestBundledSchema(TERMINAL_TRANSACTION)
    if (typeof schema !== 'object' || schema === null) throw new Error('the bundled schema is not an object')
    const id = await client.register('pos.transactions-value', schema)
    expect(registry.schemas.get(id)?.schema).toBe(TXN_SCHEMA)
  })

  it('caches ids and schemas, and shares one request between concurrent look-ups', async () => {
    const registry = await startRegistry()
    registry.schemas.set(42, { schema: TXN_SCHEMA })
    const client = new SchemaRegistryClient({ url: registry.url })
    const all = await Promise.all([client.getSchemaById(42), client.getSchemaById(42)])
    await client.getSchemaById(42)
    expect(all[0]).toStrictEqual(all[1])
    const first = await client.register('a-value', TXN_SCHEMA)
    expect(await client.register('a-value', TXN_SCHEMA)).toBe(first)
    expect(registry.requests.map((r) => r.method)).toStrictEqual(['GET', 'POST'])
    // Another subject is another registration, even for a schema the registry already has.
    expect(await client.register('b-value', TXN_SCHEMA)).toBe(first)
    expect(registry.requests).toHaveLength(3)
  })

  it('knows the schema of an id it registered without asking again', async () => {
    const registry = await startRegistry()
    const client = new SchemaRegistryClient({ url: registry.url })
    const id = await client.register('a-value', TXN_SCHEMA)
    expect((await client.getSchemaById(id)).schema).toBe(TXN_SCHEMA)
    expect(registry.requests).toHaveLength(1)
  })

  it('reports an id the registry does not know as not retriable', async () => {
    const registry = await startRegistry()
    const error = await rejection(new SchemaRegistryClient({ url: registry.url }).getSchemaById(12))
    expect(error.code).toBe('RISK_ERR_UNKNOWN_SCHEMA_ID')
    expect(error.retriable).toBe(false)
    expect(error.context.schemaId).toBe(12)
  })

  const retriable: [string, number, number | undefined][] = [
    ['a 500', 500, undefined],
    ['a 503 with an HTML page', 503, undefined],
    ['a 404 without the registry error code', 4040, undefined],
    ['no answer before the timeout', 7777, 200],
  ]
  it.each(retriable)('reports %s as retriable', async (_name, id, timeoutMs) => {
    const registry = await startRegistry()
    const client = new SchemaRegistryClient({ url: registry.url, ...(timeoutMs ? { timeoutMs } : {}) })
    const error = await rejection(client.getSchemaById(id))
    expect(error.code).toBe('RISK_ERR_SCHEMA_REGISTRY')
    expect(error.retriable).toBe(true)
    expect(error.context.schemaId).toBe(id)
  })

  it('reports a registry that is down as retriable', async () => {
    const client = new SchemaRegistryClient({ url: await deadUrl() })
    for (const call of [client.getSchemaById(1), client.register('a-value', TXN_SCHEMA)]) {
      const error = await rejection(call)
      expect(error).toMatchObject({ code: 'RISK_ERR_SCHEMA_REGISTRY', retriable: true })
      expect(error.message).toContain('ECONNREFUSED')
    }
  })

  it('does not cache a failure', async () => {
    const registry = await startRegistry()
    registry.schemas.set(3, { schema: TXN_SCHEMA })
    registry.failures = 2
    const client = new SchemaRegistryClient({ url: registry.url })
    expect((await rejection(client.getSchemaById(3))).retriable).toBe(true)
    expect((await rejection(client.register('a-value', TXN_SCHEMA))).retriable).toBe(true)
    expect((await client.getSchemaById(3)).schema).toBe(TXN_SCHEMA)
    expect(await client.register('a-value', TXN_SCHEMA)).toBe(3)
  })

  const refused: [string, string, string][] = [
    ['an incompatible schema', 'incompatible-value', TXN_SCHEMA],
    ['a schema that is not JSON', 'a-value', '{not json'],
  ]
  it.each(refused)('reports %s as not retriable', async (_name, subject, schema) => {
    const registry = await startRegistry()
    const error = await rejection(new SchemaRegistryClient({ url: registry.url }).register(subject, schema))
    expect(error).toMatchObject({ code: 'RISK_ERR_WRONG_SCHEMA', retriable: false, context: { subject } })
  })

  it('sends basic auth when a user is set', async () => {
    const registry = await startRegistry({ username: 'svc-risk', password: 's3cret:pw' })
    registry.schemas.set(7, { schema: TXN_SCHEMA })
    const client = new SchemaRegistryClient({
      url: registry.url,
      username: 'svc-risk',
      password: 's3cret:pw',
    })
    expect((await client.getSchemaById(7)).schema).toBe(TXN_SCHEMA)
    expect(registry.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('svc-risk:s3cret:pw').toString('base64')}`,
    )
  })

  it('sends no auth for an empty user', async () => {
    const registry = await startRegistry()
    registry.schemas.set(7, { schema: TXN_SCHEMA })
    await new SchemaRegistryClient({ url: registry.url, username: '', password: 'x' }).getSchemaById(7)
    expect(registry.requests[0]?.headers.authorization).toBeUndefined()
  })

  it('takes credentials from the URL and keeps them out of errors', async () => {
    const registry = await startRegistry({ username: 'svc-risk', password: 's3cret' })
    registry.schemas.set(7, { schema: TXN_SCHEMA })
    const good = new SchemaRegistryClient({ url: `http://svc-risk:s3cret@127.0.0.1:${registry.port}` })
    expect((await good.getSchemaById(7)).schema).toBe(TXN_SCHEMA)
    expect(good.url).not.toContain('s3cret')

    const wrong = new SchemaRegistryClient({ url: `http://svc-risk:wr0ng@127.0.0.1:${registry.port}` })
    const error = await rejection(wrong.getSchemaById(7))
    // Bad credentials are an outage to wait out, not a bad message to dead-letter.
    expect(error).toMatchObject({ code: 'RISK_ERR_SCHEMA_REGISTRY', retriable: true })
    expect(JSON.stringify(error.toLog())).not.toContain('wr0ng')
  })

  it('keeps a path prefix of the URL', async () => {
    const registry = await startRegistry()
    const client = new SchemaRegistryClient({ url: `${registry.url}/registry` })
    await rejection(client.getSchemaById(1))
    expect(registry.requests[0]?.path).toBe('/registry/schemas/ids/1')
  })

  it('refuses a URL that is not one', () => {
    expect(() => new SchemaRegistryClient({ url: 'not a url' })).toThrow(
      expect.objectContaining({ code: 'RISK_ERR_CONFIG' }),
    )
  })
})

describe('EventCodec with a Schema Registry', () => {
  const subject = valueSubject('pos.transactions')

  it('registers its schema under the subject and frames messages with the registry id', async () => {
    const registry = await startRegistry()
    registry.schemas.set(1, { schema: '"string"' })
    const producer = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    const value = await producer.encode(TERMINAL_TRANSACTION, TXN, 'avro', { subject })
    const id = value.readUInt32BE(1)
    expect(id).toBe(2)
    expect(registry.requests[0]?.path).toBe('/subjects/pos.transactions-value/versions')
    // The file's text, with the enum defaults avsc would drop from its own export.
    expect(registry.schemas.get(id)?.schema).toBe(TXN_SCHEMA)
    expect(registry.schemas.get(id)?.schema).toContain('"default":"UNKNOWN"')

    const consumer = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    for (let i = 0; i < 2; i++) {
      const result = await consumer.decode(TERMINAL_TRANSACTION, value)
      if (!result.ok) throw result.error
      expect(result).toMatchObject({ format: 'avro', schemaId: id })
      expect(result.record).toStrictEqual(TXN)
    }
    expect(registry.requests.filter((r) => r.method === 'GET')).toHaveLength(1)
  })

  it('decodes without a promise once the writer schema is known, and only then', async () => {
    const registry = await startRegistry()
    const producer = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    const value = await producer.encode(TERMINAL_TRANSACTION, TXN, 'avro', { subject })
    const consumer = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    // The id is not resolved yet: the registry must be asked, which only decode does.
    expect(consumer.decodeNow(TERMINAL_TRANSACTION, value)).toBeNull()
    const first = await consumer.decode(TERMINAL_TRANSACTION, value)
    expect(consumer.decodeNow(TERMINAL_TRANSACTION, value)).toStrictEqual(first)
    expect(first).toMatchObject({ ok: true, format: 'avro', schemaId: value.readUInt32BE(1) })
    // What needs no schema is answered at once, good or bad.
    const json = await producer.encode(TERMINAL_TRANSACTION, TXN, 'json')
    expect(consumer.decodeNow(TERMINAL_TRANSACTION, json)).toStrictEqual(
      await consumer.decode(TERMINAL_TRANSACTION, json),
    )
    expect(consumer.decodeNow(TERMINAL_TRANSACTION, Buffer.from([0, 1]))).toMatchObject({
      ok: false,
      error: { code: 'RISK_ERR_BAD_FRAME' },
    })
    expect(registry.requests.filter((r) => r.method === 'GET')).toHaveLength(1)
  })

  it('decodes without a round trip what it encoded itself', async () => {
    const registry = await startRegistry()
    const codec = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    const result = await codec.decode(
      TERMINAL_TRANSACTION,
      await codec.encode(TERMINAL_TRANSACTION, TXN, 'avro', { subject }),
    )
    expect(result.ok).toBe(true)
    expect(registry.requests.map((r) => r.method)).toStrictEqual(['POST'])
  })

  it('reports an id the registry does not know as not retriable', async () => {
    const registry = await startRegistry()
    const codec = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    const bundled = await new EventCodec().encode(TERMINAL_TRANSACTION, TXN, 'avro')
    const result = await codec.decode(TERMINAL_TRANSACTION, bundled)
    if (result.ok) throw new Error('expected a failure')
    expect(result.error).toMatchObject({ code: 'RISK_ERR_UNKNOWN_SCHEMA_ID', retriable: false })
    expect(result.error.context.schemaId).toBe(1001)
  })

  it('returns a retriable error, without throwing, when the registry is down', async () => {
    const codec = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: await deadUrl() }) })
    const result = await codec.decode(
      TERMINAL_TRANSACTION,
      await new EventCodec().encode(TERMINAL_TRANSACTION, TXN, 'avro'),
    )
    if (result.ok) throw new Error('expected a failure')
    expect(result.error).toMatchObject({ code: 'RISK_ERR_SCHEMA_REGISTRY', retriable: true })
  })

  it('refuses a schema of another record or another schema type', async () => {
    const registry = await startRegistry()
    const client = new SchemaRegistryClient({ url: registry.url })
    const producer = new EventCodec({ schemaRegistry: client })
    const event = await producer.encode(MERCHANT_EVENT, EVENT, 'avro', {
      subject: 'pos.merchant-events-value',
    })
    registry.schemas.set(90, { schema: 'syntax = "proto3";', schemaType: 'PROTOBUF' })
    registry.schemas.set(91, { schema: '{"type": "nope"}' })
    const codec = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    const values = [event, Buffer.from([0, 0, 0, 0, 90, 2]), Buffer.from([0, 0, 0, 0, 91, 2])]
    for (const value of values) {
      const result = await codec.decode(TERMINAL_TRANSACTION, value)
      if (result.ok) throw new Error('expected a failure')
      expect(result.error).toMatchObject({ code: 'RISK_ERR_WRONG_SCHEMA', retriable: false })
    }
  })

  it('needs a subject to encode Avro', async () => {
    const registry = await startRegistry()
    const codec = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    await expect(codec.encode(TERMINAL_TRANSACTION, TXN, 'avro')).rejects.toMatchObject({
      code: 'RISK_ERR_CONFIG',
    })
    expect((await codec.encode(TERMINAL_TRANSACTION, TXN, 'json')).toString('utf8')).toBe(JSON.stringify(TXN))
    expect(registry.requests).toHaveLength(0)
  })

  it('refuses extra writer schemas, which only bundled mode uses', () => {
    const schemaRegistry = new SchemaRegistryClient({ url: 'http://127.0.0.1:1' })
    expect(() => new EventCodec({ schemaRegistry, writerSchemas: { 5: TXN_SCHEMA } })).toThrow(
      expect.objectContaining({ code: 'RISK_ERR_CONFIG' }),
    )
  })

  it('redacts a raw card number and keeps the registry id', async () => {
    const registry = await startRegistry()
    const producer = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    const original = await producer.encode(
      TERMINAL_TRANSACTION,
      { ...TXN, card_token: '4111111111111111' },
      'avro',
      {
        subject,
      },
    )
    const consumer = new EventCodec({ schemaRegistry: new SchemaRegistryClient({ url: registry.url }) })
    const copy = await consumer.redactCardNumbers(TERMINAL_TRANSACTION, original)
    if (copy === null) throw new Error('no redacted copy')
    expect(copy.subarray(0, 5)).toStrictEqual(original.subarray(0, 5))
    expect(copy.includes('4111111111111111')).toBe(false)
    const decoded = await consumer.decode(TERMINAL_TRANSACTION, copy)
    if (!decoded.ok) throw decoded.error
    expect(decoded.record.card_token).toBe('*'.repeat(16))
  })
})
