import {
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  PartitionAssigners,
} from 'kafkajs'
import { asRiskError, isRiskError, RiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { retryWhileRetriable } from '../lib/retry.ts'
import { instrumentConsumer } from '../metrics/kafka.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { CoPartitionedAssigner } from './co-partitioned-assigner.ts'
import type { TopicCompression } from './transactions.ts'

/**
 * The one shell around every consumer of the pipeline. A stage (ingest, the cross-merchant rules,
 * scoring) supplies only what it does with its partitions (`StageHandler`); the runner owns the rest:
 * the consumer and its group membership, subscription, heartbeats, retry with back-off, the commit,
 * assignment and revocation, readiness, and recovery from anything a rejoin can cure.
 *
 * How it stays alive:
 * - **Heartbeats while a batch is in hand.** kafkajs heartbeats only between batches or when the batch
 *   handler asks, so one slow insert used to outlast the session. A ticker heartbeats every
 *   `heartbeatIntervalMs` while a part is processed, and a fetched batch is handed over in parts of at
 *   most `maxPartSize` messages, so no synchronous stretch of work is long.
 * - **Losing the membership costs a rejoin, never the pipeline.** A member the coordinator expelled (its
 *   session expired under a frozen process, CPU starvation, a GC pause) gets `UNKNOWN_MEMBER_ID` or
 *   `ILLEGAL_GENERATION` on its next request. The part in hand stops, its partition's state is released,
 *   and the consumer rejoins: kafkajs does for the errors it knows, and where it gives up (a crash it will
 *   not restart) the runner replaces the consumer with a new one, with back-off, for as long as it runs.
 * - **State follows continuity, not hope.** A partition's state is kept across a rejoin only when the
 *   group's committed offset is exactly the one this runner last committed for it: then nobody else
 *   processed it in between. Otherwise the stage releases it and `own` rebuilds it before the next batch.
 * - **What cannot be cured is reported.** `health()` says since when the stage has been unable to make
 *   progress (not in its group, crashed, retrying the same failure, a subscribed topic gone, one part in
 *   hand for too long without progress, idle while behind once re-reading and a new consumer did not
 *   help: `#checkIdle`); the liveness watchdog turns a long enough spell into a failing
 *   /healthz and then a non-zero exit, so a supervisor restarts the process. Never alive-but-dead.
 */

/** One part of a fetched batch of one partition, handed to the stage. */
export interface StagePart {
  readonly topic: string
  readonly partition: number
  readonly messages: readonly KafkaMessage[]
  /** The offset after the part's last message: what committing this part stores. */
  readonly nextOffset: string
  /** The partition's high-water mark when the batch was fetched. */
  readonly highWatermark: string
}

export interface StageContext {
  /**
   * Runs `fn` until it succeeds, waiting with exponential back-off while it throws retriable errors and
   * the partition is still this stage's; the stage is reported failing meanwhile. A non-retriable error,
   * or any error once the partition is lost, is thrown.
   */
  retry<T>(fn: () => Promise<T>): Promise<T>
  /** False once the work in hand should stop: stopping, partition sought or lost, membership lost. */
  keepGoing(): boolean
  /** Long work (a rebuild) says it is still moving, so it does not count as stuck. */
  progress(): void
  /**
   * Resolves while this member is still in its group's current generation (a heartbeat answered within
   * the heartbeat interval, or one sent now); throws the membership error otherwise. A stage calls it just
   * before committing a transaction: the broker does not fence an old owner's transactional producer for
   * kafkajs (no KIP-447, and no epoch fencing on Kafka 4 for this client, as a test shows), so an expelled
   * member must find out before it commits, not after.
   */
  confirm(): Promise<void>
  /**
   * The stage did not take the part in hand (it waits for another partition to catch up): when `process`
   * returns, the part and the rest of its batch are left unresolved, uncommitted, and fetched again from
   * the part's first offset (the stage pauses and resumes the partition meanwhile, see `pause`).
   */
  defer(): void
}

export interface StageHandler {
  /**
   * Who commits the consumed offsets: the runner, after `process` returned (`runner`), or the stage
   * itself, inside the Kafka transaction that also holds its output (`stage`).
   */
  readonly commits: 'runner' | 'stage'
  /**
   * Before the first part of a partition in an ownership: rebuild or restore its state, or position it.
   * Returns `seeked` when it moved the partition's position (the batch in hand is then dropped, and the
   * consumer fetches from the new position). Retried through `ctx.retry` by the stage as it sees fit;
   * an error that escapes releases the partition and is handled like a failed part. `from` is the offset
   * of the first record of the part in hand, where this member reads the partition from; null when
   * `own` runs at assignment, before any part.
   */
  own?(topic: string, partition: number, ctx: StageContext, from: string | null): Promise<'ready' | 'seeked'>
  /** Run `own` as soon as a partition is assigned, not at its first part (a replay that can start now). */
  readonly ownEagerly?: boolean
  /** Processes one part. With `commits: 'stage'`, the part's offsets are committed when it returns. */
  process(part: StagePart, ctx: StageContext): Promise<void>
  /**
   * The state of these partitions can no longer be trusted or is no longer this stage's (revoked, a part
   * failed half-way, continuity broken by a lost membership): drop it; `own` runs again before the next
   * part of any of them that comes back.
   */
  release?(topic: string, partitions: readonly number[]): void | Promise<void>
  /** Told of every retry of a partition's work, for the stage's own metrics. */
  retried?(topic: string, error: RiskError): void
}

export interface StageSettings {
  /** Short fixed name: the log component and the metrics' `client` label (`ingest`, `scoring`, ...). */
  readonly name: string
  readonly groupId: string
  readonly topics: readonly string[]
  /** A new group starts at the earliest offsets (true) or the latest. */
  readonly fromBeginning: boolean
  /** Partitions processed at once. */
  readonly concurrency: number
  /** Most messages in one part; a larger fetched batch is split, with a heartbeat between parts. */
  readonly maxPartSize: number
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs: number
  readonly retryInitialMs: number
  readonly retryMaxMs: number
  /** One part in hand without progress for longer than this counts as stuck. */
  readonly stuckAfterMs: number
  /** How often the subscribed topics are checked to still exist. */
  readonly topicCheckMs?: number
  /** How often a stage without progress for `stuckAfterMs` asks whether it is behind (`StageRunner.#checkIdle`). */
  readonly idleCheckMs?: number
  readonly consumer?: Pick<
    ConsumerConfig,
    'readUncommitted' | 'maxWaitTimeInMs' | 'maxBytesPerPartition' | 'maxBytes' | 'minBytes'
  >
}

/**
 * The fetch of a stage that writes to ClickHouse off the alert path (ingest, the sink), up to 4 MB per
 * partition (they need no order across partitions, see ABREAST_FETCH): the broker holds it until a
 * megabyte is there or half a second passed. Every insert into the embedded engine
 * costs several ms of CPU whatever its size, and at a low rate a fetch that returns at the first record
 * made a part, so an insert, per partition every few ms: at 2,000 events/s the inserts took most of a
 * core. Under a backlog a fetch is full at once, so this costs nothing; on a quiet topic it adds at
 * most half a second to what is stored, never to an alert.
 */
export const STORE_FETCH = {
  minBytes: 1024 * 1024,
  maxWaitTimeInMs: 500,
  maxBytesPerPartition: 4 * 1024 * 1024,
} as const

export interface StageDeps {
  readonly kafka: Kafka
  readonly logger: Logger
  readonly now: () => number
  readonly sleep: (ms: number) => Promise<void>
  readonly metrics?: Metrics
  /** How a stage compresses its output to the internal topics (KAFKA_INTERNAL_COMPRESSION); none when absent. */
  readonly compression?: TopicCompression
}

/** Why a stage cannot make progress right now, and since when (ms, the deps' clock). */
export interface StageHealth {
  readonly stage: string
  readonly healthy: boolean
  readonly since: number | null
  readonly cause: string | null
}

export interface StageRunnerStats {
  parts: number
  messages: number
  retries: number
  /** Consumers replaced after kafkajs gave up on one. */
  replacements: number
  /** Partitions whose state was released because continuity could not be shown. */
  continuityBreaks: number
  /** Cures of a stage found idle while behind: its partitions re-read from their commits, or its consumer replaced. */
  idleCures: number
}

interface PartitionEntry {
  /** `own` ran in this ownership and the state is trusted. */
  owned: boolean
  /** The offset this runner last committed, when it did in this ownership. */
  committed: string | null
  /** Continuity must be shown against the group's committed offset before the next part. */
  verify: boolean
  /** `own` started at assignment (`ownEagerly`), awaited by the first part. */
  owning: Promise<void> | null
}

/** Errors that mean this member is no longer (or not yet again) in the group's current generation. */
const MEMBERSHIP_ERRORS = new Set([
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'COORDINATOR_NOT_AVAILABLE',
  'FENCED_INSTANCE_ID',
])

/** The protocol error type of a kafkajs error, looking through the causes it was wrapped in. */
export function kafkaErrorType(e: unknown): string | null {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; depth++) {
    const type: unknown = Reflect.get(c, 'type')
    if (typeof type === 'string') return type
    c = c.cause ?? Reflect.get(c, 'originalError')
  }
  return null
}

