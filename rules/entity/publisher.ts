import { type Kafka, Partitioners, type Producer } from 'kafkajs'
import type { StoredBatch, StoredEventSink } from '../../ingest/consumer.ts'
import { asRiskError } from '../../lib/errors.ts'
import { type ActivityRecord, activitiesOf, encodeActivity, entityKeyOf } from './activity.ts'

export interface EntityPublisherOptions {
  kafka: Kafka
  /** The internal entity-activity topic (e.g. pos.entity-activity). */
  topic: string
  /** Wall clock, for the Kafka timestamp the entity stage's replay seeks by. */
  now: () => number
}

/**
 * The producer half of the cross-merchant rules: a sink of the ingest consumer (compose it with the
 * RulesStage through CompositeSink) that turns the events the store accepted as new into activity
 * records on the internal topic, keyed by entity.
 *
 * Records are sent in `flush`, which ingest calls (and retries) before it commits its offsets, with
 * acks from all in-sync replicas: a record is out before the offsets of its source event are committed.
 * A crash in between re-sends it after the replay, and the entity stage drops the duplicate by id.
 */
export class EntityPublisher implements StoredEventSink {
  readonly #opts: EntityPublisherOptions
  readonly #producer: Producer
  #pending: ActivityRecord[] = []
  published = 0

  constructor(opts: EntityPublisherOptions) {
    this.#opts = opts
    // Not idempotent, like the ingest producer: kafkajs would then retry without end inside the flush,
    // blocking the batch's heartbeats; the consumer's retry loop re-sends, and duplicates are harmless.
    this.#producer = opts.kafka.producer({
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
  }

  async start(): Promise<void> {
    try {
      await this.#producer.connect()
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot connect the entity-activity producer', {
        topic: this.#opts.topic,
      })
    }
  }

  /** After the ingest consumer stopped: nothing is pending then. */
  async stop(): Promise<void> {
    await this.#producer.disconnect()
  }

  async prepare(_topic: string, _partition: number): Promise<void> {}

  process(batch: StoredBatch, _partition: number): void {
    for (const r of activitiesOf(batch)) this.#pending.push(r)
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return
    const timestamp = String(this.#opts.now())
    try {
      await this.#producer.send({
        topic: this.#opts.topic,
        acks: -1,
        messages: this.#pending.map((r) => ({ key: entityKeyOf(r), value: encodeActivity(r), timestamp })),
      })
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot publish entity activity', {
        topic: this.#opts.topic,
        records: this.#pending.length,
      })
    }
    this.published += this.#pending.length
    this.#pending = []
  }

  revoked(_topic: string, _partitions: readonly number[]): void {}
}
