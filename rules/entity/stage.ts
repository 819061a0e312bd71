import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  Partitioners,
  type Producer,
} from 'kafkajs'
import { chunkBySize } from '../../kafka/chunks.ts'
import { type Membership, watchMembership } from '../../kafka/membership.ts'
import { asRiskError, type RiskError } from '../../lib/errors.ts'
import type { Logger } from '../../lib/logger.ts'
import { retryWhileRetriable } from '../../lib/retry.ts'
import { instrumentConsumer } from '../../metrics/kafka.ts'
import type { Metrics } from '../../metrics/metrics.ts'
import type { Store } from '../../store/client.ts'
import { upsertHits } from '../../store/rule-hits.ts'
import { dateTime64 } from '../../store/transactions.ts'
import type { HitUpdate } from '../engine/engine.ts'
import { type ActivityRecord, decodeActivity, encodeActivity, entityKeyOf } from './activity.ts'
import type { EntityEngine } from './engine.ts'

export interface EntityStageOptions {
  kafka: Kafka
  store: Store
  engine: EntityEngine
  /** The internal entity-activity topic. */
  topic: string
  groupId: string
  logger: Logger
  /** Wall clock: the replay starts at the records published within the engine's retention before now. */
  now: () => number
  sleep: (ms: number) => Promise<void>
  retryInitialMs: number
  retryMaxMs: number
  concurrency?: number
  /** Sends hit updates on to scoring after they are in ClickHouse, before the offsets are committed. */
  publishHits?: (hits: readonly HitUpdate[]) => Promise<void>
  /** Counts the consumer's rebalances, crashes and reconnects; nothing without it. */
  metrics?: Metrics
}

export interface EntityStageStats {
  records: number
  /** Records that do not decode: skipped, since we produce this topic ourselves. */
  bad: number
  hitsWritten: number
  /** Partitions whose state was rebuilt by replay. */
  replays: number
  retries: number
}

/**
 * The second rules stage: a consumer group on the entity-activity topic, whose key (acquirer, kind,
 * entity) puts each card, account and terminal on one partition, so cross-merchant state scales by
 * partitions like the per-merchant stage.
 *
 * State is rebuilt by replay, with no snapshot: on the first batch of each newly assigned partition,
 * the stage seeks it to the first record published within the engine's retention before now (Kafka
 * timestamps are publication time, which is never earlier than the event time minus the ingest skew,
 * so this covers every record whose event time can still matter) and re-applies from there. Hits are
 * upserts by hit id, so a replay rewrites the same rows. Offsets are committed after each batch's hits
 * are written; they only matter for partitions kept across a rebalance, which keep their state too.
 */
export class EntityStage {
  readonly stats: EntityStageStats = { records: 0, bad: 0, hitsWritten: 0, replays: 0, retries: 0 }
  readonly #opts: EntityStageOptions
  readonly #log: Logger
  readonly #consumer: Consumer
  readonly #admin: Admin
  /** Publishes the records the engine derives (card_ring's links) back to the topic, keyed by entity. */
  readonly #derived: Producer
  /** Partitions positioned for replay in the current ownership, with the offset the replay starts at. */
  readonly #replayFrom = new Map<number, bigint>()
  readonly #partitionOf = new Map<string, number>()
  readonly #positioning = new Map<number, Promise<bigint>>()
  #owned = new Set<number>()
  #seedHits: HitUpdate[] = []
  #standing: { until: number; read: Promise<{ partitions: number; records: ActivityRecord[] }> } | null = null
  #running = false
  #membership: Membership = { joined: false }
  #failing: RiskError | null = null

