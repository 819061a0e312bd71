import type { Kafka, KafkaMessage, Producer } from 'kafkajs'
import { createProducer } from '../kafka/client.ts'
import type { EventCodec } from '../kafka/codec.ts'
import { DeadLetterWriter, type Rejected } from '../kafka/dlq.ts'
import {
  PartitionStage,
  STORE_FETCH,
  type StageContext,
  type StagePart,
  type StageTiming,
  stageSettings,
} from '../kafka/stage-runner.ts'
import type { RiskError } from '../lib/errors.ts'
import { LogLimiter } from '../lib/log-limiter.ts'
import type { Logger } from '../lib/logger.ts'
import { Turns } from '../lib/turns.ts'
import { instrumentProducer } from '../metrics/kafka.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { MERCHANT_EVENT, type SchemaName, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import type { StoredBatch } from '../schemas/stages.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import {
  checkEnvelope,
  type Validated,
  validateMerchantEvent,
  validateTransaction,
} from '../schemas/validate.ts'
import type { Store } from '../store/client.ts'
import { planMerchantEvents } from '../store/merchant-events.ts'
import { planTransactions } from '../store/transactions.ts'
import { TopicInstruments } from './instruments.ts'

export interface IngestSettings extends StageTiming {
  groupId: string
  topics: { transactions: string; merchantEvents: string }
  dlqSuffix: string
  maxBatchSize: number
  concurrency: number
  maxFutureSkewMs: number
  fromBeginning: boolean
  /** Time zone (IANA or offset) of an acquirer's merchants, for local days. */
  timeZoneOf: (acquirerId: string) => string
}

export interface IngestDeps {
  kafka: Kafka
  store: Store
  codec: EventCodec
  logger: Logger
  /** Wall clock for the future-skew check and DLQ timestamps; injected so tests control time. */
  now: () => number
  sleep: (ms: number) => Promise<void>
  /** The acquirers the deployment serves (acquirers/registry.ts); events of others are rejected. */
  acquirers: { isKnown: (acquirerId: string) => boolean }
  /** Where to count what the consumer does (metrics/metrics.ts); nothing is counted without it. */
  metrics?: Metrics
}

export interface IngestStats {
  consumed: number
  stored: number
  duplicates: number
  rejected: number
  rejectedByCode: Record<string, number>
  retries: number
  batches: number
}

interface Positioned<T> {
  value: T
  topic: string
  partition: number
  offset: string
}

/** A write whose duplicate check is done; `apply` stores the new rows (see store/insert-once.ts). */
type PlannedWrite = {
  inserted: number
  duplicates: number
  insertedIds: readonly string[]
  apply: () => Promise<void>
}

/** What differs between the two input topics: their schema, validation and table writer. */
interface TopicPipeline {
  schema: SchemaName
  /** A batch that validates records into the pipeline's own type and writes them with its writer. */
  open: (now: number) => PipelineBatch
}

interface PipelineBatch {
  /** Validates and keeps the record; returns the validation error instead when it is bad. */
  add: (record: unknown, position: Omit<Positioned<unknown>, 'value'>) => RiskError | null
  /** The duplicate check of the events added; the insert is the returned write's `apply`. */
  plan: () => Promise<PlannedWrite>
  /** The events among those added whose ids are new to the store (PlannedWrite.insertedIds). */
  stored: (insertedIds: readonly string[]) => StoredBatch
}

function pipeline<T>(
  schema: SchemaName,
  validate: (record: unknown, now: number) => Validated<T>,
  plan: (items: Positioned<T>[]) => Promise<PlannedWrite>,
  idOf: (value: T) => string,
  wrap: (items: T[]) => StoredBatch,
): TopicPipeline {
  return {
    schema,
    open: (now) => {
      const items: Positioned<T>[] = []
      return {
        add: (record, position) => {
          const v = validate(record, now)
          if (!v.ok) return v.error
          items.push({ ...position, value: v.value })
          return null
        },
        plan: () => plan(items),
        stored: (insertedIds) => {
          const ids = new Set(insertedIds)
          const out: T[] = []
          for (const i of items) {
            const id = idOf(i.value)
            // The first copy only: a batch may repeat an id, the store wrote it once.
            if (ids.delete(id)) out.push(i.value)
          }
          return wrap(out)
        },
      }
    },
  }
}

