import { type Kafka, Partitioners, type Producer } from 'kafkajs'
import { chunkBySize } from '../kafka/chunks.ts'
import { asRiskError } from '../lib/errors.ts'
import type { HitUpdate } from '../rules/engine/engine.ts'
import type { IncomingHit } from './model.ts'

/**
 * The internal rule-hits topic (pos.rule-hits): every hit update of both rules stages, keyed by
 * merchant_id, so each merchant's hits, per-merchant and cross-merchant alike, meet on one partition of
 * the scoring stage. JSON, since only this service writes and reads it; `v` versions the layout.
 */

export interface HitRecord extends IncomingHit {
  v: 1
  category: string
  configHash: string
}

export function hitRecordOf(h: HitUpdate): HitRecord {
  return {
    v: 1,
    hitId: h.hitId,
    acquirerId: h.acquirerId,
    merchantId: h.merchantId,
    ruleId: h.ruleId,
    ruleVersion: h.ruleVersion,
    category: h.category,
    observed: h.finding.observed,
    threshold: h.finding.threshold,
    windowStart: h.finding.windowStart,
    windowEnd: h.finding.windowEnd,
    sampleTxnIds: h.finding.sampleTxnIds,
    detail: h.finding.detail,
    detectedAt: h.detectedAt,
    configHash: h.configHash,
    ...(h.finding.basis === undefined ? {} : { basis: h.finding.basis }),
  }
}

export function encodeHit(h: HitUpdate): Buffer {
  return Buffer.from(JSON.stringify(hitRecordOf(h)), 'utf8')
}

export type DecodedHit = { ok: true; record: HitRecord } | { ok: false; problem: string }

const STRINGS = ['hitId', 'acquirerId', 'merchantId', 'ruleId', 'category', 'detail', 'configHash'] as const
const NUMBERS = ['ruleVersion', 'observed', 'threshold', 'windowStart', 'windowEnd', 'detectedAt'] as const

export function decodeHit(value: Buffer | null): DecodedHit {
  if (value === null) return { ok: false, problem: 'empty value' }
  let parsed: unknown
  try {
    parsed = JSON.parse(value.toString('utf8'))
  } catch {
    return { ok: false, problem: 'not JSON' }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, problem: 'not a JSON object' }
  }
  const o: Record<string, unknown> = { ...parsed }
  if (o.v !== 1) return { ok: false, problem: `unknown version ${String(o.v)}` }
  for (const k of STRINGS) if (typeof o[k] !== 'string') return { ok: false, problem: `${k} is not a string` }
  for (const k of NUMBERS) if (typeof o[k] !== 'number') return { ok: false, problem: `${k} is not a number` }
  const samples = o.sampleTxnIds
  if (!Array.isArray(samples) || !samples.every((s) => typeof s === 'string'))
    return { ok: false, problem: 'sampleTxnIds is not a list of strings' }
  const basis = o.basis
  if (
    basis !== undefined &&
    basis !== 'peers' &&
    basis !== 'population' &&
    basis !== 'absolute' &&
    basis !== 'none'
  )
    return { ok: false, problem: 'basis is not peers, population, absolute or none' }
  const str = (k: (typeof STRINGS)[number]) => String(o[k])
  const n = (k: (typeof NUMBERS)[number]) => Number(o[k])
  return {
    ok: true,
    record: {
      v: 1,
      hitId: str('hitId'),
      acquirerId: str('acquirerId'),
      merchantId: str('merchantId'),
      ruleId: str('ruleId'),
      ruleVersion: n('ruleVersion'),
      category: str('category'),
      observed: n('observed'),
      threshold: n('threshold'),
      windowStart: n('windowStart'),
      windowEnd: n('windowEnd'),
      sampleTxnIds: samples.map(String),
      detail: str('detail'),
      detectedAt: n('detectedAt'),
      configHash: str('configHash'),
      ...(basis === undefined ? {} : { basis }),
    },
  }
}

/**
 * Publishes hit updates to the rule-hits topic. The rules stages call it after writing the hits to
 * ClickHouse and before their offsets are committed: at least once. A duplicate is harmless, because
 * the scorer keeps the newest version of each hit id and a repeated version changes nothing.
 */
export class HitPublisher {
  readonly #producer: Producer
  readonly #topic: string
  published = 0

  constructor(kafka: Kafka, topic: string) {
    this.#topic = topic
    // Not idempotent, like the other pipeline producers: the callers' retry loops re-send instead.
    this.#producer = kafka.producer({
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
  }

  get topic(): string {
    return this.#topic
  }

  async start(): Promise<void> {
    try {
      await this.#producer.connect()
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot connect the rule-hits producer', { topic: this.#topic })
    }
  }

  async stop(): Promise<void> {
    await this.#producer.disconnect()
  }

  /** Sends the last update of each hit in `hits`; throws RISK_ERR_KAFKA (retriable). */
  async publish(hits: readonly HitUpdate[]): Promise<void> {
    if (hits.length === 0) return
    const latest = new Map<string, HitUpdate>()
    for (const h of hits) latest.set(h.hitId, h)
    try {
      // A rule-state rebuild sends thousands of hits at once: cut under the broker's batch limit.
      const messages = [...latest.values()].map((h) => ({ key: h.merchantId, value: encodeHit(h) }))
      for (const chunk of chunkBySize(messages))
        await this.#producer.send({ topic: this.#topic, acks: -1, messages: chunk })
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot publish rule hits', {
        topic: this.#topic,
        hits: latest.size,
      })
    }
    this.published += latest.size
  }
}
