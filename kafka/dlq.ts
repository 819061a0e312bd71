import type { IHeaders, KafkaMessage, Producer } from 'kafkajs'
import { asRiskError, type RiskError } from '../lib/errors.ts'
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
   * never be stored (a raw card number); null drops the value altogether.
   */
  replacementValue?: Buffer | null
}

/**
 * Writes rejected messages to `<topic><suffix>` with their original key, bytes and headers, and the
 * reason in headers. The producer is idempotent with acks from all replicas, and the caller commits
 * the source offsets only after `send` resolved: a rejected message is never lost.
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
      list.push({ key: r.message.key, value: this.#value(r), headers: this.#headers(r) })
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

  #headers(r: Rejected): IHeaders {
    const headers: IHeaders = { ...(r.message.headers ?? {}) }
    headers[DLQ_HEADERS.code] = r.error.code
    headers[DLQ_HEADERS.message] = r.error.message
    const field = r.error.context.field
    if (typeof field === 'string') headers[DLQ_HEADERS.field] = field
    headers[DLQ_HEADERS.topic] = r.topic
    headers[DLQ_HEADERS.partition] = String(r.partition)
    headers[DLQ_HEADERS.offset] = r.message.offset
    headers[DLQ_HEADERS.timestamp] = r.message.timestamp
    headers[DLQ_HEADERS.failedAt] = new Date(this.#now()).toISOString()
    if (r.replacementValue !== undefined) {
      headers[DLQ_HEADERS.redacted] =
        r.replacementValue === null
          ? 'value-dropped'
          : r.error.code === 'RISK_ERR_RAW_CARD_NUMBER'
            ? 'card_token'
            : 'card-number-digits'
    }
    return headers
  }
}
