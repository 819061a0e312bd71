import type { IHeaders, KafkaMessage, Producer } from 'kafkajs'
import { asRiskError, type RiskError } from '../lib/errors.ts'
import { maskCardNumbers, maskCardNumbersInBytes } from '../lib/luhn.ts'
import { chunkBySize } from './chunks.ts'

/** Headers a dead-lettered message carries, beside its original headers. */
export const DLQ_HEADERS = {
  code: 'x-dlq-error-code',
  message: 'x-dlq-error-message',
  field: 'x-dlq-error-field',
  topic: 'x-dlq-source-topic',
  partition: 'x-dlq-source-partition',
  offset: 'x-dlq-source-offset',
  timestamp: 'x-dlq-source-timestamp',
  failedAt: 'x-dlq-failed-at',
  redacted: 'x-dlq-redacted',
} as const

export interface Rejected {
  topic: string
  partition: number
  message: KafkaMessage
  error: RiskError
  /**
   * The value to dead-letter instead of the original bytes, when the original holds data that must
   * never be stored (a card number; EventCodec.redactCardNumbers); null drops the value altogether.
   */
  replacementValue?: Buffer | null
}

type HeaderValue = NonNullable<IHeaders[string]>

function maskHeaderValue(v: HeaderValue): HeaderValue {
  if (Array.isArray(v)) {
    const masked = v.map((x) =>
      typeof x === 'string' ? maskCardNumbers(x) : (maskCardNumbersInBytes(x) ?? x),
    )
    return masked.some((x, i) => x !== v[i]) ? masked : v
  }
  return typeof v === 'string' ? maskCardNumbers(v) : (maskCardNumbersInBytes(v) ?? v)
}

/**
 * Writes rejected messages to `<topic><suffix>` with their original key, bytes and headers, and the
 * reason in headers. The producer is idempotent with acks from all replicas, and the caller commits
 * the source offsets only after `send` resolved: a rejected message is never lost. No card number
 * leaves through it: the key, header names and values and the error message are masked here
 * (lib/luhn.ts), whatever the caller did; the value is the caller's, who alone can decode it.
 */
export class DeadLetterWriter {
  readonly #producer: Producer
  readonly #suffix: string
  readonly #now: () => number

  constructor(producer: Producer, suffix: string, now: () => number) {
    this.#producer = producer
    this.#suffix = suffix
    this.#now = now
  }

  dlqTopic(topic: string): string {
    return `${topic}${this.#suffix}`
  }

  async send(rejected: readonly Rejected[]): Promise<void> {
    if (rejected.length === 0) return
    const byTopic = new Map<string, { key: Buffer | null; value: Buffer | null; headers: IHeaders }[]>()
    for (const r of rejected) {
      const target = this.dlqTopic(r.topic)
      const list = byTopic.get(target) ?? []
      const key = r.message.key === null ? null : maskCardNumbersInBytes(r.message.key)
      list.push({ key: key ?? r.message.key, value: this.#value(r), headers: this.#headers(r, key !== null) })
      byTopic.set(target, list)
    }
    try {
      // Cut to stay under the broker's batch limit: a flood of bad messages is exactly when parts are big.
      for (const [topic, messages] of byTopic)
        for (const chunk of chunkBySize(messages))
          await this.#producer.send({ topic, acks: -1, messages: chunk })
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot write to the dead-letter topic', {
        topics: [...byTopic.keys()].join(','),
      })
    }
  }

  #value(r: Rejected): Buffer | null {
    return r.replacementValue === undefined ? r.message.value : r.replacementValue
  }

  #headers(r: Rejected, keyMasked: boolean): IHeaders {
    const headers: IHeaders = {}
    let headersMasked = false
    for (const [name, value] of Object.entries(r.message.headers ?? {})) {
      if (value === undefined) continue
      const maskedName = maskCardNumbers(name)
      const masked = maskHeaderValue(value)
      if (maskedName !== name || masked !== value) headersMasked = true
      headers[maskedName] = masked
    }
    headers[DLQ_HEADERS.code] = r.error.code
    headers[DLQ_HEADERS.message] = maskCardNumbers(r.error.message)
    const field = r.error.context.field
    if (typeof field === 'string') headers[DLQ_HEADERS.field] = maskCardNumbers(field)
    headers[DLQ_HEADERS.topic] = r.topic
    headers[DLQ_HEADERS.partition] = String(r.partition)
    headers[DLQ_HEADERS.offset] = r.message.offset
    headers[DLQ_HEADERS.timestamp] = r.message.timestamp
    headers[DLQ_HEADERS.failedAt] = new Date(this.#now()).toISOString()
    // Which parts had card numbers masked: value (or value-dropped), key, headers.
    const redacted = [
      ...(r.replacementValue === undefined ? [] : [r.replacementValue === null ? 'value-dropped' : 'value']),
      ...(keyMasked ? ['key'] : []),
      ...(headersMasked ? ['headers'] : []),
    ]
    if (redacted.length > 0) headers[DLQ_HEADERS.redacted] = redacted.join(',')
    return headers
  }
}
