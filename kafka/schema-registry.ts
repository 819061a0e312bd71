import { RiskError } from '../lib/errors.ts'

export interface SchemaRegistryOptions {
  /** Base URL of the Confluent Schema Registry, e.g. `http://localhost:8081`; may carry a path prefix. */
  url: string
  /** Basic-auth user; an empty string means no authentication. */
  username?: string
  password?: string
  /** Deadline of one HTTP request, body included. */
  timeoutMs?: number
}

/** A schema as the registry stores it. */
export interface RegisteredSchema {
  /** The schema text (for Avro, the JSON of the schema). */
  schema: string
  /** AVRO, PROTOBUF or JSON; the registry leaves it out for Avro. */
  schemaType: string
}

const DEFAULT_TIMEOUT_MS = 5_000
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json'
const ACCEPT = `${CONTENT_TYPE}, application/vnd.schemaregistry+json, application/json`
/** The registry's error_code for "Schema not found" (an unknown id). */
const SCHEMA_NOT_FOUND = 40403

type Json = Record<string, unknown>

function isJsonObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * A client of the two Confluent Schema Registry endpoints the service needs: the schema of an id
 * (consumers) and the id of a schema under a subject (producers). Results are cached for the life of
 * the client: an id always names the same schema, so a cached answer never goes stale.
 *
 * Only a definite "Schema not found" (404 with error_code 40403) says the input is bad. Every other
 * failure, 401 and 403 included, is retriable: dead-lettering every message because the registry or
 * its credentials are broken would lose far more than waiting does.
 */
export class SchemaRegistryClient {
  readonly #base: URL
  readonly #auth: string | null
  readonly #timeoutMs: number
  /** Keyed by id; holds the promise so that concurrent look-ups of a new id share one request. */
  readonly #byId = new Map<number, Promise<RegisteredSchema>>()
  readonly #registered = new Map<string, Promise<number>>()

  constructor(opts: SchemaRegistryOptions) {
    let base: URL
    try {
      base = new URL(opts.url)
    } catch (e) {
      throw new RiskError('RISK_ERR_CONFIG', 'the Schema Registry URL is not a valid URL', { cause: e })
    }
    if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`
    // fetch refuses URLs with credentials, and the URL is logged: credentials move to the header.
    const username = opts.username || decodeURIComponent(base.username)
    const password = opts.username ? (opts.password ?? '') : decodeURIComponent(base.password)
    base.username = ''
    base.password = ''
    this.#auth = username === '' ? null : `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#base = base
  }

  /** The base URL without credentials, safe for logs. */
  get url(): string {
    return `${this.#base.origin}${this.#base.pathname}`
  }

  /** The schema registered under `id`. RISK_ERR_UNKNOWN_SCHEMA_ID when the registry does not know it. */
  getSchemaById(id: number): Promise<RegisteredSchema> {
    const cached = this.#byId.get(id)
    if (cached !== undefined) return cached
    const pending = this.#fetchSchema(id)
    this.#byId.set(id, pending)
    // A failure is not cached: the registry may come back, or the id may be registered later.
    pending.catch(() => this.#byId.delete(id))
    return pending
  }

  /**
   * Registers `schema` under `subject` (for Kafka values, `<topic>-value`) and returns its id; the
   * registry answers with the existing id when the schema is already there.
   */
  register(subject: string, schema: string | object): Promise<number> {
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema)
    const key = `${subject}\u0000${text}`
    const cached = this.#registered.get(key)
    if (cached !== undefined) return cached
    const pending = this.#postSchema(subject, text).then((id) => {
      // A producer's own messages then decode without a round trip.
      if (!this.#byId.has(id)) this.#byId.set(id, Promise.resolve({ schema: text, schemaType: 'AVRO' }))
      return id
    })
    this.#registered.set(key, pending)
    pending.catch(() => this.#registered.delete(key))
    return pending
  }

