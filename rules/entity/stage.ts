import type { Producer } from 'kafkajs'
import type { EventCodec } from '../../kafka/codec.ts'
import {
  PartitionStage,
  type StageContext,
  type StageDeps,
  type StagePart,
  type StageTiming,
  stageSettings,
} from '../../kafka/stage-runner.ts'
import { commitPart, transactionalProducer } from '../../kafka/transactions.ts'
import { asRiskError } from '../../lib/errors.ts'
import type { Store } from '../../store/client.ts'
import { dateTime64 } from '../../store/transactions.ts'
import type { HitUpdate } from '../engine/engine.ts'
import { hitMessages } from '../hits.ts'
import {
  type ActivityRecord,
  decodeActivities,
  encodeActivity,
  entityKeyOf,
  entityPartitioner,
} from './activity.ts'
import type { EntityEngine } from './engine.ts'

export interface EntityStageOptions extends StageDeps, StageTiming {
  /** Read only when a partition is taken over, for the terminal bindings older than the replay. */
  store: Store
  engine: EntityEngine
  codec: EventCodec
  /** The internal entity-activity topic. */
  topic: string
  /** The rule-hits topic the stage publishes to, in the transaction of each part. */
  ruleHits: string
  groupId: string
  concurrency?: number
  /** Told of every hit update published (metrics). */
  onHits?: (hits: readonly HitUpdate[]) => void
}

export interface EntityStageStats {
  records: number
  /** Records that do not decode: skipped, since we produce this topic ourselves. */
  bad: number
  hitsPublished: number
  /** Records the engine derived and the stage published back to the topic (card_ring's links). */
  derived: number
  /** Partitions whose state was rebuilt by replay. */
  replays: number
}

/**
 * The second rules stage: a consumer group on the entity-activity topic, whose key (acquirer, kind,
 * entity) puts each card, account and terminal on one partition, so cross-merchant state scales by
 * partitions like the per-merchant stage.
 *
 * State is rebuilt by replay, with no snapshot: before the first part of each newly owned partition,
 * the stage seeks it to the first record published within the engine's retention before now (Kafka
 * timestamps are publication time, which is never earlier than the event time minus the ingest skew,
 * so this covers every record whose event time can still matter) and re-applies from there. Each part's
 * hit updates are published with its offsets in one Kafka transaction (a producer per partition; see
 * kafka/transactions.ts); a replay publishes the same hit versions again, which scoring ignores and the
 * sink's upserts collapse. Records the engine derives (card_ring's second hop, keyed by merchant) are
 * published back to the topic in the same transaction; a replay derives them again, and the merchant
 * hop applies a repeated link idempotently. The offsets only matter for partitions kept across a rebalance, which keep
 * their state too.
 */
export class EntityStage extends PartitionStage {
  readonly commits = 'stage'
  // The replay starts when the partition is assigned, not when its next record arrives hours later.
  readonly ownEagerly = true
  readonly stats: EntityStageStats = { records: 0, bad: 0, hitsPublished: 0, derived: 0, replays: 0 }
  readonly #opts: EntityStageOptions
  readonly #log: EntityStageOptions['logger']
  /** Partitions positioned for replay in the current ownership, with the offset the replay starts at. */
  readonly #replayFrom = new Map<number, bigint>()
  readonly #producers = new Map<number, Promise<Producer>>()
  #seedHits: HitUpdate[] = []
  #standing: { until: number; read: Promise<{ partitions: number; records: ActivityRecord[] }> } | null = null

