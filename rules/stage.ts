import type { Message, Producer } from 'kafkajs'
import {
  ABREAST_FETCH,
  PartitionStage,
  type StageContext,
  type StageDeps,
  type StagePart,
  type StageTiming,
  stageSettings,
} from '../kafka/stage-runner.ts'
import { commitPart, transactionalProducer } from '../kafka/transactions.ts'
import { asRiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { checkEnvelope } from '../schemas/validate.ts'
import type { Store } from '../store/client.ts'
import { type Input, LaneAlignment } from './alignment.ts'
import type { RulesCoreApi, StoredEvent } from './core.ts'

/** Stored events handed to the rules' state at a time during a rebuild. */
const REPLAY_BATCH = 2_000
/** Longest a part waits for the other input topic of its partition number while that one does not move (LaneAlignment). */
const ALIGN_MAX_WAIT_MS = 30_000

export interface RulesStageOptions extends StageDeps, StageTiming {
  /** Read only when a partition is taken over: its state is rebuilt from what the store holds. */
  store: Store
  /** The rules' state (rules/core.ts): on this thread, or in the rules worker. */
  core: RulesCoreApi
  topics: { transactions: string; merchantEvents: string; ruleHits: string; entityActivity: string }
  /** This stage's consumer group. */
  groupId: string
  /** The ingest (store) stage's group: the rebuild waits until it has stored what this stage read. */
  storeGroupId: string
  concurrency: number
  maxPartSize: number
  /** Longest a part waits for the other input topic while that one does not move (default 30 s; see LaneAlignment). */
  alignMaxWaitMs?: number
  /** Told of every hit update published (metrics). */
  onHits?: (hits: readonly (readonly [ruleId: string, category: string])[]) => void
  /** Told of the rule timings the core sampled (metrics). */
  onTimings?: (timings: readonly (readonly [ruleId: string, seconds: number])[]) => void
}

export interface RulesStageStats {
  events: number
  /** Events ingest dead-letters (undecodable, invalid): skipped here. */
  invalid: number
  /** The same event read again (produced twice): applied once. */
  duplicates: number
  hits: number
  activity: number
  transactions: number
  rebuilds: number
}

/**
 * The per-merchant rules as a stage of their own, off the ClickHouse write: a consumer group on both
 * input topics that decodes and validates what it reads (as ingest does; what ingest dead-letters is
 * skipped here), applies each new event to the rule engine, and in one Kafka transaction per part
 * publishes the hit updates (to the rule-hits topic, keyed by merchant), the entity activity (to the
 * cross-merchant rules' topic, keyed by entity) and commits its offsets. An alert therefore waits for
 * nothing but Kafka; storing into ClickHouse is the ingest stage's business, in its own group.
 *
 * Exactly once. The transaction makes the output and the offsets one: after a crash, a part is either
 * wholly published with its offsets or not at all. The engine's state is the function of the events
 * below the committed offsets, which ClickHouse holds (ingest stores every valid event exactly once), so
 * a taken-over partition is rebuilt by replaying from the store the partition's lifecycle events and
 * its transactions of the widest rule window, bounded by the offsets this group committed, once the
 * ingest group has committed at least as far. A merchant's two topics share a partition number (both
 * keyed by merchant, same partition count; the co-partitioned assignor keeps them on one member), so
 * the state, the rebuild and the transactional producer are per partition number.
 *
 * The same event produced twice (at another offset) reaches the engine once: ids are remembered per
 * merchant while their event time is within the allowed lateness, beyond which the engine ignores the
 * event anyway.
 *
 * The state and the per-event work (decode, validation, de-duplication, the engine, encoding) are the
 * core's (rules/core.ts), on this thread or in the rules worker; this class keeps the Kafka side: the
 * consumer, the producers, the alignment of the two topics, and the rebuild's reads from ClickHouse.
 */
export class RulesStage extends PartitionStage {
  readonly commits = 'stage'
  readonly stats: RulesStageStats = {
    events: 0,
    invalid: 0,
    duplicates: 0,
    hits: 0,
    activity: 0,
    transactions: 0,
    rebuilds: 0,
  }
  readonly #opts: RulesStageOptions
  readonly #log: Logger
  /** Per partition number: its transactional producer, created (fencing any earlier owner) with its state. */
  readonly #producers = new Map<number, Promise<Producer>>()
  /** Per partition number: the part in hand, which the next part of that number waits for. */
  readonly #lanes = new Map<number, Promise<void>>()
  /** Per partition number: the offsets below which its state holds each input's events. */
  readonly #bounds = new Map<number, Bound>()
  /** Per partition number: its two inputs kept in step, set up with its state. */
  readonly #alignment = new Map<number, LaneAlignment>()
  /** Partitions of the entity-activity topic, read at each rebuild (a part's activity is batched by them). */
  #activityPartitions = 1
  /** Per paused partition (topic and number): the timer that resumes it at the latest. */
  readonly #waits = new Map<string, NodeJS.Timeout>()

  constructor(opts: RulesStageOptions) {
    super(
      stageSettings(
        {
          name: 'rules',
          groupId: opts.groupId,
          topics: [opts.topics.transactions, opts.topics.merchantEvents],
          fromBeginning: true,
          concurrency: opts.concurrency,
          maxPartSize: opts.maxPartSize,
          consumer: ABREAST_FETCH,
        },
        opts,
      ),
      opts,
    )
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'rules' })
  }

  override async stop(): Promise<void> {
    await super.stop()
    for (const n of [...this.#producers.keys()]) await this.#dropPartition(n)
    const engine = await this.#opts.core.stats().catch(() => null)
    this.#log.info({ stats: this.stats, engine }, 'rules stage stopped')
  }

  /**
   * Rebuilds the partition number's state on the first part of either input, up to where the consumer
   * reads that input from. The other input's first part must start where the state ends: if not, the
   * consumer is moved there, forward over events the state holds, or back over events it lacks (which
   * only happens when the group's committed offset and the consumer's disagree, or over a gap without
   * events, such as transaction markers).
   */
  async own(
    topic: string,
    partition: number,
    ctx: StageContext,
    from: string | null,
  ): Promise<'ready' | 'seeked'> {
    const input: Input = topic === this.#opts.topics.transactions ? 'transactions' : 'merchantEvents'
    const at = from === null ? null : { input, from: BigInt(from) }
    await ctx.retry(() => this.#take(partition, ctx, at))
    const bound = this.#bounds.get(partition)
    if (at === null || bound === undefined || at.from === bound[input]) return 'ready'
    this.#log.info(
      { topic, partition, stateUntil: bound[input].toString(), readingFrom: from },
      'the consumer is moved to where the rebuilt rule state ends',
    )
    this.runner.seek(topic, partition, bound[input].toString())
    return 'seeked'
  }

  release(_topic: string, partitions: readonly number[]): Promise<void> {
    return Promise.all(partitions.map((n) => this.#dropPartition(n))).then(() => {})
  }

  /**
   * Parts of one partition number (a partition of each input topic) run one after the other: they share
   * the number's transactional producer, which holds one transaction at a time, and its state.
   */
  process(part: StagePart, ctx: StageContext): Promise<void> {
    const n = part.partition
    const run = (this.#lanes.get(n) ?? Promise.resolve()).then(() => this.#process(part, ctx))
    const lane = run.catch(() => {})
    this.#lanes.set(n, lane)
    void lane.then(() => {
      if (this.#lanes.get(n) === lane) this.#lanes.delete(n)
    })
    return run
  }

  async #process(part: StagePart, ctx: StageContext): Promise<void> {
    const n = part.partition
    const producer = await ctx.retry(() => this.#take(n, ctx))
    const isTxns = part.topic === this.#opts.topics.transactions
    const input: Input = isTxns ? 'transactions' : 'merchantEvents'
    if (!this.#arrive(n, input, part)) {
      ctx.defer()
      return
    }
    const values: (Buffer | null)[] = []
    const stamps: number[] = []
    let lastStamp = Number.NEGATIVE_INFINITY
    let refused = 0
    for (const message of part.messages) {
      const at = Number(message.timestamp)
      if (at > lastStamp) lastStamp = at
      // Exactly what ingest refuses is skipped: a card number in the key or a header (here), then the
      // value (the core's decode and validation).
      if (checkEnvelope(message.key, message.headers) !== null) {
        refused++
        continue
      }
      values.push(message.value)
      stamps.push(Number.isFinite(at) && at > 0 ? at : this.#opts.now())
    }
    const applied = await this.#opts.core.apply(n, {
      transactions: isTxns,
      values,
      stamps,
      activityPartitions: this.#activityPartitions,
    })
    const timestamp = String(this.#opts.now())
    const hitsOut: Message[] = applied.hits.map((h) => ({ key: h.key, value: h.value }))
    // One message per partition of the activity topic, not one per record: kafkajs's per-record work
    // (partitioning, encoding, a buffer each) on the thread every stage shares was the larger cost.
    const activityMessages: Message[] = applied.activity.map((r) => ({
      partition: r.partition,
      key: null,
      value: r.value,
      // The entity stage replays its topic by publication time: the time of publication, not of the event.
      timestamp,
    }))
    // No retry of the transaction itself: the engine already took the part, so a failure must drop the
    // partition's state (the runner releases it) and the part is read again onto rebuilt state.
    await ctx.confirm()
    await commitPart(
      producer,
      {
        compression: this.#opts.compression,
        sends: [
          [this.#opts.topics.ruleHits, hitsOut],
          [this.#opts.topics.entityActivity, activityMessages],
        ],
        groupId: this.#opts.groupId,
        offsets: [{ topic: part.topic, partitions: [{ partition: n, offset: part.nextOffset }] }],
      },
      { topic: part.topic, partition: n },
    )
    this.stats.transactions++
    this.stats.events += applied.events
    this.stats.invalid += applied.invalid + refused
    this.stats.duplicates += applied.duplicates
    this.stats.hits += applied.hits.length
    for (const a of applied.activity) this.stats.activity += a.records
    this.#took(n, input, lastStamp, part.nextOffset)
    if (applied.hitRules.length > 0) this.#opts.onHits?.(applied.hitRules)
    if (applied.timings.length > 0) this.#opts.onTimings?.(applied.timings)
    if (applied.evicted > 0)
      this.#log.info(
        { dropped: applied.evicted, merchants: applied.state.merchants },
        'idle merchants dropped from rule state',
      )
  }

  /** Whether the part is taken now; if not, its partition is paused until the other input catches up. */
  #arrive(n: number, input: Input, part: StagePart): boolean {
    const lane = this.#alignment.get(n)
    const first = part.messages[0]
    if (lane === undefined || first === undefined) return true
    const a = lane.arrive(input, Number(first.timestamp), BigInt(part.highWatermark), this.#opts.now())
    if (a.resumeOther) this.#resume(n, input === 'transactions' ? 'merchantEvents' : 'transactions')
    if (a.gaveUp)
      this.#log.warn(
        { topic: part.topic, partition: n, stillMs: this.#opts.alignMaxWaitMs ?? ALIGN_MAX_WAIT_MS },
        'the other input topic of this partition has not moved while this part waited for it: the part is taken out of timestamp order',
      )
    if (a.take) {
      this.#resume(n, input)
      return true
    }
    const k = `${part.topic}\u0000${n}`
    this.runner.pause(part.topic, n)
    if (!this.#waits.has(k)) {
      const timer = setTimeout(() => {
        this.#waits.delete(k)
        this.runner.resume(part.topic, n)
      }, this.#opts.alignMaxWaitMs ?? ALIGN_MAX_WAIT_MS)
      timer.unref()
      this.#waits.set(k, timer)
    }
    return false
  }

  /** A part was taken: its latest record timestamp and the offset after it. */
  #took(n: number, input: Input, lastStamp: number, nextOffset: string): void {
    const lane = this.#alignment.get(n)
    if (lane === undefined) return
    if (lane.took(input, lastStamp, BigInt(nextOffset), this.#opts.now()))
      this.#resume(n, input === 'transactions' ? 'merchantEvents' : 'transactions')
  }

  #resume(n: number, input: Input): void {
    const topic = this.#opts.topics[input]
    const k = `${topic}\u0000${n}`
    const timer = this.#waits.get(k)
    if (timer === undefined) return
    clearTimeout(timer)
    this.#waits.delete(k)
    this.runner.resume(topic, n)
  }

  /**
   * The partition number's producer, once its state is rebuilt: created on the first part of either topic
   * in an ownership. The producer's start aborts what an earlier owner left open before the rebuild reads
   * the offsets (kafka/transactions.ts says what it does not guard against).
   */
  #take(partition: number, ctx: StageContext, at: Position | null = null): Promise<Producer> {
    let p = this.#producers.get(partition)
    if (p === undefined) {
      p = this.#rebuild(partition, ctx, at)
      this.#producers.set(partition, p)
      p.catch(() => this.#producers.delete(partition))
    }
    return p
  }

  async #rebuild(partition: number, ctx: StageContext, at: Position | null): Promise<Producer> {
    const { store, core, topics } = this.#opts
    const started = this.#opts.now()
    const producer = await transactionalProducer(this.#opts.kafka, `${this.#opts.groupId}-p${partition}`)
    try {
      await this.#forget(partition)
      this.#activityPartitions = await this.#partitionsOf(topics.entityActivity)
      const bound = await this.#rebuildBound(partition, ctx, at)
      this.#alignment.set(partition, await this.#laneAlignment(partition, bound))
      const replayed = await replayStored(store, {
        partition,
        topics,
        until: offsetsOf(bound),
        days: Math.ceil(core.state.retentionDays),
        progress: () => ctx.progress(),
        apply: (events) => core.replay(partition, events),
      })
      await core.load(partition)
      this.#bounds.set(partition, bound)
      this.stats.rebuilds++
      this.#log.info(
        {
          partition,
          ...replayed,
          until: offsetsOf(bound),
          ms: this.#opts.now() - started,
          merchants: core.state.merchants,
        },
        'rule state rebuilt from ClickHouse',
      )
      return producer
    } catch (e) {
      this.#bounds.delete(partition)
      await this.#forget(partition).catch(() => {})
      await producer.disconnect().catch(() => {})
      throw e
    }
  }

  async #partitionsOf(topic: string): Promise<number> {
    try {
      const meta = await this.runner.admin().fetchTopicMetadata({ topics: [topic] })
      const n = meta.topics[0]?.partitions.length ?? 0
      if (n === 0) throw new Error(`topic ${topic} has no partitions`)
      return n
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot read the partitions of the entity-activity topic', {
        topic,
      })
    }
  }

  /**
   * The offsets below which a partition's events are this stage's state: what this group committed on
   * each topic, or for the input whose part asks, where the consumer reads it from when that is further
   * (the state must hold everything before the first event it takes). Waits (retriable) until the ingest
   * group has committed at least as far, so that the store holds every one of them.
   */
  async #rebuildBound(partition: number, ctx: StageContext, at: Position | null): Promise<Bound> {
    const { topics } = this.#opts
    const admin = this.runner.admin()
    const committedOf = async (groupId: string, topic: string) => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
      const o = offsets?.partitions.find((p) => p.partition === partition)?.offset ?? '-1'
      return BigInt(o === '-1' ? '0' : o)
    }
    let toldAhead = false
    for (;;) {
      let ours: bigint[]
      let stored: bigint[]
      try {
        ours = await Promise.all([
          committedOf(this.#opts.groupId, topics.transactions),
          committedOf(this.#opts.groupId, topics.merchantEvents),
        ])
        stored = await Promise.all([
          committedOf(this.#opts.storeGroupId, topics.transactions),
          committedOf(this.#opts.storeGroupId, topics.merchantEvents),
        ])
      } catch (e) {
        throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot read committed offsets', { partition })
      }
      const [committedT = 0n, committedE = 0n] = ours
      const bound: Bound = { transactions: committedT, merchantEvents: committedE }
      if (at !== null && at.from > bound[at.input]) {
        // The part starts after records that are no events (transaction markers, a log start past the
        // commit), or the group's answer and the consumer's disagree (a hand-over once rebuilt nothing
        // for a partition whose consumer went on past the events it held). Nothing below the consumer's
        // position will be read again, so the state holds all of it.
        if (!toldAhead) {
          toldAhead = true
          this.#log.info(
            {
              partition,
              input: at.input,
              committed: bound[at.input].toString(),
              readingFrom: at.from.toString(),
            },
            'the consumer reads from past the offset its group committed: the state is rebuilt up to where it reads',
          )
        }
        bound[at.input] = at.from
      }
      const [storedT = 0n, storedE = 0n] = stored
      if (storedT >= bound.transactions && storedE >= bound.merchantEvents) return bound
      if (!ctx.keepGoing())
        throw asRiskError(new Error('stopped'), 'RISK_ERR_KAFKA', 'rebuild interrupted', { partition })
      // Ingest is behind this stage (a restart after ClickHouse was down): its progress is progress here.
      ctx.progress()
      await this.#opts.sleep(500)
    }
  }

  /** The partition number's inputs in step from `bound` (where the state ends) to their ends now. */
  async #laneAlignment(partition: number, bound: Bound): Promise<LaneAlignment> {
    const { topics } = this.#opts
    const admin = this.runner.admin()
    const endOf = async (topic: string) => {
      const offsets = await admin.fetchTopicOffsets(topic)
      return BigInt(offsets.find((o) => o.partition === partition)?.high ?? '0')
    }
    try {
      const [t, m] = await Promise.all([endOf(topics.transactions), endOf(topics.merchantEvents)])
      return new LaneAlignment(
        {
          position: { transactions: bound.transactions, merchantEvents: bound.merchantEvents },
          end: { transactions: t, merchantEvents: m },
        },
        this.#opts.alignMaxWaitMs ?? ALIGN_MAX_WAIT_MS,
      )
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot read the end offsets of the input topics', { partition })
    }
  }

  /** Forgets a partition number's merchants: their rule state and remembered ids. */
  async #forget(partition: number): Promise<void> {
    const dropped = await this.#opts.core.forget(partition)
    if (dropped > 0) this.#log.info({ partition, dropped }, 'rule state of a partition dropped')
  }

  async #dropPartition(partition: number): Promise<void> {
    const p = this.#producers.get(partition)
    this.#producers.delete(partition)
    this.#bounds.delete(partition)
    this.#alignment.delete(partition)
    this.#resume(partition, 'transactions')
    this.#resume(partition, 'merchantEvents')
    await this.#forget(partition).catch((e: unknown) =>
      this.#log.warn({ partition, error: String(e) }, 'rule state of a partition not dropped'),
    )
    if (p !== undefined) await p.then((producer) => producer.disconnect()).catch(() => {})
  }
}

