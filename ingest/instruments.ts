import type { Counter, Gauge, Histogram } from 'prom-client'
import { ERROR_CODES } from '../lib/errors.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { StoredBatch } from '../schemas/stages.ts'

/** What one processed (written and committed) part of a Kafka batch amounted to. */
export interface PartOutcome {
  readonly partition: number
  readonly messages: number
  readonly stored: number
  readonly duplicates: number
  /** RISK_ERR_* code of each rejected message. */
  readonly rejectedCodes: readonly string[]
  /** Messages left behind the high watermark after this part. */
  readonly lag: number
  readonly seconds: number
  /** The events stored as new, for their age; null when not computed. */
  readonly fresh: StoredBatch | null
  /** Wall clock, epoch ms. */
  readonly now: number
}

/**
 * The ingest metrics of one input topic, with the label children resolved once: per part the consumer
 * pays a handful of `inc(n)` calls and one `observe` per new event, never a label look-up per message.
 */
export class TopicInstruments {
  readonly #metrics: Metrics
  readonly #topic: string
  readonly #consumed: Counter.Internal
  readonly #stored: Counter.Internal
  readonly #duplicates: Counter.Internal
  readonly #dlqWrites: Counter.Internal
  readonly #batchSize: Histogram.Internal<'topic'>
  readonly #batchDuration: Histogram.Internal<'topic'>
  readonly #eventAge: Histogram.Internal<'topic'>
  readonly #lag = new Map<number, Gauge.Internal<'topic' | 'partition'>>()

  constructor(metrics: Metrics, topic: string) {
    const m = metrics.ingest
    this.#metrics = metrics
    this.#topic = topic
    this.#consumed = m.consumed.labels(topic)
    this.#stored = m.stored.labels(topic)
    this.#duplicates = m.duplicates.labels(topic)
    this.#dlqWrites = m.dlqWrites.labels(topic)
    // At 0 from the start: "no events for 15 minutes" and the DLQ rate need a series to look at.
    for (const c of [this.#consumed, this.#stored, this.#duplicates, this.#dlqWrites]) c.inc(0)
    for (const [code, { retriable }] of Object.entries(ERROR_CODES)) {
      if (retriable) m.retries.labels(topic, code).inc(0)
    }
    this.#batchSize = m.batchSize.labels(topic)
    this.#batchDuration = m.batchDuration.labels(topic)
    this.#eventAge = m.eventAge.labels(topic)
  }

  part(o: PartOutcome): void {
    this.#consumed.inc(o.messages)
    this.#stored.inc(o.stored)
    this.#duplicates.inc(o.duplicates)
    this.#batchSize.observe(o.messages)
    this.#batchDuration.observe(o.seconds)
    if (o.rejectedCodes.length > 0) {
      const rejected = this.#metrics.ingest.rejected
      for (const code of o.rejectedCodes) rejected.labels(this.#topic, code).inc()
      this.#dlqWrites.inc(o.rejectedCodes.length)
    }
    let lag = this.#lag.get(o.partition)
    if (lag === undefined) {
      lag = this.#metrics.ingest.consumerLag.labels(this.#topic, String(o.partition))
      this.#lag.set(o.partition, lag)
    }
    lag.set(o.lag)
    if (o.fresh !== null) {
      const age = this.#eventAge
      for (const e of o.fresh.items) age.observe((o.now - e.event_time) / 1000)
    }
  }

  retry(code: string): void {
    this.#metrics.ingest.retries.labels(this.#topic, code).inc()
  }

  /**
   * Partitions this instance no longer owns lose their lag series here, or the last value would stay
   * exported forever and be summed with the new owner's.
   */
  released(partitions: readonly number[]): void {
    for (const p of partitions) {
      if (!this.#lag.delete(p)) continue
      this.#metrics.ingest.consumerLag.remove(this.#topic, String(p))
    }
  }
}