  async #fetchSchema(id: number): Promise<RegisteredSchema> {
    const context = { schemaId: id, registry: this.url }
    const { status, body } = await this.#request('GET', `schemas/ids/${id}`, undefined, context)
    if (status === 404 && isJsonObject(body) && body.error_code === SCHEMA_NOT_FOUND) {
      throw new RiskError(
        'RISK_ERR_UNKNOWN_SCHEMA_ID',
        `schema id ${id} is not known to the Schema Registry`,
        {
          context,
        },
      )
    }
    if (status !== 200) throw this.#httpError(`cannot read schema id ${id}`, status, body, context)
    if (!isJsonObject(body) || typeof body.schema !== 'string') {
      throw new RiskError(
        'RISK_ERR_SCHEMA_REGISTRY',
        `the Schema Registry answered schema id ${id} without a schema`,
        {
          context,
        },
      )
    }
    return { schema: body.schema, schemaType: typeof body.schemaType === 'string' ? body.schemaType : 'AVRO' }
  }

  async #postSchema(subject: string, schema: string): Promise<number> {
    const context = { subject, registry: this.url }
    const path = `subjects/${encodeURIComponent(subject)}/versions`
    const { status, body } = await this.#request('POST', path, JSON.stringify({ schema }), context)
    // 409: incompatible with the subject's earlier versions; 422: not a valid schema. Neither heals.
    if (status === 409 || status === 422) {
      throw new RiskError(
        'RISK_ERR_WRONG_SCHEMA',
        `the Schema Registry rejected the schema for subject ${subject}: ${registryMessage(body, status)}`,
        { context: { ...context, status } },
      )
    }
    if (status !== 200)
      throw this.#httpError(`cannot register a schema under ${subject}`, status, body, context)
    if (!isJsonObject(body) || typeof body.id !== 'number' || !Number.isInteger(body.id)) {
      throw new RiskError(
        'RISK_ERR_SCHEMA_REGISTRY',
        `the Schema Registry answered subject ${subject} without an id`,
        {
          context,
        },
      )
    }
    return body.id
  }

  async #request(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    context: Record<string, string | number>,
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: ACCEPT }
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE
    if (this.#auth !== null) headers.authorization = this.#auth
    try {
      const res = await fetch(new URL(path, this.#base), {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
      const text = await res.text()
      let parsed: unknown = null
      try {
        parsed = text === '' ? null : JSON.parse(text)
      } catch {
        // A proxy's HTML error page: the status code still says what happened.
      }
      return { status: res.status, body: parsed }
    } catch (e) {
      const reason =
        e instanceof Error && e.name === 'TimeoutError'
          ? `no answer within ${this.#timeoutMs} ms`
          : e instanceof Error
            ? networkReason(e)
            : String(e)
      throw new RiskError('RISK_ERR_SCHEMA_REGISTRY', `the Schema Registry cannot be reached: ${reason}`, {
        cause: e,
        context,
      })
    }
  }

  #httpError(
    what: string,
    status: number,
    body: unknown,
    context: Record<string, string | number>,
  ): RiskError {
    return new RiskError(
      'RISK_ERR_SCHEMA_REGISTRY',
      `${what}: the Schema Registry answered ${status}: ${registryMessage(body, status)}`,
      { context: { ...context, status } },
    )
  }
}

/** The Confluent error body's message, kept short: it ends up in logs and DLQ headers. */
function registryMessage(body: unknown, status: number): string {
  if (isJsonObject(body) && typeof body.message === 'string') return body.message.slice(0, 200)
  return `HTTP ${status}`
}

/** fetch reports every network failure as "fetch failed"; the useful part is in its cause. */
function networkReason(e: Error): string {
  const cause = e.cause
  if (cause instanceof Error) {
    const code = 'code' in cause && typeof cause.code === 'string' ? `${cause.code} ` : ''
    return `${code}${cause.message}`.trim()
  }
  return e.message
}