/** Per input, the offset below which a partition number's state holds the input's events. */
type Bound = Record<Input, bigint>

/** Where the consumer reads an input of a partition from: the first offset of the part in hand. */
interface Position {
  readonly input: Input
  readonly from: bigint
}

function offsetsOf(bound: Bound): { transactions: string; merchantEvents: string } {
  return { transactions: bound.transactions.toString(), merchantEvents: bound.merchantEvents.toString() }
}

/**
 * Replays a partition's stored events in event-time order (lifecycle events before the transactions at
 * the same time): its lifecycle events, and its transactions of the last `days` before its latest, both
 * below the given offsets.
 */
async function replayStored(
  store: Store,
  req: {
    partition: number
    topics: { transactions: string; merchantEvents: string }
    until: { transactions: string; merchantEvents: string }
    days: number
    progress: () => void
    /** Takes the next events, in order, REPLAY_BATCH or fewer at a time. */
    apply: (events: readonly StoredEvent[]) => Promise<void>
  },
): Promise<{ merchantEvents: number; transactions: number }> {
  try {
    const events = await (
      await store.client.query({
        query: MERCHANT_EVENTS_SQL,
        query_params: {
          db: store.database,
          topic: req.topics.merchantEvents,
          partition: req.partition,
          until: req.until.merchantEvents,
        },
        format: 'JSONEachRow',
      })
    ).json<MerchantEvent>()
    let e = 0
    let count = 0
    let batch: StoredEvent[] = []
    const push = async (event: StoredEvent) => {
      batch.push(event)
      if (batch.length >= REPLAY_BATCH) await flush()
    }
    const flush = async () => {
      if (batch.length === 0) return
      const full = batch
      batch = []
      await req.apply(full)
    }
    const rs = await store.client.query({
      query: TRANSACTIONS_SQL,
      query_params: {
        db: store.database,
        topic: req.topics.transactions,
        partition: req.partition,
        until: req.until.transactions,
        days: req.days,
      },
      format: 'JSONEachRow',
    })
    for await (const rows of rs.stream<TerminalTransaction>()) {
      for (const row of rows) {
        const t = row.json<TerminalTransaction>()
        for (let next = events[e]; next !== undefined && next.event_time <= t.event_time; next = events[++e])
          await push({ kind: 'merchantEvents', value: next })
        await push({ kind: 'transactions', value: t })
        count++
      }
      req.progress()
    }
    for (let next = events[e]; next !== undefined; next = events[++e])
      await push({ kind: 'merchantEvents', value: next })
    await flush()
    return { merchantEvents: events.length, transactions: count }
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot rebuild rule state', { partition: req.partition })
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
    AND kafka_offset < {until:UInt64}
)
ORDER BY event_time, event_id`

const TRANSACTIONS_SQL = `
SELECT ${TRANSACTION_COLUMNS}
FROM (
  SELECT * FROM {db:Identifier}.transactions FINAL
  WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
    AND kafka_offset < {until:UInt64}
    -- Windows follow event time: history is cut at the partition's latest event, not at the clock.
    AND event_time >= (
      SELECT max(event_time) FROM {db:Identifier}.transactions
      WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt32}
        AND kafka_offset < {until:UInt64}
    ) - toIntervalDay({days:UInt32})
)
ORDER BY event_time, txn_id`