  constructor(opts: EntityStageOptions) {
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'entity-rules' })
    this.#consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    })
    this.#admin = opts.kafka.admin()
    this.#derived = opts.kafka.producer({
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
    if (opts.metrics !== undefined) instrumentConsumer(this.#consumer, opts.metrics, 'entities')
  }

  get ready(): boolean {
    return this.#running && this.#membership.joined && this.#failing === null
  }

  async start(): Promise<void> {
    this.#membership = watchMembership(this.#consumer, this.#log, 'entity consumer', (assignment) => {
      const owned = new Set(assignment[this.#opts.topic] ?? [])
      const gone = [...this.#owned].filter((p) => !owned.has(p))
      if (gone.length > 0) this.#forget(gone)
      // Replay starts now rather than at the partition's next record, which may be hours away.
      for (const p of owned)
        if (!this.#owned.has(p))
          this.#position(p).catch((error: unknown) => {
            this.#positioning.delete(p)
            this.#log.warn(
              { partition: p, error: String(error) },
              'replay positioning deferred to the first batch',
            )
          })
      this.#owned = owned
      this.#log.info({ partitions: [...owned] }, 'joined entity consumer group')
    })
    try {
      await this.#admin.connect()
      await this.#derived.connect()
      await this.#consumer.connect()
      await this.#consumer.subscribe({ topics: [this.#opts.topic], fromBeginning: true })
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot start the entity stage', { topic: this.#opts.topic })
    }
    this.#running = true
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#opts.concurrency ?? 1,
      eachBatch: (payload) => this.#eachBatch(payload),
    })
  }

  /** Finishes the batch in hand (hits written, offsets committed), leaves the group, disconnects. */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    await this.#consumer.disconnect()
    await this.#derived.disconnect()
    await this.#admin.disconnect()
    this.#log.info({ stats: this.stats, engine: this.#opts.engine.stats }, 'entity stage stopped')
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload
    const { partition, topic } = batch
    const keepGoing = () => isRunning() && !isStale()
    const retry = {
      initialMs: this.#opts.retryInitialMs,
      maxMs: this.#opts.retryMaxMs,
      shouldContinue: keepGoing,
      sleep: this.#opts.sleep,
      onRetry: async (error: RiskError, attempt: number, delayMs: number) => {
        this.#failing = error
        this.stats.retries++
        this.#log.warn({ ...error.toLog(), attempt, delayMs, topic, partition }, 'retrying')
        await heartbeat()
      },
    }
    let from = this.#replayFrom.get(partition)
    if (from === undefined) {
      from = await retryWhileRetriable(() => this.#position(partition), retry)
      // #position sought back when the group's committed offset was past the replay start.
      const first = batch.messages[0]
      if (isStale() || (first !== undefined && BigInt(first.offset) > from)) return
    }
    // Hits found while seeding standing bindings go out with the first batch after it.
    const hits: HitUpdate[] = this.#seedHits.splice(0)
    const engine = this.#opts.engine
    for (const message of batch.messages) {
      if (!keepGoing()) return
      if (BigInt(message.offset) < from) continue
      this.stats.records++
      const decoded = decodeActivity(message.value)
      if (!decoded.ok) {
        this.stats.bad++
        this.#log.warn(
          { topic, partition, offset: message.offset, problem: decoded.problem },
          'bad entity record skipped',
        )
        continue
      }
      this.#partitionOf.set(entityKeyOf(decoded.record), partition)
      for (const h of engine.onRecord(decoded.record)) hits.push(h)
    }
    // Records derived from this batch go out before its offsets are committed: at least once, and the
    // rules that read them apply them idempotently.
    const derived = engine.takeDerived()
    if (derived.length > 0) await retryWhileRetriable(() => this.#publishDerived(derived), retry)
    if (hits.length > 0) {
      this.stats.hitsWritten += await retryWhileRetriable(
        () => upsertHits(this.#opts.store, hits, this.#opts.now()),
        retry,
      )
      const publish = this.#opts.publishHits
      if (publish !== undefined) await retryWhileRetriable(() => publish(hits), retry)
    }
    this.#failing = null
    const last = batch.messages.at(-1)
    if (last === undefined) return
    resolveOffset(last.offset)
    try {
      await this.#consumer.commitOffsets([
        { topic, partition, offset: (BigInt(last.offset) + 1n).toString() },
      ])
    } catch (e) {
      // Harmless to lose: a kept partition re-applies a few records (idempotent), a new owner replays.
      this.#log.warn({ topic, partition, error: e instanceof Error ? e.message : String(e) }, 'commit failed')
    }
    await heartbeat()
  }

  async #publishDerived(records: readonly ActivityRecord[]): Promise<void> {
    try {
      const messages = records.map((r) => ({ key: entityKeyOf(r), value: encodeActivity(r) }))
      for (const chunk of chunkBySize(messages))
        await this.#derived.send({ topic: this.#opts.topic, acks: -1, messages: chunk })
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot publish derived entity records', {
        topic: this.#opts.topic,
      })
    }
  }

  /**
   * Positions a newly owned partition for replay, once per ownership: forgets what an earlier ownership
   * left (the replay re-applies it) and seeks to the replay start.
   */
  #position(partition: number): Promise<bigint> {
    let p = this.#positioning.get(partition)
    if (p === undefined) {
      const since = this.#opts.now() - this.#opts.engine.retentionMs
      p = Promise.all([this.#replayOffset(partition, since), this.#standingBindings(partition, since)]).then(
        ([from, standing]) => {
          this.#dropState([partition])
          for (const r of standing) {
            this.#partitionOf.set(entityKeyOf(r), partition)
            this.#seedHits.push(...this.#opts.engine.onRecord(r))
          }
          this.#replayFrom.set(partition, from)
          this.stats.replays++
          this.#log.info({ partition, from: from.toString() }, 'replaying entity activity')
          this.#consumer.seek({ topic: this.#opts.topic, partition, offset: from.toString() })
          return from
        },
      )
      p.catch(() => this.#positioning.delete(partition))
      this.#positioning.set(partition, p)
    }
    return p
  }

  /**
   * The terminal bindings of this partition that still hold but began before the replay window: the
   * topic no longer has them, and a terminal bound to its owner for years is shared the day a second
   * merchant binds it. Read from the stored lifecycle events: per terminal and merchant, the latest
   * binding event, when it binds.
   */
  async #standingBindings(partition: number, since: number): Promise<ActivityRecord[]> {
    try {
      const { partitions, records } = await this.#allStandingBindings(since)
      if (partitions === 0) return []
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
        partitionId: i,
        leader: 0,
        replicas: [0],
        isr: [0],
        partitionErrorCode: 0,
      }))
      // The publisher's partitioner, so a record is seeded where the publisher would have put it.
      const partitionOf = Partitioners.DefaultPartitioner()
      return records.filter(
        (r) =>
          r.at < since &&
          partitionOf({
            topic: this.#opts.topic,
            partitionMetadata,
            message: { key: entityKeyOf(r), value: null },
          }) === partition,
      )
    } catch (e) {
      this.#standing = null
      throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot read the standing terminal bindings', {
        topic: this.#opts.topic,
        partition,
      })
    }
  }

  /**
   * Every standing binding older than `since` (plus a minute), read once for the partitions assigned
   * together rather than once per partition: a join assigns them all within seconds.
   */
  #allStandingBindings(since: number): Promise<{ partitions: number; records: ActivityRecord[] }> {
    const cached = this.#standing
    if (cached !== null && since <= cached.until) return cached.read
    const until = since + STANDING_REUSE_MS
    const read = (async () => {
      const meta = await this.#admin.fetchTopicMetadata({ topics: [this.#opts.topic] })
      const rs = await this.#opts.store.client.query({
        query: STANDING_BINDINGS_SQL,
        query_params: { db: this.#opts.store.database, since: dateTime64(until) },
        format: 'JSONEachRow',
      })
      const records = (await rs.json<StandingBinding>()).map(
        (row): ActivityRecord => ({
          id: row.last_event_id,
          kind: 'terminal',
          key: row.terminal,
          acquirerId: row.acquirer_id,
          merchantId: row.merchant_id,
          at: Number(row.last_ms),
          bound: true,
        }),
      )
      return { partitions: meta.topics[0]?.partitions.length ?? 0, records }
    })()
    this.#standing = { until, read }
    return read
  }

  async #replayOffset(partition: number, since: number): Promise<bigint> {
    try {
      const offsets = await this.#admin.fetchTopicOffsetsByTimestamp(this.#opts.topic, since)
      const entry = offsets.find((o) => o.partition === partition)
      if (entry === undefined) throw new Error(`no offset for partition ${partition}`)
      return BigInt(entry.offset)
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot find the replay offset', {
        topic: this.#opts.topic,
        partition,
      })
    }
  }

  #forget(partitions: readonly number[]): void {
    for (const p of partitions) {
      this.#replayFrom.delete(p)
      this.#positioning.delete(p)
    }
    this.#dropState(partitions)
  }

  #dropState(partitions: readonly number[]): void {
    const gone = new Set(partitions)
    const dropped = this.#opts.engine.drop((key) => gone.has(this.#partitionOf.get(key) ?? -1))
    for (const [key, p] of this.#partitionOf) if (gone.has(p)) this.#partitionOf.delete(key)
    if (dropped > 0) this.#log.info({ partitions, dropped }, 'entity state of partitions dropped')
  }
}