  constructor(opts: EntityStageOptions) {
    super(
      stageSettings(
        {
          name: 'entities',
          groupId: opts.groupId,
          topics: [opts.topic],
          fromBeginning: true,
          concurrency: opts.concurrency ?? 1,
          maxPartSize: 5_000,
        },
        opts,
      ),
      opts,
    )
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'entity-rules' })
  }

  override async stop(): Promise<void> {
    await super.stop()
    for (const p of [...this.#producers.keys()]) await this.#dropProducer(p)
    this.#log.info({ stats: this.stats, engine: this.#opts.engine.stats }, 'entity stage stopped')
  }

  /**
   * Positions a newly owned partition for replay: forgets what an earlier ownership left (the replay
   * re-applies it), seeds the standing terminal and account bindings, and seeks to the replay start.
   */
  async own(_topic: string, partition: number, ctx: StageContext): Promise<'seeked'> {
    // The producer first: it aborts what an earlier owner left open before the replay starts.
    await ctx.retry(() => this.#producer(partition))
    const since = this.#opts.now() - this.#opts.engine.retentionMs
    const [from, standing] = await ctx.retry(() =>
      Promise.all([this.#replayOffset(partition, since), this.#standingBindings(partition, since)]),
    )
    this.#dropState([partition])
    for (const r of standing) this.#seedHits.push(...this.#opts.engine.onRecord(r, partition))
    this.#replayFrom.set(partition, from)
    this.stats.replays++
    this.#log.info({ partition, from: from.toString() }, 'replaying entity activity')
    this.runner.seek(this.#opts.topic, partition, from.toString())
    return 'seeked'
  }

  async release(_topic: string, partitions: readonly number[]): Promise<void> {
    for (const p of partitions) this.#replayFrom.delete(p)
    this.#dropState(partitions)
    for (const p of partitions) await this.#dropProducer(p)
  }

  #producer(partition: number): Promise<Producer> {
    let p = this.#producers.get(partition)
    if (p === undefined) {
      p = transactionalProducer(this.#opts.kafka, `${this.#opts.groupId}-p${partition}`)
      this.#producers.set(partition, p)
      p.catch(() => this.#producers.delete(partition))
    }
    return p
  }

  async #dropProducer(partition: number): Promise<void> {
    const p = this.#producers.get(partition)
    this.#producers.delete(partition)
    if (p !== undefined) await p.then((producer) => producer.disconnect()).catch(() => {})
  }

  async process(part: StagePart, ctx: StageContext): Promise<void> {
    const { partition, topic } = part
    const from = this.#replayFrom.get(partition) ?? 0n
    // Hits found while seeding standing bindings go out with the first part after it.
    const hits: HitUpdate[] = this.#seedHits.splice(0)
    const engine = this.#opts.engine
    for (const message of part.messages) {
      if (BigInt(message.offset) < from) continue
      for (const decoded of decodeActivities(message.value)) {
        this.stats.records++
        if (!decoded.ok) {
          this.stats.bad++
          this.#log.warn(
            { topic, partition, offset: message.offset, problem: decoded.problem },
            'bad entity record skipped',
          )
          continue
        }
        for (const h of engine.onRecord(decoded.record, partition)) hits.push(h)
      }
    }
    // Records the engine derived from this part (card_ring's links, keyed by the merchant they
    // describe) go back to this topic in the part's transaction, to the partition of their entity.
    const derived = engine.takeDerived().map((r) => ({ key: entityKeyOf(r), value: encodeActivity(r) }))
    const producer = await ctx.retry(() => this.#producer(partition))
    const messages = await hitMessages(this.#opts.codec, hits)
    await ctx.confirm()
    await commitPart(
      producer,
      {
        compression: this.#opts.compression,
        sends: [
          [this.#opts.ruleHits, messages],
          [topic, derived],
        ],
        groupId: this.#opts.groupId,
        offsets: [{ topic, partitions: [{ partition, offset: part.nextOffset }] }],
      },
      { topic, partition },
    )
    this.stats.hitsPublished += messages.length
    this.stats.derived += derived.length
    if (hits.length > 0) this.#opts.onHits?.(hits)
  }

  /**
   * The terminal and account bindings of this partition that still hold but began before the replay
   * window: the topic no longer has them, and a terminal bound to its owner for years is shared the day
   * a second merchant binds it, as is an account. Read from the stored lifecycle events: per terminal
   * and merchant, the latest binding event, when it binds; per merchant, the event that set its current
   * settlement account, unless it closed since (with its registered MCC, as the rules stage publishes).
   */
  async #standingBindings(partition: number, since: number): Promise<ActivityRecord[]> {
    try {
      const { partitions, records } = await this.#allStandingBindings(since)
      if (partitions === 0) return []
      // The publisher's partitioner, so a record is seeded where the publisher would have put it.
      const partitionOf = entityPartitioner(partitions)
      return records.filter((r) => r.at < since && partitionOf(entityKeyOf(r)) === partition)
    } catch (e) {
      this.#standing = null
      throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot read the standing bindings', {
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
      const meta = await this.runner.admin().fetchTopicMetadata({ topics: [this.#opts.topic] })
      const params = { db: this.#opts.store.database, since: dateTime64(until) }
      const [terminals, accounts] = await Promise.all([
        this.#opts.store.client
          .query({ query: STANDING_BINDINGS_SQL, query_params: params, format: 'JSONEachRow' })
          .then((rs) => rs.json<StandingBinding>()),
        this.#opts.store.client
          .query({ query: STANDING_ACCOUNTS_SQL, query_params: params, format: 'JSONEachRow' })
          .then((rs) => rs.json<StandingAccount>()),
      ])
      const records: ActivityRecord[] = []
      for (const row of terminals)
        records.push({
          id: row.last_event_id,
          kind: 'terminal',
          key: row.terminal,
          acquirerId: row.acquirer_id,
          merchantId: row.merchant_id,
          at: Number(row.last_ms),
          bound: true,
        })
      for (const row of accounts)
        records.push({
          id: row.last_event_id,
          kind: 'account',
          key: row.account,
          acquirerId: row.acquirer_id,
          merchantId: row.merchant_id,
          at: Number(row.last_ms),
          bound: true,
          ...(row.mcc === null || row.mcc === '' ? {} : { mcc: row.mcc }),
        })
      // Oldest first, as the topic would have had them: an entity drops a record older than its
      // retention behind its latest, so a binding of years ago applied after one of months ago was lost.
      records.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      return { partitions: meta.topics[0]?.partitions.length ?? 0, records }
    })()
    this.#standing = { until, read }
    return read
  }

  async #replayOffset(partition: number, since: number): Promise<bigint> {
    try {
      const offsets = await this.runner.admin().fetchTopicOffsetsByTimestamp(this.#opts.topic, since)
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

  #dropState(partitions: readonly number[]): void {
    const gone = new Set(partitions)
    const dropped = this.#opts.engine.drop((p) => gone.has(p))
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

interface StandingAccount {
  acquirer_id: string
  merchant_id: string
  account: string
  last_event_id: string
  last_ms: string | number
  mcc: string | null
}

// Each merchant's current settlement account: the token of its latest event that set one, unless the
// merchant closed after it; with its registered MCC now.
const STANDING_ACCOUNTS_SQL = `SELECT a.acquirer_id AS acquirer_id, a.merchant_id AS merchant_id, a.token AS account,
  a.last_id AS last_event_id, toUnixTimestamp64Milli(a.last_at) AS last_ms, p.registered_mcc AS mcc
FROM (
  SELECT acquirer_id, merchant_id,
    argMax(settlement_account_token, (event_time, event_id)) AS token,
    argMax(event_id, (event_time, event_id)) AS last_id,
    max(event_time) AS last_at
  FROM {db:Identifier}.merchant_events
  WHERE kind IN ('ONBOARDED', 'SETTLEMENT_ACCOUNT_CHANGED') AND settlement_account_token IS NOT NULL
  GROUP BY acquirer_id, merchant_id
  HAVING last_at < {since:DateTime64(3, 'UTC')}
) AS a
LEFT JOIN {db:Identifier}.merchant_profile_v AS p ON p.acquirer_id = a.acquirer_id AND p.merchant_id = a.merchant_id
WHERE p.closed_at IS NULL OR p.closed_at < a.last_at`

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
