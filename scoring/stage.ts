import type { Admin, Consumer, EachBatchPayload, Kafka, Message, Producer, Transaction } from 'kafkajs'
import { chunkBySize } from '../kafka/chunks.ts'
import type { EventCodec, WireFormat } from '../kafka/codec.ts'
import { type Membership, watchMembership } from '../kafka/membership.ts'
import { ensureTopics, type TopicSettings } from '../kafka/topics.ts'
import { asRiskError, isRiskError, type RiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { retryWhileRetriable } from '../lib/retry.ts'
import { instrumentConsumer } from '../metrics/kafka.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { RISK_ALERT } from '../schemas/contract.ts'
import type { RiskAlert } from '../schemas/types.generated.ts'
import type { Store } from '../store/client.ts'
import { openCases, type ScoreRow, writeAlerts, writeScores } from '../store/scores.ts'
import { CHECKPOINT_KEY, encodeCheckpoint, restoreChangelog, stateKeyOf } from './changelog.ts'
import { decodeHit } from './hits.ts'
import {
  type AlertOut,
  advanceClock,
  applyHit,
  type CaseRequest,
  type DecayClock,
  decayAll,
  emptyMerchantState,
  type MerchantScoreState,
  type Outcome,
  restoreClock,
  type ScoringModel,
} from './model.ts'

export interface ScoringStageOptions {
  kafka: Kafka
  store: Store
  codec: EventCodec
  /** The current scoring model; read on every batch, so a configuration reload applies at once. */
  model: () => ScoringModel
  topics: {
    /** The internal rule-hits topic this stage consumes. */
    hits: string
    /** The compacted state changelog (same partition count as `hits`). */
    state: string
  }
  /** The topic an acquirer's alerts go to (risk.alerts.<acquirer_id> by default). */
  alertTopicOf: (acquirerId: string) => string
  /** Framed Avro or JSON, per acquirer. */
  alertFormatOf: (acquirerId: string) => WireFormat
  /** Settings for alert topics created on first use. */
  alertTopicSettings: TopicSettings
  groupId: string
  logger: Logger
  now: () => number
  sleep: (ms: number) => Promise<void>
  retryInitialMs: number
  retryMaxMs: number
  restoreTimeoutMs: number
  /** Partitions processed at once: each has its own producer and state, so they never interfere. */
  concurrency?: number
  /** Told of every alert once its transaction committed (metrics, logs). */
  onPublished?: (alerts: readonly PublishedAlert[]) => void
  /** Alerts per level, event-to-alert time, merchants per level; nothing is counted without it. */
  metrics?: Metrics
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
  retries: number
}

interface Owned {
  producer: Producer
  states: Map<string, MerchantScoreState>
  /** The partition's event-time clock for the decay passes (scoring/model.ts, advanceClock). */
  clock: DecayClock
}

/**
 * The scoring stage: a consume-transform-produce loop from the rule-hits topic to the per-acquirer
 * alert topics, exactly once through Kafka transactions.
 *
 * Each input partition has its own transactional producer (transactional id `<group>-p<partition>`).
 * For each batch, the stage applies the hits to the merchants' score states, writes scores, alerts and
 * cases to ClickHouse (idempotent rewrites), then in one transaction publishes the alerts, writes the
 * changed states and a checkpoint to the changelog partition of the same number, and commits the
 * consumer offsets. Either all of it is visible to read_committed readers or none of it.
 *
 * Why a producer per partition: when a partition moves to another instance, the new owner's producer
 * starts with the same transactional id, which fences the old owner (its pending transaction is
 * aborted and any later one refused), so a zombie cannot publish an alert the new owner publishes too.
 * kafkajs does not send the consumer group generation with the offsets, so per-partition ids are the
 * fencing that works with it.
 *
 * State is restored from the changelog when a partition is first seen in an ownership, to the end
 * of the changelog. Any failure in a batch drops the partition's state and producer;
 * the batch is then re-read and the state restored again, so a failed batch can never leave half its
 * effects in memory.
 */
export class ScoringStage {
  readonly stats: ScoringStageStats = {
    hits: 0,
    bad: 0,
    alerts: 0,
    scoreRows: 0,
    cases: 0,
    transactions: 0,
    restores: 0,
    retries: 0,
  }
  readonly #opts: ScoringStageOptions
  readonly #log: Logger
  readonly #consumer: Consumer
  readonly #admin: Admin
  readonly #owned = new Map<number, Owned>()
  readonly #alertTopics = new Set<string>()
  #running = false
  #membership: Membership = { joined: false }
  #failing: RiskError | null = null

  constructor(opts: ScoringStageOptions) {
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'scoring' })
    this.#consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      readUncommitted: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 100,
    })
    this.#admin = opts.kafka.admin()
    if (opts.metrics !== undefined) instrumentConsumer(this.#consumer, opts.metrics, 'scoring')
  }

  get ready(): boolean {
    return this.#running && this.#membership.joined && this.#failing === null
  }

  /** Merchants whose state this instance holds, over all owned partitions. */
  get merchantCount(): number {
    let n = 0
    for (const o of this.#owned.values()) n += o.states.size
    return n
  }

  async start(): Promise<void> {
    this.#membership = watchMembership(this.#consumer, this.#log, 'scoring consumer', (assignment) => {
      const assigned = new Set(assignment[this.#opts.topics.hits] ?? [])
      for (const p of [...this.#owned.keys()]) if (!assigned.has(p)) void this.#release(p)
      this.#log.info({ partitions: [...assigned] }, 'joined scoring consumer group')
    })
    try {
      await this.#admin.connect()
      await this.#consumer.connect()
      await this.#consumer.subscribe({ topics: [this.#opts.topics.hits], fromBeginning: true })
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot start the scoring stage', {
        topic: this.#opts.topics.hits,
      })
    }
    this.#running = true
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#opts.concurrency ?? 1,
      eachBatch: (payload) => this.#eachBatch(payload),
    })
  }

  /** Finishes the batch in hand (its transaction committed or aborted), leaves the group, disconnects. */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    await this.#consumer.disconnect()
    for (const p of [...this.#owned.keys()]) await this.#release(p)
    await this.#admin.disconnect()
    this.#log.info({ stats: this.stats }, 'scoring stage stopped')
  }

  async #release(partition: number): Promise<void> {
    const owned = this.#owned.get(partition)
    if (owned === undefined) return
    this.#owned.delete(partition)
    for (const state of owned.states.values()) this.#countLevels(state, -1)
    await owned.producer.disconnect().catch(() => {})
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload
    const { partition, topic } = batch
    const last = batch.messages.at(-1)
    if (last === undefined || !isRunning() || isStale()) return
    const retry = {
      initialMs: this.#opts.retryInitialMs,
      maxMs: this.#opts.retryMaxMs,
      shouldContinue: () => isRunning() && !isStale(),
      sleep: this.#opts.sleep,
      onRetry: async (error: RiskError, attempt: number, delayMs: number) => {
        this.#failing = error
        this.stats.retries++
        this.#log.warn({ ...error.toLog(), attempt, delayMs, topic, partition }, 'retrying')
        await heartbeat()
      },
    }
    const owned = await retryWhileRetriable(() => this.#own(partition), retry)
    await heartbeat()
    try {
      await this.#process(payload, owned, retry)
    } catch (e) {
      // Whatever this batch changed in memory goes too: the batch is re-read onto restored state.
      await this.#release(partition)
      throw e
    }
    this.#failing = null
    resolveOffset(last.offset)
    await heartbeat()
  }

  async #process(
    payload: EachBatchPayload,
    owned: Owned,
    retry: Parameters<typeof retryWhileRetriable>[1],
  ): Promise<void> {
    const { batch } = payload
    const { partition, topic } = batch
    const model = this.#opts.model()
    const changed = new Set<string>()
    const scores: ScoreRow[] = []
    const alerts = new Map<string, AlertOut>()
    const cases: CaseRequest[] = []
    const collect = (key: string, outcome: Outcome) => {
      if (!outcome.changed) return
      const state = owned.states.get(key)
      if (state === undefined) return
      changed.add(key)
      for (const s of outcome.scores)
        scores.push({
          acquirerId: state.acquirerId,
          merchantId: state.merchantId,
          result: s.result,
          at: s.at,
        })
      // One alert per merchant and category per batch: a merchant that climbs MEDIUM → HIGH → CRITICAL
      // within one batch gets the CRITICAL one, which carries every reason and the level it came from.
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
    for (const message of batch.messages) {
      const decoded = decodeHit(message.value)
      if (!decoded.ok) {
        // We write this topic ourselves; a record that does not decode is a bug to see, not to retry.
        this.stats.bad++
        this.#log.warn(
          { topic, partition, offset: message.offset, problem: decoded.problem },
          'bad hit record skipped',
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
        for (const [k, outcome] of decayed) collect(k, outcome)
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
      collect(key, outcome)
    }

    const published = [...alerts.values()].map(({ alert, families }) => ({
      alert,
      families,
      topic: this.#opts.alertTopicOf(alert.acquirer_id),
    }))
    const now = this.#opts.now()
    // The rows go to ClickHouse while the transaction is built; it commits only once they are in, so
    // an alert is never visible without its stored evidence. They are idempotent rewrites, so a replay
    // after a crash writes them again harmlessly. First attempt here, unretried: its failure is
    // collected, not thrown, and handled below.
    const writeAll = () =>
      Promise.all([
        writeScores(this.#opts.store, scores, now),
        writeAlerts(this.#opts.store, published, now),
        openCases(this.#opts.store, cases),
      ])
    const written = writeAll().then(
      () => null,
      (e: unknown) => e,
    )
    await retryWhileRetriable(() => this.#ensureAlertTopics(published.map((p) => p.topic)), retry)

    const byTopic = new Map<string, Message[]>()
    for (const { alert, topic: t } of published) {
      const value = await this.#opts.codec.encode(
        RISK_ALERT,
        alert,
        this.#opts.alertFormatOf(alert.acquirer_id),
        {
          subject: `${t}-value`,
        },
      )
      const list = byTopic.get(t) ?? []
      list.push({ key: alert.merchant_id, value, headers: { alert_id: alert.alert_id } })
      byTopic.set(t, list)
    }
    const next = (BigInt(batch.lastOffset()) + 1n).toString()
    const stateMessages: Message[] = [...changed].map((key) => {
      const state = owned.states.get(key)
      return {
        key,
        partition,
        value: state === undefined ? null : Buffer.from(JSON.stringify(state), 'utf8'),
      }
    })
    stateMessages.push({ key: CHECKPOINT_KEY, partition, value: encodeCheckpoint(next) })
    // Several sends in one transaction are still all-or-nothing; each stays under the batch limit.
    // The checkpoint is the changelog partition's last record, as the restore expects.
    const sends: [string, Message[]][] = [...byTopic, [this.#opts.topics.state, stateMessages]]
    const offsets = [{ topic, partitions: [{ partition, offset: next }] }]

    let txn = await this.#transaction(owned, sends, offsets, partition)
    const failed = await written
    if (failed !== null) {
      // ClickHouse refused the rows: publish nothing until they are in.
      await txn.abort().catch(() => {})
      if (!isRiskError(failed) || !failed.retriable) throw failed
      await retryWhileRetriable(async () => {
        await writeAll()
      }, retry)
      txn = await this.#transaction(owned, sends, offsets, partition)
    }
    try {
      await txn.commit()
    } catch (e) {
      await txn.abort().catch(() => {})
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'scoring transaction failed', { topic, partition })
    }
    this.stats.transactions++
    this.stats.alerts += published.length
    this.stats.scoreRows += scores.length
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

  /** A transaction holding `sends` and the consumer offsets, not yet committed; aborted if it fails. */
  async #transaction(
    owned: Owned,
    sends: readonly [string, Message[]][],
    offsets: { topic: string; partitions: { partition: number; offset: string }[] }[],
    partition: number,
  ): Promise<Transaction> {
    const txn = await owned.producer.transaction()
    try {
      for (const [t, messages] of sends)
        for (const chunk of chunkBySize(messages)) await txn.send({ topic: t, acks: -1, messages: chunk })
      await txn.sendOffsets({ consumerGroupId: this.#opts.groupId, topics: offsets })
      return txn
    } catch (e) {
      await txn.abort().catch(() => {})
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'scoring transaction failed', {
        topic: offsets[0]?.topic,
        partition,
      })
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
   * start fences any earlier owner (aborting its open transaction), then the state is read back from
   * the changelog to its end, which the fenced owner can no longer move.
   */
  async #own(partition: number): Promise<Owned> {
    const known = this.#owned.get(partition)
    if (known !== undefined) return known
    const started = this.#opts.now()
    const producer = this.#opts.kafka.producer({
      transactionalId: `${this.#opts.groupId}-p${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      // The first send of a transaction started right after the previous commit is often refused with
      // CONCURRENT_TRANSACTIONS while the broker writes the commit markers; the client's default first
      // retry waits 300 ms, which was the largest single part of an alert's latency. The Java producer
      // retries that case after 20 ms. Still unlimited retries, doubling up to 30 s, as idempotence needs.
      retry: { initialRetryTime: 20, maxRetryTime: 30_000, retries: Number.MAX_SAFE_INTEGER },
    })
    try {
      await producer.connect()
      const restored = await restoreChangelog(this.#opts.kafka, this.#opts.topics.state, {
        partitions: [partition],
        groupPrefix: this.#opts.groupId,
        timeoutMs: this.#opts.restoreTimeoutMs,
      })
      const states = restored.states.get(partition) ?? new Map<string, MerchantScoreState>()
      const checkpoint = restored.checkpoints.get(partition) ?? null
      for (const state of states.values()) this.#countLevels(state, 1)
      const owned = { producer, states, clock: restoreClock(states.values(), this.#opts.model().decayTickMs) }
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

  async #ensureAlertTopics(topics: readonly string[]): Promise<void> {
    const missing = [...new Set(topics)].filter((t) => !this.#alertTopics.has(t))
    if (missing.length === 0) return
    const created = await ensureTopics(this.#opts.kafka, missing, this.#opts.alertTopicSettings)
    if (created.length > 0) this.#log.info({ created }, 'created alert topics')
    for (const t of missing) this.#alertTopics.add(t)
  }
}
