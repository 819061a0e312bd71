import type { Message, Producer } from 'kafkajs'
import type { EventCodec, WireFormat } from '../kafka/codec.ts'
import { PARKED_HEADERS, parkedMessage } from '../kafka/parked.ts'
import {
  PartitionStage,
  type StageContext,
  type StageDeps,
  type StagePart,
  type StageTiming,
  stageSettings,
} from '../kafka/stage-runner.ts'
import { commitPart, transactionalProducer } from '../kafka/transactions.ts'
import { asRiskError, isRiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { RISK_ALERT, SCORE_EVENT } from '../schemas/contract.ts'
import type { RiskAlert, ScoreEvent } from '../schemas/types.generated.ts'
import { CHECKPOINT_KEY, ChangedStates, encodeCheckpoint, restoreChangelog, stateKeyOf } from './changelog.ts'
import { decodeHit } from './hits.ts'
import {
  type AlertOut,
  advanceClock,
  applyHit,
  type CaseRequest,
  type CategoryScore,
  type DecayClock,
  decayAll,
  emptyMerchantState,
  type MerchantScoreState,
  type Outcome,
  restoreClock,
  type ScoringModel,
} from './model.ts'
import { scoreChangeOf } from './score-events.ts'

export interface ScoringStageOptions extends StageDeps, StageTiming {
  codec: EventCodec
  /** The current scoring model; read on every batch, so a configuration reload applies at once. */
  model: () => ScoringModel
  topics: {
    /** The internal rule-hits topic this stage consumes. */
    hits: string
    /** The compacted state changelog (same partition count as `hits`). */
    state: string
    /** What was decided per merchant (scores, alerts, cases), for the ClickHouse sink. */
    scoreEvents: string
    /**
     * Where a record goes that cannot be scored or published (a hit that does not decode, an alert of an
     * unknown acquirer or whose topic is gone), with the reason in headers: in the same transaction, so
     * the stage moves on and the other acquirers' alerts keep flowing.
     */
    parked: string
  }
  /**
   * The topic an acquirer's alerts go to; created when the acquirer became known (acquirers/registry.ts).
   * Throws (RISK_ERR_UNKNOWN_ACQUIRER) for an acquirer the deployment does not serve: its alert is parked.
   */
  alertTopicOf: (acquirerId: string) => string
  /** Framed Avro or JSON, per acquirer. */
  alertFormatOf: (acquirerId: string) => WireFormat
  groupId: string
  restoreTimeoutMs: number
  /** Partitions processed at once: each has its own producer and state, so they never interfere. */
  concurrency?: number
  /**
   * Most hits in one part (one transaction); 2,000 by default. A merchant's score is published once
   * per part, its latest, so smaller parts keep more of the steps between.
   */
  maxPartSize?: number
  /** Told of every alert once its transaction committed (metrics, logs). */
  onPublished?: (alerts: readonly PublishedAlert[]) => void
}

export interface PublishedAlert {
  alert: RiskAlert
  topic: string
}

export interface ScoringStageStats {
  hits: number
  bad: number
  alerts: number
  scoreRows: number
  cases: number
  transactions: number
  restores: number
  /** Hits and alerts parked (see `topics.parked`). */
  parked: number
}

interface Owned {
  producer: Producer
  states: Map<string, MerchantScoreState>
  /** The partition's event-time clock for the decay passes (scoring/model.ts, advanceClock). */
  clock: DecayClock
  /** Merchants restored from an earlier version's whole-state record: their next change writes all hits. */
  legacy: Set<string>
}

/**
 * The scoring stage: a consume-transform-produce loop from the rule-hits topic to the per-acquirer
 * alert topics, exactly once through Kafka transactions.
 *
 * Each input partition has its own transactional producer (transactional id `<group>-p<partition>`).
 * For each part, the stage applies the hits to the merchants' score states, then in one transaction
 * publishes the alerts, one score event per changed merchant (its scores, alerts and cases, which the
 * sink stage writes to ClickHouse), the changed states and a checkpoint to the changelog partition of
 * the same number, and commits the consumer offsets. Either all of it is visible to read_committed
 * readers or none of it. Nothing on this path waits for ClickHouse: the stored evidence of an alert
 * follows it by the sink's delay.
 *
 * Why a producer per partition, and why the stage confirms its membership before each commit:
 * kafka/transactions.ts.
 *
 * State is restored from the changelog when a partition is first seen in an ownership, to the end
 * of the changelog. Any failure in a batch drops the partition's state and producer;
 * the batch is then re-read and the state restored again, so a failed batch can never leave half its
 * effects in memory.
 */
export class ScoringStage extends PartitionStage {
  readonly commits = 'stage'
  readonly stats: ScoringStageStats = {
    hits: 0,
    bad: 0,
    alerts: 0,
    scoreRows: 0,
    cases: 0,
    transactions: 0,
    restores: 0,
    parked: 0,
  }
  readonly #opts: ScoringStageOptions
  readonly #log: Logger
  readonly #owned = new Map<number, Owned>()
  /** Topics known to exist, refreshed from the broker when an alert names one not in it. */
  #existing: { topics: Set<string>; at: number } | null = null

  constructor(opts: ScoringStageOptions) {
    super(
      stageSettings(
        {
          name: 'scoring',
          groupId: opts.groupId,
          topics: [opts.topics.hits],
          fromBeginning: true,
          concurrency: opts.concurrency ?? 1,
          maxPartSize: opts.maxPartSize ?? 2_000,
          consumer: { readUncommitted: false, maxWaitTimeInMs: 100 },
        },
        opts,
      ),
      opts,
    )
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'scoring' })
    // At 0 from the start, so increase() sees the first parked record instead of a series appearing.
    const parked = opts.metrics?.risk.parked
    for (const code of ['RISK_ERR_UNKNOWN_ACQUIRER', 'RISK_ERR_KAFKA']) parked?.labels('alert', code).inc(0)
    parked?.labels('hit', 'RISK_ERR_INVALID_FIELD').inc(0)
  }

  /** Merchants whose state this instance holds, over all owned partitions. */
  get merchantCount(): number {
    let n = 0
    for (const o of this.#owned.values()) n += o.states.size
    return n
  }

  /** Finishes the part in hand (its transaction committed or aborted), leaves the group, disconnects. */
  override async stop(): Promise<void> {
    await super.stop()
    for (const p of [...this.#owned.keys()]) await this.#release(p)
    this.#log.info({ stats: this.stats }, 'scoring stage stopped')
  }

  async own(_topic: string, partition: number, ctx: StageContext): Promise<'ready'> {
    await ctx.retry(() => this.#own(partition))
    return 'ready'
  }

  async release(_topic: string, partitions: readonly number[]): Promise<void> {
    for (const p of partitions) await this.#release(p)
  }

  async #release(partition: number): Promise<void> {
    const owned = this.#owned.get(partition)
    if (owned === undefined) return
    this.#owned.delete(partition)
    for (const state of owned.states.values()) this.#countLevels(state, -1)
    await owned.producer.disconnect().catch(() => {})
  }

  async process(part: StagePart, ctx: StageContext): Promise<void> {
    const owned = await ctx.retry(() => this.#own(part.partition))
    const { partition, topic } = part
    const model = this.#opts.model()
    const changed = new ChangedStates()
    /** The latest score per merchant and category in this part: one row each, not one per hit. */
    const scores = new Map<string, { result: CategoryScore; at: number }>()
    const alerts = new Map<string, AlertOut>()
    const cases: CaseRequest[] = []
    const parked: Message[] = []
    const collect = (key: string, outcome: Outcome, hitId: string | null) => {
      if (!outcome.changed) return
      changed.note(key, outcome, hitId)
      for (const s of outcome.scores)
        scores.set(`${key}\u0000${s.result.category}`, { result: s.result, at: s.at })
      // One alert per merchant and category per part: a merchant that climbs MEDIUM → HIGH → CRITICAL
      // within one part gets the CRITICAL one, which carries every reason and the level it came from.
      for (const a of outcome.alerts) {
        const k = `${key}\u0000${a.alert.category}`
        const first = alerts.get(k)
        alerts.set(
          k,
          first === undefined
            ? a
            : { ...a, alert: { ...a.alert, previous_level: first.alert.previous_level } },
        )
      }
      cases.push(...outcome.cases)
    }
    for (const message of part.messages) {
      const decoded = await decodeHit(this.#opts.codec, message.value)
      if (!decoded.ok) {
        // We write this topic ourselves; a record that does not decode is a bug to see, not to retry.
        this.stats.bad++
        parked.push(
          parkedMessage('hit', message.key, message.value, 'RISK_ERR_INVALID_FIELD', decoded.problem, {
            topic,
            partition,
            offset: message.offset,
          }),
        )
        this.#log.warn(
          { topic, partition, offset: message.offset, problem: decoded.problem },
          'bad hit record parked',
        )
        continue
      }
      this.stats.hits++
      const hit = decoded.record
      // The partition's clock passes a tick before this hit: every merchant decays to it first.
      const tick = advanceClock(owned.clock, hit.detectedAt, model.decayTickMs)
      if (tick !== null) {
        for (const state of owned.states.values()) this.#countLevels(state, -1)
        const decayed = decayAll(model, owned.states, tick)
        for (const state of owned.states.values()) this.#countLevels(state, 1)
        for (const [k, outcome] of decayed) collect(k, outcome, null)
      }
      const key = stateKeyOf(hit.acquirerId, hit.merchantId)
      let state = owned.states.get(key)
      if (state === undefined) {
        state = emptyMerchantState(hit.acquirerId, hit.merchantId)
        owned.states.set(key, state)
      }
      this.#countLevels(state, -1)
      const outcome = applyHit(model, state, hit)
      this.#countLevels(state, 1)
      collect(key, outcome, hit.hitId)
    }

    const published: { alert: RiskAlert; families: readonly string[]; topic: string }[] = []
    for (const { alert, families } of alerts.values()) {
      const where = await ctx.retry(() => this.#alertTopic(alert.acquirer_id))
      if (where.ok) {
        published.push({ alert, families, topic: where.topic })
        continue
      }
      // Never published, so not in the score event: the parked record is the alert, with the reason.
      const value = await this.#opts.codec.encode(RISK_ALERT, alert, 'avro')
      parked.push(
        parkedMessage('alert', alert.merchant_id, value, where.code, where.reason, { topic, partition }),
      )
      this.#log.error(
        { acquirer: alert.acquirer_id, merchant: alert.merchant_id, code: where.code, reason: where.reason },
        'alert parked: it cannot be published',
      )
    }

    // One score event per changed merchant: its scores, the alerts as published, the cases it opened.
    const events = new Map<string, ScoreEvent>()
    const eventOf = (acquirerId: string, merchantId: string): ScoreEvent => {
      const key = stateKeyOf(acquirerId, merchantId)
      let e = events.get(key)
      if (e === undefined) {
        e = { acquirer_id: acquirerId, merchant_id: merchantId, scores: [], alerts: [], cases: [] }
        events.set(key, e)
      }
      return e
    }
    const byTopic = new Map<string, Message[]>()
    for (const { alert, topic: t, families } of published) {
      const format = this.#opts.alertFormatOf(alert.acquirer_id)
      const value = await this.#opts.codec.encode(RISK_ALERT, alert, format, { subject: `${t}-value` })
      const list = byTopic.get(t) ?? []
      list.push({ key: alert.merchant_id, value, headers: { alert_id: alert.alert_id } })
      byTopic.set(t, list)
      // The sink stores the alert from its framed Avro, whatever the acquirer's own format.
      const framed =
        format === 'avro'
          ? value
          : await this.#opts.codec.encode(RISK_ALERT, alert, 'avro', { subject: `${t}-value` })
      eventOf(alert.acquirer_id, alert.merchant_id).alerts.push({
        topic: t,
        families: [...families],
        alert: framed,
      })
    }
    for (const [key, { result, at }] of scores) {
      const [acquirerId = '', merchantId = ''] = key.split('\u0000')
      eventOf(acquirerId, merchantId).scores.push(scoreChangeOf(result, at))
    }
    for (const c of cases)
      eventOf(c.acquirerId, c.merchantId).cases.push({ case_id: c.caseId, reason: c.reason, opened_at: c.at })
    const eventMessages: Message[] = []
    for (const e of events.values())
      eventMessages.push({ key: e.merchant_id, value: await this.#opts.codec.encode(SCORE_EVENT, e, 'avro') })

    const next = part.nextOffset
    // What changed, not whole states: a merchant's head and the records of the hits it changed.
    const stateMessages: Message[] = changed
      .records(owned.states, owned.legacy)
      .map((r) => ({ key: r.key, partition, value: r.value }))
    stateMessages.push({ key: CHECKPOINT_KEY, partition, value: encodeCheckpoint(next) })
    // The checkpoint is the changelog partition's last record, as the restore expects.
    await ctx.confirm()
    await commitPart(
      owned.producer,
      {
        compression: this.#opts.compression,
        sends: [
          ...byTopic,
          [this.#opts.topics.scoreEvents, eventMessages],
          [this.#opts.topics.parked, parked],
          [this.#opts.topics.state, stateMessages],
        ],
        groupId: this.#opts.groupId,
        offsets: [{ topic, partitions: [{ partition, offset: next }] }],
      },
      { topic, partition },
    )
    this.stats.transactions++
    if (parked.length > 0) {
      const counter = this.#opts.metrics?.risk.parked
      for (const m of parked)
        counter
          ?.labels(String(m.headers?.[PARKED_HEADERS.kind]), String(m.headers?.[PARKED_HEADERS.code]))
          .inc()
      this.stats.parked += parked.length
    }
    this.stats.alerts += published.length
    this.stats.scoreRows += scores.size
    this.stats.cases += cases.length
    if (published.length > 0) {
      this.#log.info(
        {
          partition,
          alerts: published.map((p) => ({
            id: p.alert.alert_id,
            merchant: p.alert.merchant_id,
            category: p.alert.category,
            level: p.alert.level,
            topic: p.topic,
          })),
        },
        'alerts published',
      )
      this.#opts.onPublished?.(published)
      const m = this.#opts.metrics?.risk
      if (m !== undefined) {
        const at = this.#opts.now()
        for (const { alert } of published) {
          const category = alert.category.toLowerCase()
          m.alerts.labels(alert.level, category).inc()
          m.eventToAlert.labels(category).observe(Math.max(0, at - alert.created_at) / 1000)
        }
      }
    }
  }

  /** Adds (+1) or removes (-1) a merchant's current levels to the merchants-per-level gauge. */
  #countLevels(state: MerchantScoreState, sign: 1 | -1): void {
    const gauge = this.#opts.metrics?.risk.merchantsByLevel
    if (gauge === undefined) return
    if (state.fraud.level !== null) gauge.labels(state.fraud.level, 'fraud').inc(sign)
    if (state.compliance.level !== null) gauge.labels(state.compliance.level, 'compliance').inc(sign)
  }

  /**
   * The partition's producer and state, created on its first batch in an ownership: the producer's
   * start aborts any transaction an earlier owner left open, then the state is read back from the
   * changelog to its end.
   */
  async #own(partition: number): Promise<Owned> {
    const known = this.#owned.get(partition)
    if (known !== undefined) return known
    const started = this.#opts.now()
    const producer = await transactionalProducer(this.#opts.kafka, `${this.#opts.groupId}-p${partition}`)
    try {
      const restored = await restoreChangelog(this.#opts.kafka, this.#opts.topics.state, {
        partitions: [partition],
        groupPrefix: this.#opts.groupId,
        timeoutMs: this.#opts.restoreTimeoutMs,
      })
      const states = restored.states.get(partition) ?? new Map<string, MerchantScoreState>()
      const checkpoint = restored.checkpoints.get(partition) ?? null
      for (const state of states.values()) this.#countLevels(state, 1)
      const owned = {
        producer,
        states,
        clock: restoreClock(states.values(), this.#opts.model().decayTickMs),
        legacy: restored.legacy.get(partition) ?? new Set<string>(),
      }
      this.#owned.set(partition, owned)
      this.stats.restores++
      this.#log.info(
        {
          partition,
          checkpoint: checkpoint?.toString() ?? null,
          merchants: states.size,
          ms: this.#opts.now() - started,
        },
        'scoring state restored',
      )
      return owned
    } catch (e) {
      await producer.disconnect().catch(() => {})
      throw isRiskError(e)
        ? e
        : asRiskError(e, 'RISK_ERR_KAFKA', 'cannot take over a scoring partition', { partition })
    }
  }

  /**
   * Where an acquirer's alert can go: its topic when the acquirer is known and the topic exists, or why
   * not. Topic existence is read from the broker at most once a minute, and again whenever a topic is
   * not in the last list (just created by a registration). Broker failures throw (retriable).
   */
  async #alertTopic(
    acquirerId: string,
  ): Promise<{ ok: true; topic: string } | { ok: false; code: string; reason: string }> {
    let topic: string
    try {
      topic = this.#opts.alertTopicOf(acquirerId)
    } catch (e) {
      if (isRiskError(e) && !e.retriable) return { ok: false, code: e.code, reason: e.message }
      throw e
    }
    const now = this.#opts.now()
    const cached = this.#existing
    if (cached?.topics.has(topic) && now - cached.at < 60_000) return { ok: true, topic }
    let topics: string[]
    try {
      topics = await this.runner.admin().listTopics()
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot list topics', { topic })
    }
    this.#existing = { topics: new Set(topics), at: now }
    if (this.#existing.topics.has(topic)) return { ok: true, topic }
    return { ok: false, code: 'RISK_ERR_KAFKA', reason: `the alert topic ${topic} does not exist` }
  }
}