/** How much later a replay start may be and still use standing bindings read for an earlier one. */
const STANDING_REUSE_MS = 60_000

interface StandingBinding {
  acquirer_id: string
  terminal: string
  merchant_id: string
  last_event_id: string
  last_ms: string | number
}

// Aliases differ from the column names: ClickHouse would otherwise read them in HAVING as the columns.
const STANDING_BINDINGS_SQL = `SELECT acquirer_id, assumeNotNull(terminal_id) AS terminal, merchant_id,
  argMax(event_id, (event_time, event_id)) AS last_event_id,
  toUnixTimestamp64Milli(max(event_time)) AS last_ms,
  argMax(kind, (event_time, event_id)) AS last_kind
FROM {db:Identifier}.merchant_events
WHERE kind IN ('TERMINAL_BOUND', 'TERMINAL_UNBOUND') AND terminal_id IS NOT NULL
GROUP BY acquirer_id, terminal_id, merchant_id
HAVING last_kind = 'TERMINAL_BOUND' AND max(event_time) < {since:DateTime64(3, 'UTC')}`

/**
 * Topic settings of the entity-activity topic: it is the stage's only memory, so it must keep at least
 * the widest rule window (the broker's default of 7 days would cut the 90-day account window). Pass to
 * admin.createTopics as `configEntries`.
 */
export function entityTopicConfig(retentionMs: number): { name: string; value: string }[] {
  // A day of slack: the replay starts at now − retention by publication time.
  return [
    { name: 'retention.ms', value: String(retentionMs + 86_400_000) },
    { name: 'cleanup.policy', value: 'delete' },
  ]
}