export function isMembershipError(e: unknown): boolean {
  const type = kafkaErrorType(e)
  return type !== null && MEMBERSHIP_ERRORS.has(type)
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`

/** The cause `health()` reports once the cures of an idle stage behind its partitions' ends failed. */
const IDLE_BEHIND = 'no progress while behind'

export class StageRunner {
  readonly stats: StageRunnerStats = {
    parts: 0,
    messages: 0,
    retries: 0,
    replacements: 0,
    continuityBreaks: 0,
    idleCures: 0,
  }
  readonly #s: StageSettings
  readonly #handler: StageHandler
  readonly #deps: StageDeps
  readonly #log: Logger
  readonly #entries = new Map<string, PartitionEntry>()
  /** Causes that keep the stage from progress, each with the time it began. */
  readonly #problems = new Map<string, number>()
  /** Parts in hand, with their last progress. */
  readonly #inFlight = new Map<string, number>()
  /** Messages behind each owned partition's high-water mark, as of its last part. */
  readonly #lag = new Map<string, number>()
  #consumer: Consumer | null = null
  #admin: Admin | null = null
  #running = false
  #joined = false
  /** Raised by the heartbeat ticker when the coordinator no longer knows this member's generation. */
  #lost: unknown = null
  #failing: RiskError | null = null
  #replacing: Promise<void> | null = null
  #topicTimer: NodeJS.Timeout | null = null
  /** The last answer to a fetch: the brokers were reachable then. */
  #lastFetchAt: number | null = null
  /** The last time the stage moved: a part, a commit past markers, a join, long work's `progress`, or a check that found nothing behind. */
  #progressAt = 0
  /** Idle while behind: since when, the cures tried so far, and when the last one was. */
  #idle: { since: number; cures: number; at: number } | null = null
  #idleTimer: NodeJS.Timeout | null = null
  #checkingIdle = false

  constructor(settings: StageSettings, handler: StageHandler, deps: StageDeps) {
    this.#s = settings
    this.#handler = handler
    this.#deps = deps
    this.#log = deps.logger.child({ component: settings.name })
    deps.metrics?.kafka.stageHealthy.labels(settings.name).set(0)
    // At 0 from the start, so increase() sees the first replacement instead of a series appearing.
    deps.metrics?.kafka.consumerReplacements.labels(settings.name).inc(0)
  }

  get name(): string {
    return this.#s.name
  }

  /** In its group, its last work succeeded, and nothing keeps it from progress. */
  get ready(): boolean {
    return (
      this.#running &&
      this.#joined &&
      this.#failing === null &&
      this.#problems.size === 0 &&
      this.#fetchStalledSince(this.#deps.now()) === null
    )
  }

  /**
   * Since when no fetch has come back while nothing is in hand (the brokers unreachable: kafkajs retries
   * quietly for minutes), once that is longer than a session timeout; null otherwise.
   */
  #fetchStalledSince(now: number): number | null {
    const last = this.#lastFetchAt
    if (!this.#running || !this.#joined || last === null || this.#inFlight.size > 0) return null
    return now - last > Math.max(this.#s.sessionTimeoutMs, 30_000) ? last : null
  }

  get lastFailure(): RiskError | null {
    return this.#failing
  }

  /** Messages behind the high-water marks of the owned partitions, as of each one's last part. */
  get lag(): number {
    let n = 0
    for (const l of this.#lag.values()) n += l
    return n
  }

  /**
   * Moves a partition's position, for a stage that replays (called from `own`): the batch in hand of that
   * partition becomes stale, and the next fetch starts at `offset`.
   */
  seek(topic: string, partition: number, offset: string): void {
    this.#consumer?.seek({ topic, partition, offset })
  }

  /**
   * Stops fetching a partition (its parts in hand finish) until `resume`: for a stage that defers a part
   * while another partition catches up, so that the fetches' bytes go to that one. A replaced consumer
   * starts with nothing paused.
   */
  pause(topic: string, partition: number): void {
    this.#consumer?.pause([{ topic, partitions: [partition] }])
  }

  resume(topic: string, partition: number): void {
    this.#consumer?.resume([{ topic, partitions: [partition] }])
  }

  /** The runner's admin client, connected while the stage runs (offset and metadata look-ups). */
  admin(): Admin {
    if (this.#admin === null)
      throw new RiskError('RISK_ERR_KAFKA', `the ${this.#s.name} stage is not running`)
    return this.#admin
  }

  health(): StageHealth {
    const now = this.#deps.now()
    let since: number | null = null
    let cause: string | null = null
    for (const [c, at] of this.#problems) {
      if (since === null || at < since) {
        since = at
        cause = c
      }
    }
    for (const [k, at] of this.#inFlight) {
      if (now - at >= this.#s.stuckAfterMs && (since === null || at < since)) {
        since = at
        cause = `no progress on ${k.replace('\u0000', ' partition ')}`
      }
    }
    // Fetches stop coming back for many reasons (a deleted topic among them): a stall dates the trouble
    // when it began earlier, but a problem the stage has named is the better cause to report.
    const stalled = this.#fetchStalledSince(now)
    if (stalled !== null && (since === null || stalled < since)) {
      since = stalled
      cause ??= 'no answer to fetches from the brokers'
    }
    const healthy = since === null
    this.#deps.metrics?.kafka.stageHealthy.labels(this.#s.name).set(healthy ? 1 : 0)
    return { stage: this.#s.name, healthy, since, cause }
  }

  /**
   * Connects, subscribes and starts consuming. Throws when the first start fails (start-up must fail
   * loudly); after that, recovery is the runner's own business.
   */
  async start(): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#problem('joining', true)
    this.#admin = this.#deps.kafka.admin()
    try {
      await this.#admin.connect()
      await this.#launch()
    } catch (e) {
      this.#running = false
      await this.#consumer?.disconnect().catch(() => {})
      await this.#admin.disconnect().catch(() => {})
      throw asRiskError(e, 'RISK_ERR_KAFKA', `cannot start the ${this.#s.name} stage`, {
        group: this.#s.groupId,
        topics: this.#s.topics.join(','),
      })
    }
    const every = this.#s.topicCheckMs ?? 30_000
    this.#topicTimer = setInterval(() => void this.#checkTopics(), every)
    this.#topicTimer.unref()
    this.#progressed()
    const idleEvery = this.#s.idleCheckMs ?? Math.max(1_000, Math.floor(this.#s.stuckAfterMs / 3))
    this.#idleTimer = setInterval(() => void this.#checkIdle(), idleEvery)
    this.#idleTimer.unref()
  }

  /** Finishes the part in hand (committed, or left uncommitted), leaves the group, and disconnects. */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    if (this.#topicTimer !== null) clearInterval(this.#topicTimer)
    if (this.#idleTimer !== null) clearInterval(this.#idleTimer)
    await this.#replacing?.catch(() => {})
    await this.#consumer?.disconnect().catch(() => {})
    await this.#admin?.disconnect().catch(() => {})
    // The stage's state goes with the process; a stage with resources per partition frees them itself.
    this.#entries.clear()
    this.#log.info({ stats: this.stats, group: this.#s.groupId }, 'consumer left its group')
  }

  async #launch(): Promise<void> {
    const consumer = this.#deps.kafka.consumer({
      groupId: this.#s.groupId,
      sessionTimeout: this.#s.sessionTimeoutMs,
      heartbeatInterval: this.#s.heartbeatIntervalMs,
      // Every topic is created by the service with its settings; one re-created by a fetch would have the
      // broker's defaults (one partition, seven days).
      allowAutoTopicCreation: false,
      // Partition n of every subscribed topic to the same member (a merchant's transactions and lifecycle
      // events); round-robin stays listed so a group of older members can still agree on a protocol.
      partitionAssigners: [CoPartitionedAssigner, PartitionAssigners.roundRobin],
      // kafkajs retries its fetch loop this many times before it crashes the consumer; the client
      // default (10 tries, about 10 s) turned every broker restart into crashes. Minutes of retries
      // ride out a restart; a longer outage shows as 'no fetch' in health() and ends in the watchdog.
      retry: {
        initialRetryTime: 300,
        maxRetryTime: 10_000,
        retries: 100,
        restartOnFailure: async () => this.#running,
      },
      // How long the broker holds a fetch when the topic is quiet (kafkajs: 5 s). A fetch returns as soon
      // as there is a record, so this costs nothing under traffic; but stopping waits for the fetch in
      // flight, and on a quiet topic that was the whole 5 s.
      maxWaitTimeInMs: 1_000,
      ...this.#s.consumer,
    })
    this.#consumer = consumer
    this.#watch(consumer)
    const metrics = this.#deps.metrics
    if (metrics !== undefined) instrumentConsumer(consumer, metrics, this.#s.name)
    await consumer.connect()
    await consumer.subscribe({ topics: [...this.#s.topics], fromBeginning: this.#s.fromBeginning })
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#s.concurrency,
      eachBatch: (payload) => this.#eachBatch(payload),
    })
  }

  #watch(consumer: Consumer): void {
    const { events } = consumer
    consumer.on(events.GROUP_JOIN, (e) => {
      if (consumer !== this.#consumer) return
      this.#joined = true
      this.#lost = null
      this.#problems.delete('joining')
      this.#problems.delete('rebalancing')
      this.#problems.delete('crashed')
      // A member that just joined has had no time to progress; an idle spell's cures go on, though.
      this.#progressAt = this.#deps.now()
      this.#assigned(e.payload.memberAssignment)
    })
    const fetched = () => {
      if (consumer === this.#consumer) this.#lastFetchAt = this.#deps.now()
    }
    consumer.on(events.FETCH, fetched)
    consumer.on(events.START_BATCH_PROCESS, fetched)
    // A fetch that brought only transaction markers calls no handler; its offsets are committed here, so
    // a stage reading a transactional topic reaches the topic's end.
    consumer.on(events.END_BATCH_PROCESS, (e) => {
      if (consumer !== this.#consumer || e.payload.batchSize !== 0) return
      void this.#commitMarkers(e.payload.topic, e.payload.partition, e.payload.lastOffset)
    })
    consumer.on(events.REBALANCING, () => {
      if (consumer !== this.#consumer) return
      this.#joined = false
      this.#problem('rebalancing')
    })
    consumer.on(events.CRASH, (e) => {
      if (consumer !== this.#consumer) return
      const { error, restart } = e.payload
      this.#joined = false
      this.#problem('crashed')
      // Whatever happened while we were out, continuity must be shown again before state is trusted.
      for (const entry of this.#entries.values()) entry.verify = true
      this.#log.warn(
        { error: error.message, type: kafkaErrorType(error), restart },
        restart ? 'consumer failed; kafkajs restarts it' : 'consumer failed; replacing it',
      )
      if (!restart && this.#running) this.#replace()
    })
  }

  /** A new consumer in place of one kafkajs gave up on, retried with back-off while running. */
  #replace(): void {
    if (this.#replacing !== null) return
    this.#replacing = (async () => {
      let delay = this.#s.retryInitialMs
      while (this.#running) {
        await this.#consumer?.disconnect().catch(() => {})
        try {
          this.stats.replacements++
          this.#deps.metrics?.kafka.consumerReplacements.labels(this.#s.name).inc()
          await this.#launch()
          this.#log.info({ group: this.#s.groupId }, 'consumer replaced; rejoining its group')
          return
        } catch (e) {
          this.#log.warn(
            { error: e instanceof Error ? e.message : String(e), delayMs: delay },
            'consumer could not be replaced yet',
          )
          await this.#deps.sleep(delay)
          delay = Math.min(delay * 2, this.#s.retryMaxMs)
        }
      }
    })().finally(() => {
      this.#replacing = null
    })
  }

  #assigned(assignment: Record<string, number[]>): void {
    const now = new Set<string>()
    for (const topic of this.#s.topics) for (const p of assignment[topic] ?? []) now.add(key(topic, p))
    const gone = [...this.#entries.keys()].filter((k) => !now.has(k))
    for (const k of gone) this.#entries.delete(k)
    if (gone.length > 0) void this.#releaseKeys(gone)
    for (const k of now) {
      const entry = this.#entries.get(k)
      if (entry === undefined) {
        const fresh: PartitionEntry = { owned: false, committed: null, verify: false, owning: null }
        this.#entries.set(k, fresh)
        if (this.#handler.ownEagerly === true) fresh.owning = this.#ownEagerly(k, fresh)
      }
      // Kept across a rejoin: someone else may have had it in between.
      else entry.verify = true
    }
    this.#log.info({ assignment, group: this.#s.groupId }, 'joined consumer group')
    void this.#checkTopics()
  }

  /**
   * `own` at assignment rather than at the partition's first part, which may be hours away (a replay
   * that could run now). A failure is left to the first part, which owns the partition again.
   */
  async #ownEagerly(k: string, entry: PartitionEntry): Promise<void> {
    const own = this.#handler.own
    if (own === undefined) return
    const [topic = '', p = '0'] = k.split('\u0000')
    const current = () => this.#running && this.#joined && this.#entries.get(k) === entry
    const ctx = this.#context(
      topic,
      k,
      current,
      () => {},
      async () => {},
    )
    this.#inFlight.set(k, this.#deps.now())
    try {
      await own.call(this.#handler, topic, Number(p), ctx, null)
      if (current()) entry.owned = true
    } catch (e) {
      this.#log.info(
        { topic, partition: Number(p), ...errorLog(e) },
        'partition not owned yet; its first part will',
      )
    } finally {
      this.#inFlight.delete(k)
      entry.owning = null
    }
  }

  async #releaseKeys(keys: readonly string[]): Promise<void> {
    const byTopic = new Map<string, number[]>()
    for (const k of keys) {
      const [topic = '', p = '0'] = k.split('\u0000')
      const list = byTopic.get(topic) ?? []
      list.push(Number(p))
      byTopic.set(topic, list)
    }
    for (const [topic, partitions] of byTopic) {
      for (const p of partitions) this.#deps.metrics?.kafka.consumerLag.remove(this.#s.name, topic, String(p))
      try {
        await this.#handler.release?.(topic, partitions)
      } catch (e) {
        this.#log.error({ topic, partitions, error: String(e) }, 'releasing partition state failed')
      }
    }
  }

  #problem(cause: string, reset = false): void {
    if (reset || !this.#problems.has(cause)) this.#problems.set(cause, this.#deps.now())
  }

  async #checkTopics(): Promise<void> {
    const admin = this.#admin
    if (admin === null || !this.#running) return
    try {
      const existing = new Set(await admin.listTopics())
      const missing = this.#s.topics.filter((t) => !existing.has(t))
      if (missing.length > 0) {
        if (!this.#problems.has('topic missing'))
          this.#log.error({ missing }, 'a topic this stage consumes does not exist')
        this.#problem('topic missing')
      } else this.#problems.delete('topic missing')
    } catch {
      // The broker unreachable shows as a failing consumer; this check is only about deleted topics.
    }
  }

  #progressed(): void {
    this.#progressAt = this.#deps.now()
    if (this.#idle === null) return
    this.#idle = null
    this.#problems.delete(IDLE_BEHIND)
  }

  /**
   * The stall nothing else sees: in its group, fetches answered, nothing in hand and nothing failing, and
   * yet no progress for `stuckAfterMs` while a partition of this member has records after its committed
   * offset (a pause whose resume was lost, a fetch position the client lost track of, a transaction
   * marker it never hands over). Cured in steps, each after `stuckAfterMs` more without progress: the
   * partitions behind are sought to their committed offsets and resumed; then the consumer is replaced
   * (a rejoin); then the stage reports itself stuck since it went idle, and the liveness watchdog ends
   * the process. A check that finds nothing behind counts as progress, so a quiet stage asks the brokers
   * once per `stuckAfterMs`; a stage with traffic never asks.
   */
  async #checkIdle(): Promise<void> {
    if (this.#checkingIdle) return
    const now = this.#deps.now()
    const idleSince = this.#progressAt
    const quiet = () =>
      this.#running && this.#joined && this.#inFlight.size === 0 && this.#progressAt === idleSince
    if (!quiet() || now - idleSince < this.#s.stuckAfterMs) return
    if (this.#idle !== null && now - this.#idle.at < this.#s.stuckAfterMs) return
    this.#checkingIdle = true
    try {
      const behind = await this.#behind()
      if (!quiet()) return
      if (behind.length === 0) {
        this.#progressed()
        return
      }
      const idle = this.#idle ?? { since: idleSince, cures: 0, at: now }
      this.#idle = idle
      idle.at = this.#deps.now()
      const partitions = behind.map((b) => `${b.topic} ${b.partition} at ${b.offset} of ${b.end}`)
      const idleMs = idle.at - idle.since
      if (idle.cures === 0) {
        idle.cures++
        this.stats.idleCures++
        this.#log.warn(
          { partitions, idleMs },
          'no progress while behind: the partitions are read again from their committed offsets',
        )
        const consumer = this.#consumer
        for (const b of behind) {
          consumer?.seek({ topic: b.topic, partition: b.partition, offset: b.offset })
          consumer?.resume([{ topic: b.topic, partitions: [b.partition] }])
        }
      } else if (idle.cures === 1) {
        idle.cures++
        this.stats.idleCures++
        this.#log.warn({ partitions, idleMs }, 'still no progress while behind: replacing the consumer')
        this.#joined = false
        this.#problem('joining', true)
        this.#replace()
      } else if (!this.#problems.has(IDLE_BEHIND)) {
        this.#problems.set(IDLE_BEHIND, idle.since)
        this.#log.error(
          { partitions, idleMs },
          'no progress while behind, after re-reading and a new consumer: the stage is stuck',
        )
      }
    } catch {
      // The brokers unreachable: that shows as failing fetches; the next check asks again.
    } finally {
      this.#checkingIdle = false
    }
  }

  /** This member's partitions with records after the group's committed offset (read_committed ends). */
  async #behind(): Promise<{ topic: string; partition: number; offset: string; end: string }[]> {
    const admin = this.#admin
    if (admin === null) return []
    const topics = this.#s.topics
    const [committed, ...ends] = await Promise.all([
      admin.fetchOffsets({ groupId: this.#s.groupId, topics: [...topics] }),
      ...topics.map((t) => admin.fetchTopicOffsets(t)),
    ])
    const out: { topic: string; partition: number; offset: string; end: string }[] = []
    topics.forEach((topic, i) => {
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? []
      for (const e of ends[i] ?? []) {
        if (!this.#entries.has(key(topic, e.partition))) continue
        const at = mine.find((c) => c.partition === e.partition)?.offset ?? '-1'
        // Nothing committed yet by a group that starts at the end: what came before is not its to read.
        if (at === '-1' && !this.#s.fromBeginning) continue
        const from = at === '-1' || BigInt(at) < BigInt(e.low) ? e.low : at
        if (BigInt(e.high) > BigInt(from))
          out.push({ topic, partition: e.partition, offset: from, end: e.high })
      }
    })
    return out
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale, resolveOffset } = payload
    const { topic, partition } = batch
    const k = key(topic, partition)
    const entry = this.#entries.get(k)
    if (entry === undefined || batch.messages.length === 0) return
    const keepGoing = () => this.#running && isRunning() && !isStale() && this.#lost === null
    // Heartbeats go on while the part is in hand; the coordinator expelling us stops the work at the next
    // safe point instead of after it.
    let beating: Promise<void> | null = null
    const beat = () => {
      if (beating !== null) return
      beating = payload
        .heartbeat()
        .catch((e: unknown) => {
          if (isMembershipError(e)) this.#lost ??= e
        })
        .finally(() => {
          beating = null
        })
    }
    const ticker = setInterval(beat, this.#s.heartbeatIntervalMs)
    const confirm = async () => {
      if (this.#lost !== null) throw this.#lost
      try {
        await payload.heartbeat()
      } catch (e) {
        if (isMembershipError(e)) this.#lost ??= e
        throw e
      }
      if (!keepGoing())
        throw this.#lost ?? new RiskError('RISK_ERR_KAFKA', "the partition is no longer this stage's")
    }
    let deferred = false
    const ctx = this.#context(topic, k, keepGoing, beat, confirm, () => {
      deferred = true
    })
    this.#inFlight.set(k, this.#deps.now())
    try {
      if (entry.owning !== null) await entry.owning
      if (entry.verify) await this.#verify(topic, partition, entry, ctx)
      if (!entry.owned) {
        const own = this.#handler.own
        let outcome: 'ready' | 'seeked' = 'ready'
        try {
          if (own !== undefined)
            outcome = await own.call(this.#handler, topic, partition, ctx, batch.firstOffset())
        } catch (e) {
          await this.#failed(k, e)
        }
        entry.owned = true
        if (outcome === 'seeked' || !keepGoing()) return
      }
      const size = Math.max(1, this.#s.maxPartSize)
      for (let i = 0; i < batch.messages.length; i += size) {
        if (!keepGoing()) break
        const messages = batch.messages.slice(i, i + size)
        const last = messages[messages.length - 1]
        if (last === undefined) break
        // The batch's last part commits past the transaction markers that may close the batch (they are
        // records too, never handed over): a consumer of a transactional topic would otherwise stay one
        // record behind its end forever.
        const isLast = i + size >= batch.messages.length
        const nextOffset = ((isLast ? BigInt(batch.lastOffset()) : BigInt(last.offset)) + 1n).toString()
        this.#inFlight.set(k, this.#deps.now())
        try {
          deferred = false
          await this.#handler.process(
            { topic, partition, messages, nextOffset, highWatermark: batch.highWatermark },
            ctx,
          )
          if (deferred) break
          if (this.#handler.commits === 'runner') await this.#commit(topic, partition, nextOffset)
        } catch (e) {
          // Half of this part may be in the stage's state: it goes, and `own` rebuilds it.
          entry.owned = false
          await this.#failed(k, e)
        }
        this.#problems.delete('failing')
        this.#progressed()
        entry.committed = nextOffset
        resolveOffset(last.offset)
        this.stats.parts++
        this.stats.messages += messages.length
        const lag = lagAfter(batch.highWatermark, nextOffset)
        this.#lag.set(k, lag)
        this.#deps.metrics?.kafka.consumerLag.labels(this.#s.name, topic, String(partition)).set(lag)
        beat()
      }
      if (this.#lost !== null) throw this.#membershipLost(this.#lost)
    } catch (e) {
      if (isMembershipError(e)) {
        // kafkajs rejoins on these; the batch's uncommitted rest is fetched again by whoever owns it.
        this.#joined = false
        this.#problem('rebalancing')
        for (const other of this.#entries.values()) other.verify = true
      }
      throw e
    } finally {
      clearInterval(ticker)
      this.#inFlight.delete(k)
    }
  }

  /**
   * A part (or `own`) failed: its partition's state goes. A lost membership is handed to kafkajs, which
   * rejoins; anything else counts as failing until a part succeeds again, however often the consumer is
   * restarted in between, so a failure no restart cures ends in a failing /healthz and an exit.
   */
  async #failed(k: string, e: unknown): Promise<never> {
    await this.#releaseKeys([k])
    if (this.#lost !== null || isMembershipError(e)) throw this.#membershipLost(e)
    this.#problem('failing')
    this.#log.warn({ partition: k.replace('\u0000', ' '), ...errorLog(e) }, 'part failed; it is read again')
    throw e
  }

  /** The kafkajs error itself, so kafkajs recognises it and rejoins instead of crashing. */
  #membershipLost(e: unknown): unknown {
    const cause = this.#lost ?? e
    this.#log.warn(
      { type: kafkaErrorType(cause), error: cause instanceof Error ? cause.message : String(cause) },
      'membership lost with a batch in hand; rejoining, the batch is re-read by its next owner',
    )
    return cause
  }

  #context(
    topic: string,
    k: string,
    keepGoing: () => boolean,
    beat: () => void,
    confirm: () => Promise<void>,
    defer: () => void = () => {},
  ): StageContext {
    return {
      keepGoing,
      confirm,
      defer,
      progress: () => {
        this.#inFlight.set(k, this.#deps.now())
        this.#progressed()
        beat()
      },
      retry: <T>(fn: () => Promise<T>) =>
        retryWhileRetriable(fn, {
          initialMs: this.#s.retryInitialMs,
          maxMs: this.#s.retryMaxMs,
          shouldContinue: keepGoing,
          sleep: this.#deps.sleep,
          onRetry: (error, attempt, delayMs) => {
            if (this.#failing === null) this.#problem('retrying', true)
            this.#failing = error
            this.stats.retries++
            this.#handler.retried?.(topic, error)
            this.#log.warn(
              { ...error.toLog(), attempt, delayMs, topic, partition: k.split('\u0000')[1] },
              'retrying',
            )
            beat()
          },
        }).then(
          (v) => {
            if (this.#failing !== null) {
              this.#failing = null
              this.#problems.delete('retrying')
            }
            return v
          },
          (e: unknown) => {
            throw e
          },
        ),
    }
  }

  /**
   * Keeps a partition's state across a rejoin only if the group's committed offset is the one this
   * runner last committed: then no other member processed it in between.
   */
  async #verify(topic: string, partition: number, entry: PartitionEntry, ctx: StageContext): Promise<void> {
    entry.verify = false
    if (!entry.owned) return
    const admin = this.#admin
    if (admin === null) return
    const committed = await ctx.retry(async () => {
      try {
        const [offsets] = await admin.fetchOffsets({ groupId: this.#s.groupId, topics: [topic] })
        return offsets?.partitions.find((p) => p.partition === partition)?.offset ?? '-1'
      } catch (e) {
        throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot read committed offsets', { topic, partition })
      }
    })
    if (committed === (entry.committed ?? '-1')) return
    this.stats.continuityBreaks++
    this.#log.info(
      { topic, partition, committed, ours: entry.committed },
      'partition state dropped: the group committed past what this member did while it was away',
    )
    entry.owned = false
    entry.committed = null
    await this.#releaseKeys([key(topic, partition)])
  }

  /**
   * Commits past a batch of nothing but transaction markers, when the partition is owned, nothing of it
   * is in hand, and its last commit is behind. Best effort: a failure leaves a marker's worth of lag,
   * which the next part's commit covers.
   */
  async #commitMarkers(topic: string, partition: number, lastOffset: string): Promise<void> {
    const k = key(topic, partition)
    const entry = this.#entries.get(k)
    if (entry === undefined || !entry.owned || this.#inFlight.has(k)) return
    const next = (BigInt(lastOffset) + 1n).toString()
    if (entry.committed !== null && BigInt(entry.committed) >= BigInt(next)) return
    try {
      await this.#consumer?.commitOffsets([{ topic, partition, offset: next }])
      if (this.#entries.get(k) === entry && !this.#inFlight.has(k)) entry.committed = next
      this.#progressed()
    } catch {
      // Retried by the next part, or by the next marker-only batch.
    }
  }

  async #commit(topic: string, partition: number, offset: string): Promise<void> {
    const consumer = this.#consumer
    if (consumer === null) throw new RiskError('RISK_ERR_KAFKA', 'no consumer to commit with')
    try {
      await consumer.commitOffsets([{ topic, partition, offset }])
    } catch (e) {
      // Membership errors go to kafkajs as they are, so it rejoins; anything else is an outage to retry
      // by re-reading the part (its writes are idempotent).
      if (isMembershipError(e)) throw e
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot commit offsets', { topic, partition })
    }
  }
}

function lagAfter(highWatermark: string, nextOffset: string): number {
  const lag = BigInt(highWatermark) - BigInt(nextOffset)
  return lag > 0n ? Number(lag) : 0
}

/** For stages' own logs of a failure: a RiskError's fields, or the message of anything else. */
export function errorLog(e: unknown): Record<string, unknown> {
  return isRiskError(e) ? e.toLog() : { error: e instanceof Error ? e.message : String(e) }
}

/**
 * A stage: its handler methods, with the runner that drives them. Subclasses add what they do with a
 * part and any producers of their own (started before and stopped after the runner).
 */
export abstract class PartitionStage implements StageHandler {
  abstract readonly commits: 'runner' | 'stage'
  readonly runner: StageRunner

  constructor(settings: StageSettings, deps: StageDeps) {
    this.runner = new StageRunner(settings, this, deps)
  }

  abstract process(part: StagePart, ctx: StageContext): Promise<void>

  start(): Promise<void> {
    return this.runner.start()
  }

  stop(): Promise<void> {
    return this.runner.stop()
  }

  /** In its group, its last work succeeded, and nothing keeps it from progress. */
  get ready(): boolean {
    return this.runner.ready
  }

  health(): StageHealth {
    return this.runner.health()
  }
}

/** The timing every stage takes from the configuration; the session settings default as kafkajs's do. */
export interface StageTiming {
  readonly retryInitialMs: number
  readonly retryMaxMs: number
  readonly sessionTimeoutMs?: number
  readonly heartbeatIntervalMs?: number
  /** How often the subscribed topics are checked to still exist. */
  readonly topicCheckMs?: number
}

/**
 * Fetch sizes for a stage that must read all its partitions abreast (the rules stage, whose two input
 * topics are kept in step, rules/alignment.ts). kafkajs asks for every assigned partition in each fetch,
 * always in the same order, and the broker fills its answer in that order up to `maxBytes`: with 4 MB
 * per partition under kafkajs's 10 MB in all, the first two or three partitions asked for took every
 * fetch while the rest waited for them to drain, and the rules stage read some partitions' lifecycle
 * events 20 s after days of their sales. 1 MB per partition under 32 MB serves up to 32 partitions of
 * one broker in every fetch. Ingest and the sink keep 4 MB: they need no order across partitions, and
 * a fetch of every partition made ingest write the lifecycle topic's few new events as an insert of
 * their own per partition and round (`npm run bench:month`: ingest 6,000/s instead of 11,000/s while
 * the rules stage ran).
 */
export const ABREAST_FETCH = { maxBytesPerPartition: 1024 * 1024, maxBytes: 32 * 1024 * 1024 } as const

/** Runner settings from a stage's own (name, group, topics, sizes) and the shared timing. */
export function stageSettings(
  own: Pick<StageSettings, 'name' | 'groupId' | 'topics' | 'fromBeginning' | 'concurrency' | 'maxPartSize'> &
    Pick<Partial<StageSettings>, 'consumer'>,
  timing: StageTiming,
): StageSettings {
  const sessionTimeoutMs = timing.sessionTimeoutMs ?? 30_000
  return {
    ...own,
    sessionTimeoutMs,
    heartbeatIntervalMs: timing.heartbeatIntervalMs ?? 3_000,
    retryInitialMs: timing.retryInitialMs,
    retryMaxMs: timing.retryMaxMs,
    ...(timing.topicCheckMs === undefined ? {} : { topicCheckMs: timing.topicCheckMs }),
    // A part that has not moved for a whole session would have cost the membership without the ticker.
    stuckAfterMs: sessionTimeoutMs,
  }
}
