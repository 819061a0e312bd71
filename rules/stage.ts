import { asRiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import type { StoredBatch, StoredEventSink } from '../schemas/stages.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import type { Store } from '../store/client.ts'
import { upsertHits } from '../store/rule-hits.ts'
import type { HitUpdate, RuleEngine } from './engine/engine.ts'

const HIT_CHUNK = 5_000
const EVICT_EVERY_MS = 3_600_000

export interface RulesStageOptions {
  store: Store
  engine: RuleEngine
  topics: { transactions: string; merchantEvents: string }
  logger: Logger
  now: () => number
  /**
   * Sends hit updates on to scoring, after they are in ClickHouse and before the batch's offsets are
   * committed (at least once). Rebuilt hits go too: they cover the hits of events a crash left stored
   * but unscored.
   */
  publishHits?: (hits: readonly HitUpdate[]) => Promise<void>
}

/**
 * Runs the rule engine on what ingest stored, inside the ingest consumer: the engine sees exactly the
 * events the store accepted as new, in partition order, so a replay can never count twice in a rule.
 *
 * State is rebuilt, not snapshotted: before the first batch of a partition, the stage replays from
 * ClickHouse that partition's merchant events and its transactions of the widest rule window, in event
 * time order. ClickHouse is the source of truth and holds every event whose offset was committed (and
 * possibly a few more, whose replay the store then drops), so a restarted or rebalanced instance
 * continues every window where the last one stopped. A merchant's transactions and lifecycle events
 * share a partition index because both topics are keyed by merchant_id with the same partition count
 * (the service creates them so).
 */
export class RulesStage implements StoredEventSink {
  readonly #opts: RulesStageOptions
  readonly #log: Logger
  readonly #restored = new Set<number>()
  readonly #partitionOf = new Map<string, number>()
  #pending: HitUpdate[] = []
  #latest = Number.NEGATIVE_INFINITY
  #lastEviction = Number.NEGATIVE_INFINITY
  hitsWritten = 0

  constructor(opts: RulesStageOptions) {
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'rules' })
  }

  async prepare(_topic: string, partition: number): Promise<void> {
    if (this.#restored.has(partition)) return
    const started = this.#opts.now()
    const replayed = await this.#rebuild(partition)
    this.#restored.add(partition)
    this.#log.info(
      { partition, ...replayed, ms: this.#opts.now() - started, merchants: this.#opts.engine.merchantCount },
      'rule state rebuilt from ClickHouse',
    )
  }

  process(batch: StoredBatch, partition: number): void {
    const engine = this.#opts.engine
    if (batch.kind === 'transactions') {
      for (const t of batch.items) {
        this.#track(t.acquirer_id, t.merchant_id, partition)
        this.#pending.push(...engine.onTransaction(t))
        if (t.event_time > this.#latest) this.#latest = t.event_time
      }
    } else {
      for (const e of batch.items) {
        this.#track(e.acquirer_id, e.merchant_id, partition)
        this.#pending.push(...engine.onMerchantEvent(e))
        if (e.event_time > this.#latest) this.#latest = e.event_time
      }
    }
    this.#evictIfDue()
  }

  /**
   * Drops merchants idle for longer than the widest rule window, by event time, at most once per hour
   * of event time: the sweep walks every merchant, so it is coalesced rather than run per event.
   */
  #evictIfDue(): void {
    if (this.#latest - this.#lastEviction < EVICT_EVERY_MS) return
    this.#lastEviction = this.#latest
    const dropped = this.#opts.engine.evict(this.#latest)
    if (dropped > 0) {
      for (const [key] of this.#partitionOf) {
        const [a = '', m = ''] = key.split('\u0000')
        if (!this.#opts.engine.has(a, m)) this.#partitionOf.delete(key)
      }
      this.#log.info(
        { dropped, merchants: this.#opts.engine.merchantCount },
        'idle merchants dropped from rule state',
      )
    }
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return
    // Both before the offsets are committed; neither needs the other, so they overlap.
    const [written] = await Promise.all([
      upsertHits(this.#opts.store, this.#pending, this.#opts.now()),
      this.#opts.publishHits?.(this.#pending),
    ])
    this.hitsWritten += written
    this.#pending = []
  }

  revoked(_topic: string, partitions: readonly number[]): void {
    const gone = new Set(partitions)
    for (const p of partitions) this.#restored.delete(p)
    const dropped = this.#opts.engine.drop((a, m) => gone.has(this.#partitionOf.get(`${a}\u0000${m}`) ?? -1))
    for (const [key, p] of this.#partitionOf) if (gone.has(p)) this.#partitionOf.delete(key)
    this.#log.info({ partitions, dropped }, 'rule state of revoked partitions dropped')
  }

  #track(acquirerId: string, merchantId: string, partition: number): void {
    this.#partitionOf.set(`${acquirerId}\u0000${merchantId}`, partition)
  }

  async #rebuild(partition: number): Promise<{ merchantEvents: number; transactions: number; hits: number }> {
    const { store, engine, topics } = this.#opts
    // Forget what an earlier ownership of this partition left, so nothing is applied twice.
    engine.drop((a, m) => this.#partitionOf.get(`${a}\u0000${m}`) === partition)
    try {
      const events = await (
        await store.client.query({
          query: MERCHANT_EVENTS_SQL,
          query_params: { db: store.database, topic: topics.merchantEvents, partition },
          format: 'JSONEachRow',
        })
      ).json<MerchantEvent>()
      let e = 0
      let hits: HitUpdate[] = []
      let count = 0
      let written = 0
      const flushHits = async () => {
        written += await upsertHits(store, hits, this.#opts.now())
        await this.#opts.publishHits?.(hits)
        hits = []
      }
      const rs = await store.client.query({
        query: TRANSACTIONS_SQL,
        query_params: {
          db: store.database,
          topic: topics.transactions,
          partition,
          days: Math.ceil(engine.retentionDays),
        },
        format: 'JSONEachRow',
      })
      for await (const rows of rs.stream<TerminalTransaction>()) {
        for (const row of rows) {
          const t = row.json<TerminalTransaction>()
          // Lifecycle events up to this transaction's time first, as they happened.
          for (
            let next = events[e];
            next !== undefined && next.event_time <= t.event_time;
            next = events[++e]
          ) {
            this.#track(next.acquirer_id, next.merchant_id, partition)
            hits.push(...engine.onMerchantEvent(next))
          }
          this.#track(t.acquirer_id, t.merchant_id, partition)
          hits.push(...engine.onTransaction(t))
          count++
          if (hits.length >= HIT_CHUNK) await flushHits()
        }
      }
      for (let next = events[e]; next !== undefined; next = events[++e]) {
        this.#track(next.acquirer_id, next.merchant_id, partition)
        hits.push(...engine.onMerchantEvent(next))
      }
      await flushHits()
      return { merchantEvents: events.length, transactions: count, hits: written }
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot rebuild rule state', { partition })
    }
  }
}

// Numbers as Float64 and times as epoch ms: a server quotes 64-bit integers in JSON, chDB does not, and
// both are exact below 2^53. The filters sit in a subquery because ClickHouse lets a SELECT alias
// (event_time as ms) shadow the column of the same name in WHERE.
/** The columns of `merchant_events` as a MerchantEvent (use inside a subquery that did the filtering). */
export const MERCHANT_EVENT_COLUMNS = `event_id, toFloat64(toUnixTimestamp64Milli(event_time)) AS event_time,
       acquirer_id, merchant_id, terminal_id, kind, registered_mcc, merchant_name, latitude, longitude,
       settlement_account_token`

/** The columns of `transactions` as a TerminalTransaction (use inside a subquery that did the filtering). */
export const TRANSACTION_COLUMNS = `txn_id, toFloat64(toUnixTimestamp64Milli(event_time)) AS event_time,
       acquirer_id, merchant_id, terminal_id, card_token, card_bin, card_type, txn_type,
       toFloat64(amount_minor) AS amount_minor, currency, mcc, entry_mode, response_code, latitude, longitude`

const MERCHANT_EVENTS_SQL = `
SELECT ${MERCHANT_EVENT_COLUMNS}
FROM (
  SELECT * FROM {db:Identifier}.merchant_events FINAL
  WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
)
ORDER BY event_time, event_id`

const TRANSACTIONS_SQL = `
SELECT ${TRANSACTION_COLUMNS}
FROM (
  SELECT * FROM {db:Identifier}.transactions FINAL
  WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
    -- Windows follow event time: history is cut at the partition's latest event, not at the clock.
    AND event_time >= (
      SELECT max(event_time) FROM {db:Identifier}.transactions
      WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
    ) - toIntervalDay({days:UInt32})
)
ORDER BY event_time, txn_id`
