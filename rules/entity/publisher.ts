import { type Kafka, Partitioners, type Producer } from 'kafkajs'
import { chunkBySize } from '../../kafka/chunks.ts'
import { asRiskError } from '../../lib/errors.ts'
import type { StoredBatch, StoredEventSink } from '../../schemas/stages.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import type { Store } from '../../store/client.ts'
import { MERCHANT_EVENT_COLUMNS, TRANSACTION_COLUMNS } from '../stage.ts'
import { type ActivityRecord, activitiesOf, encodeActivity, entityKeyOf } from './activity.ts'

export interface EntityPublisherOptions {
  kafka: Kafka
  /** The internal entity-activity topic (e.g. pos.entity-activity). */
  topic: string
  /** Wall clock, for the Kafka timestamp the entity stage's replay seeks by. */
  now: () => number
  /**
   * Re-publishes, when a partition is prepared, what a crash may have left unpublished (see prepare).
   * Without it, a crash between the store write and the publish loses those records.
   */
  recovery?: {
    store: Store
    /** The ingest consumer group, whose committed offsets say what was fully handled. */
    groupId: string
    topics: { transactions: string; merchantEvents: string }
    /** Only events ingested this recently are considered (a crash-restart is minutes, not days). */
    lookbackMs: number
  }
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
  readonly #prepared = new Set<string>()
  published = 0
  /** Records re-published by `prepare` after a restart. */
  recovered = 0

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

  /**
   * Before the first batch of a partition: the events the store holds at or beyond the group's committed
   * offset were written by a run that may have died before publishing their records (the store drops
   * their replay as already seen, so they would never reach `process`). Publish their records again;
   * the entity stage drops the ones that did arrive, by record id.
   */
  async prepare(topic: string, partition: number): Promise<void> {
    const r = this.#opts.recovery
    const key = `${topic}\u0000${partition}`
    if (r === undefined || this.#prepared.has(key)) return
    const committed = await this.#committedOffset(r.groupId, topic, partition)
    const kind =
      topic === r.topics.transactions
        ? 'transactions'
        : topic === r.topics.merchantEvents
          ? 'merchantEvents'
          : null
    if (kind === null) {
      this.#prepared.add(key)
      return
    }
    const table = kind === 'transactions' ? 'transactions' : 'merchant_events'
    const columns = kind === 'transactions' ? TRANSACTION_COLUMNS : MERCHANT_EVENT_COLUMNS
    try {
      const rs = await r.store.client.query({
        // table and columns are fixed by the topic kind above, never taken from input.
        query: `SELECT ${columns} FROM (
          SELECT * FROM {db:Identifier}.${table} FINAL
          WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
            AND kafka_offset >= {from:UInt64}
            AND ingested_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC'))`,
        query_params: {
          db: r.store.database,
          topic,
          partition,
          from: committed,
          since: this.#opts.now() - r.lookbackMs,
        },
        format: 'JSONEachRow',
      })
      const before = this.#pending.length
      if (kind === 'transactions')
        this.process({ kind, items: await rs.json<TerminalTransaction>() }, partition)
      else this.process({ kind, items: await rs.json<MerchantEvent>() }, partition)
      this.recovered += this.#pending.length - before
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot read the events to re-publish', {
        topic,
        partition,
      })
    }
    await this.flush()
    this.#prepared.add(key)
  }

  async #committedOffset(groupId: string, topic: string, partition: number): Promise<string> {
    const admin = this.#opts.kafka.admin()
    try {
      await admin.connect()
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
      const found = offsets?.partitions.find((p) => p.partition === partition)?.offset ?? '-1'
      // -1: the group never committed here, so everything stored may be unpublished (within the lookback).
      return found === '-1' ? '0' : found
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot read committed offsets', { groupId, topic, partition })
    } finally {
      await admin.disconnect()
    }
  }

  process(batch: StoredBatch, _partition: number): void {
    for (const r of activitiesOf(batch)) this.#pending.push(r)
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return
    const timestamp = String(this.#opts.now())
    try {
      const messages = this.#pending.map((r) => ({
        key: entityKeyOf(r),
        value: encodeActivity(r),
        timestamp,
      }))
      for (const chunk of chunkBySize(messages))
        await this.#producer.send({ topic: this.#opts.topic, acks: -1, messages: chunk })
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot publish entity activity', {
        topic: this.#opts.topic,
        records: this.#pending.length,
      })
    }
    this.published += this.#pending.length
    this.#pending = []
  }

  revoked(topic: string, partitions: readonly number[]): void {
    for (const p of partitions) this.#prepared.delete(`${topic}\u0000${p}`)
  }
}