/**
 * The ingest stage: one consumer group on the transaction and merchant-event topics. For every part of a
 * Kafka batch (at most `maxBatchSize` messages): decode and validate each message, write the good ones to
 * ClickHouse and the bad ones to the dead-letter topic; the runner then commits the offsets. A crash at
 * any point replays at most the uncommitted part, and the store's idempotent writers make the replay
 * harmless. Retriable failures (ClickHouse down, DLQ produce failing) are retried with back-off while the
 * runner heartbeats, so the group keeps the partition and nothing is skipped.
 */
export class IngestStage extends PartitionStage {
  readonly commits = 'runner'
  readonly stats: IngestStats = {
    consumed: 0,
    stored: 0,
    duplicates: 0,
    rejected: 0,
    rejectedByCode: {},
    retries: 0,
    batches: 0,
  }
  readonly #deps: IngestDeps
  readonly #log: Logger
  /** At most 20 lines per rejection code a minute; the rest are counted (see LogLimiter). */
  readonly #rejections: LogLimiter
  readonly #producer: Producer
  readonly #dlq: DeadLetterWriter
  readonly #pipelines: Map<string, TopicPipeline>
  readonly #instruments = new Map<string, TopicInstruments>()

  constructor(settings: IngestSettings, deps: IngestDeps) {
    const topics = [settings.topics.transactions, settings.topics.merchantEvents]
    super(
      stageSettings(
        {
          name: 'ingest',
          groupId: settings.groupId,
          topics,
          fromBeginning: settings.fromBeginning,
          concurrency: settings.concurrency,
          maxPartSize: settings.maxBatchSize,
          consumer: STORE_FETCH,
        },
        settings,
      ),
      deps,
    )
    this.#deps = deps
    this.#log = deps.logger.child({ component: 'ingest' })
    this.#rejections = new LogLimiter({ perWindow: 20, windowMs: 60_000, now: deps.now })
    // Not idempotent: kafkajs wants unlimited retries for that, which would block the part (and its
    // heartbeats) while the broker is away. The runner's retry re-sends instead; a dead letter written
    // twice is harmless and recognisable by its x-dlq-source-* headers.
    this.#producer = createProducer(deps.kafka, { maxInFlightRequests: 1 })
    this.#dlq = new DeadLetterWriter(this.#producer, settings.dlqSuffix, deps.now)
    const tzOf = settings.timeZoneOf
    const skew = settings.maxFutureSkewMs
    const isKnownAcquirer = (id: string) => deps.acquirers.isKnown(id)
    this.#pipelines = new Map<string, TopicPipeline>([
      [
        settings.topics.transactions,
        pipeline<TerminalTransaction>(
          TERMINAL_TRANSACTION,
          (r, now) => validateTransaction(r, { now, maxFutureSkewMs: skew, isKnownAcquirer }),
          (items) =>
            planTransactions(
              deps.store,
              items.map((i) => ({ txn: i.value, topic: i.topic, partition: i.partition, offset: i.offset })),
              { timeZoneOf: tzOf, now: deps.now() },
            ),
          (t) => t.txn_id,
          (items) => ({ kind: 'transactions', items }),
        ),
      ],
      [
        settings.topics.merchantEvents,
        pipeline<MerchantEvent>(
          MERCHANT_EVENT,
          (r, now) => validateMerchantEvent(r, { now, maxFutureSkewMs: skew, isKnownAcquirer }),
          (items) =>
            planMerchantEvents(
              deps.store,
              items.map((i) => ({
                event: i.value,
                topic: i.topic,
                partition: i.partition,
                offset: i.offset,
              })),
              { timeZoneOf: tzOf, now: deps.now() },
            ),
          (e) => e.event_id,
          (items) => ({ kind: 'merchantEvents', items }),
        ),
      ],
    ])
    const metrics = deps.metrics
    if (metrics !== undefined) {
      for (const topic of this.#pipelines.keys())
        this.#instruments.set(topic, new TopicInstruments(metrics, topic))
      instrumentProducer(this.#producer, metrics, 'ingest-dlq')
    }
  }

  get lastFailure(): RiskError | null {
    return this.runner.lastFailure
  }

  override async start(): Promise<void> {
    await this.#producer.connect()
    await super.start()
  }

  /** Finishes the part in hand (written and committed), leaves the group, and disconnects. */
  override async stop(): Promise<void> {
    await super.stop()
    this.#reportSuppressed(true)
    await this.#producer.disconnect()
    this.stats.retries = this.runner.stats.retries
    this.#log.info({ stats: this.stats }, 'ingest stopped')
  }

  retried(topic: string, error: RiskError): void {
    this.#instruments.get(topic)?.retry(error.code)
  }

  release(topic: string, partitions: readonly number[]): void {
    this.#instruments.get(topic)?.released(partitions)
  }

  async process(part: StagePart, ctx: StageContext): Promise<void> {
    const { topic, partition, messages } = part
    const pipeline = this.#pipelines.get(topic)
    if (pipeline === undefined) throw new Error(`no pipeline for topic ${topic}`)
    const instruments = this.#instruments.get(topic)
    const started = performance.now()
    const { good, rejected } = await ctx.retry(() => this.#decode(pipeline, topic, partition, messages))
    const written = await ctx.retry(() => good.plan())
    const fresh = instruments !== undefined ? good.stored(written.insertedIds) : null
    await ctx.retry(() => written.apply())
    await ctx.retry(() => this.#dlq.send(rejected))

    // Counted before the runner's commit: a part whose commit then fails is read again and found stored,
    // so it counts as duplicates the second time, never twice as stored.
    this.stats.batches++
    this.stats.consumed += messages.length
    this.stats.stored += written.inserted
    this.stats.duplicates += written.duplicates
    this.stats.rejected += rejected.length
    this.stats.retries = this.runner.stats.retries
    instruments?.part({
      partition,
      messages: messages.length,
      stored: written.inserted,
      duplicates: written.duplicates,
      rejectedCodes: rejected.map((r) => r.error.code),
      lag: lagAfter(part.highWatermark, part.nextOffset),
      seconds: (performance.now() - started) / 1000,
      fresh,
      now: this.#deps.now(),
    })
    for (const r of rejected) {
      this.stats.rejectedByCode[r.error.code] = (this.stats.rejectedByCode[r.error.code] ?? 0) + 1
      if (this.#rejections.admit(r.error.code))
        this.#log.warn(
          { ...r.error.toLog(), topic: r.topic, partition: r.partition, offset: r.message.offset },
          'message rejected to the dead-letter topic',
        )
    }
    this.#reportSuppressed(false)
  }

  /** One line per code for the rejections not logged one by one (see LogLimiter). */
  #reportSuppressed(all: boolean): void {
    for (const { key, suppressed, windowMs } of this.#rejections.due(all))
      this.#log.warn(
        { code: key, suppressed, seconds: Math.round(windowMs / 1000) },
        'more messages rejected to the dead-letter topic than are logged one by one; each is on the dead-letter topic with its reason',
      )
  }

  /**
   * Decodes and validates a part. A retriable decode failure (the Schema Registry is down) throws, so the
   * whole part is retried; every other failure rejects just its message.
   */
  async #decode(
    pipeline: TopicPipeline,
    topic: string,
    partition: number,
    messages: readonly KafkaMessage[],
  ): Promise<{ good: PipelineBatch; rejected: Rejected[] }> {
    const good = pipeline.open(this.#deps.now())
    const rejected: Rejected[] = []
    const turns = new Turns()
    for (const message of messages) {
      if (turns.due()) await turns.take()
      // A card number in the key or a header rejects the message before its value is looked at.
      let error = checkEnvelope(message.key, message.headers)
      if (error === null) {
        const codec = this.#deps.codec
        const decoded =
          codec.decodeNow(pipeline.schema, message.value) ??
          (await codec.decode(pipeline.schema, message.value))
        if (!decoded.ok && decoded.error.retriable) throw decoded.error
        error = decoded.ok
          ? good.add(decoded.record, { topic, partition, offset: message.offset })
          : decoded.error
      }
      if (error === null) continue
      const r: Rejected = { topic, partition, message, error }
      // Whatever the reason, no card number goes to the DLQ (the writer masks key and headers itself).
      if (message.value !== null) {
        const copy = await this.#deps.codec.redactCardNumbers(pipeline.schema, message.value)
        if (copy !== message.value) r.replacementValue = copy
      }
      rejected.push(r)
    }
    return { good, rejected }
  }
}

/** Messages after the part up to the high watermark (the offset the next produced message gets). */
function lagAfter(highWatermark: string, nextOffset: string): number {
  const lag = BigInt(highWatermark) - BigInt(nextOffset)
  return lag > 0n ? Number(lag) : 0
}
