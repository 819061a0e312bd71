import {
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  Partitioners,
  type Producer,
} from 'kafkajs'
import type { EventCodec } from '../kafka/codec.ts'
import { DeadLetterWriter, type Rejected } from '../kafka/dlq.ts'
import { type Membership, watchMembership } from '../kafka/membership.ts'
import type { RiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { retryWhileRetriable } from '../lib/retry.ts'
import { instrumentConsumer, instrumentProducer } from '../metrics/kafka.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { MERCHANT_EVENT, type SchemaName, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import type { Store } from '../store/client.ts'
import { planMerchantEvents } from '../store/merchant-events.ts'
import { planTransactions } from '../store/transactions.ts'
import { TopicInstruments } from './instruments.ts'
import { checkEnvelope, type Validated, validateMerchantEvent, validateTransaction } from './validate.ts'

export interface IngestSettings {
  groupId: string
  topics: { transactions: string; merchantEvents: string }
  dlqSuffix: string
  maxBatchSize: number
  concurrency: number
  maxFutureSkewMs: number
  retryInitialMs: number
  retryMaxMs: number
  fromBeginning: boolean
  /** Time zone (IANA or offset) of an acquirer's merchants, for local days. */
  timeZoneOf: (acquirerId: string) => string
}

/** Events that the store accepted as new, from one part of one partition's batch. */
export type StoredBatch =
  | { readonly kind: 'transactions'; readonly items: readonly TerminalTransaction[] }
  | { readonly kind: 'merchantEvents'; readonly items: readonly MerchantEvent[] }

/**
 * A stage that consumes what ingest stored (the rule engine). It sees every new event exactly once:
 * replays and re-produced events are dropped by the store before they reach it.
 */
export interface StoredEventSink {
  /** Before the first batch of a partition: rebuild state. Retried while it throws retriable errors. */
  prepare(topic: string, partition: number): Promise<void>
  /** Applies new events; pure and synchronous, so it runs exactly once per event. */
  process(batch: StoredBatch, partition: number): void
  /** Persists what `process` produced (rule hits); retried until it succeeds, before the commit. */
  flush(): Promise<void>
  /**
   * Partitions this instance no longer owns, or whose last part failed after `process`: their state can
   * go, and `prepare` rebuilds it from the store before their next batch.
   */
  revoked(topic: string, partitions: readonly number[]): void
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
  /** Downstream stage fed with the stored events; none by default. */
  sink?: StoredEventSink
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
 * The ingest consumer: one consumer group on the transaction and merchant-event topics. For every
 * Kafka batch, in parts of at most `maxBatchSize` messages: decode and validate each message, write
 * the good ones to ClickHouse and the bad ones to the dead-letter topic, and only then commit the
 * offsets. A crash at any point replays at most the uncommitted part, and the store's idempotent
 * writers make the replay harmless. Retriable failures (ClickHouse down, DLQ produce failing) are
 * retried with back-off while heartbeating, so the group keeps the partition and nothing is skipped.
 */
export class IngestConsumer {
  readonly stats: IngestStats = {
    consumed: 0,
    stored: 0,
    duplicates: 0,
    rejected: 0,
    rejectedByCode: {},
    retries: 0,
    batches: 0,
  }
  readonly #settings: IngestSettings
  readonly #deps: IngestDeps
  readonly #log: Logger
  readonly #consumer: Consumer
  readonly #producer: Producer
  readonly #dlq: DeadLetterWriter
  readonly #pipelines: Map<string, TopicPipeline>
  readonly #instruments = new Map<string, TopicInstruments>()
  #running = false
  #membership: Membership = { joined: false }
  #failing: RiskError | null = null
  #assignment = new Map<string, number[]>()

  constructor(settings: IngestSettings, deps: IngestDeps) {
    this.#settings = settings
    this.#deps = deps
    this.#log = deps.logger.child({ component: 'ingest' })
    this.#consumer = deps.kafka.consumer({
      groupId: settings.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: 4 * 1024 * 1024,
    })
    // Not idempotent: kafkajs wants unlimited retries for that, which would block the batch (and its
    // heartbeats) while the broker is away. Our own retry loop re-sends instead; a dead letter written
    // twice is harmless and recognisable by its x-dlq-source-* headers.
    this.#producer = deps.kafka.producer({
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
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
      instrumentConsumer(this.#consumer, metrics, 'ingest')
      instrumentProducer(this.#producer, metrics, 'ingest-dlq')
    }
  }

  /** Joined its group and no write is currently failing. */
  get ready(): boolean {
    return this.#running && this.#membership.joined && this.#failing === null
  }

  get lastFailure(): RiskError | null {
    return this.#failing
  }

  async start(): Promise<void> {
    this.#membership = watchMembership(this.#consumer, this.#log, 'consumer', (assignment) => {
      for (const [topic, instruments] of this.#instruments) {
        instruments.assigned(assignment[topic] ?? [])
      }
      const sink = this.#deps.sink
      if (sink !== undefined) {
        const owned = assignment
        for (const [topic, previous] of this.#assignment) {
          const now = new Set(owned[topic] ?? [])
          const gone = previous.filter((p) => !now.has(p))
          if (gone.length > 0) sink.revoked(topic, gone)
        }
        this.#assignment = new Map(Object.entries(owned))
      }
      this.#log.info({ assignment }, 'joined consumer group')
    })
    await this.#producer.connect()
    await this.#consumer.connect()
    await this.#consumer.subscribe({
      topics: [...this.#pipelines.keys()],
      fromBeginning: this.#settings.fromBeginning,
    })
    this.#running = true
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#settings.concurrency,
      eachBatch: (payload) => this.#eachBatch(payload),
    })
  }

  /** Finishes the batch in hand (written and committed), leaves the group, and disconnects. */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    await this.#consumer.disconnect()
    await this.#producer.disconnect()
    this.#log.info({ stats: this.stats }, 'ingest stopped')
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload
    const pipeline = this.#pipelines.get(batch.topic)
    if (pipeline === undefined) throw new Error(`no pipeline for topic ${batch.topic}`)
    const instruments = this.#instruments.get(batch.topic)
    const size = this.#settings.maxBatchSize
    for (let i = 0; i < batch.messages.length; i += size) {
      if (!isRunning() || isStale()) return
      const started = performance.now()
      const part = batch.messages.slice(i, i + size)
      const keepGoing = () => isRunning() && !isStale()
      const retry = {
        initialMs: this.#settings.retryInitialMs,
        maxMs: this.#settings.retryMaxMs,
        shouldContinue: keepGoing,
        sleep: this.#deps.sleep,
        onRetry: async (error: RiskError, attempt: number, delayMs: number) => {
          this.#failing = error
          this.stats.retries++
          instruments?.retry(error.code)
          this.#log.warn(
            { ...error.toLog(), attempt, delayMs, topic: batch.topic, partition: batch.partition },
            'retrying',
          )
          await heartbeat()
        },
      }
      const sink = this.#deps.sink
      if (sink !== undefined)
        await retryWhileRetriable(() => sink.prepare(batch.topic, batch.partition), retry)
      const { good, rejected } = await retryWhileRetriable(
        () => this.#decode(pipeline, batch.topic, batch.partition, part),
        retry,
      )
      const written = await retryWhileRetriable(() => good.plan(), retry)
      const fresh = sink !== undefined || instruments !== undefined ? good.stored(written.insertedIds) : null
      const insert = () => retryWhileRetriable(() => written.apply(), retry)
      if (sink !== undefined && fresh !== null) {
        // The duplicate check has told which events are new: the rules take them now, once, and their
        // hits are flushed while the insert runs, since neither needs the other. Only the insert and
        // the flush are retried. If either gives up, the part will be read again and its events may
        // still be new to the store, so the rule state they went into is dropped, to be rebuilt from
        // what was stored (as after a crash).
        sink.process(fresh, batch.partition)
        try {
          await settleAll([insert(), retryWhileRetriable(() => sink.flush(), retry)])
        } catch (e) {
          sink.revoked(batch.topic, [batch.partition])
          throw e
        }
      } else await insert()
      await retryWhileRetriable(() => this.#dlq.send(rejected), retry)
      this.#failing = null

      const last = part[part.length - 1]
      if (last === undefined) continue
      resolveOffset(last.offset)
      await this.#consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
      ])

      // Counted as soon as it is committed: a heartbeat failing next (the broker going away) must not
      // leave a stored and committed part out of the stats and metrics.
      this.stats.batches++
      this.stats.consumed += part.length
      this.stats.stored += written.inserted
      this.stats.duplicates += written.duplicates
      this.stats.rejected += rejected.length
      instruments?.part({
        partition: batch.partition,
        messages: part.length,
        stored: written.inserted,
        duplicates: written.duplicates,
        rejectedCodes: rejected.map((r) => r.error.code),
        lag: partitionLag(batch.highWatermark, last.offset),
        seconds: (performance.now() - started) / 1000,
        fresh,
        now: this.#deps.now(),
      })
      for (const r of rejected) {
        this.stats.rejectedByCode[r.error.code] = (this.stats.rejectedByCode[r.error.code] ?? 0) + 1
        this.#log.warn(
          { ...r.error.toLog(), topic: r.topic, partition: r.partition, offset: r.message.offset },
          'message rejected to the dead-letter topic',
        )
      }
      await heartbeat()
    }
  }

  /**
   * Decodes and validates a part of a batch. A retriable decode failure (the Schema Registry is down)
   * throws, so the whole part is retried; every other failure rejects just its message.
   */
  async #decode(
    pipeline: TopicPipeline,
    topic: string,
    partition: number,
    messages: KafkaMessage[],
  ): Promise<{ good: PipelineBatch; rejected: Rejected[] }> {
    const good = pipeline.open(this.#deps.now())
    const rejected: Rejected[] = []
    for (const message of messages) {
      // A card number in the key or a header rejects the message before its value is looked at.
      let error = checkEnvelope(message.key, message.headers)
      if (error === null) {
        const decoded = await this.#deps.codec.decode(pipeline.schema, message.value)
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

/** Messages after `offset` up to the high watermark (the offset the next produced message gets). */
function partitionLag(highWatermark: string, offset: string): number {
  const lag = BigInt(highWatermark) - BigInt(offset) - 1n
  return lag > 0n ? Number(lag) : 0
}

/** Waits for every promise, then throws the first failure: no retry loop is left running behind. */
async function settleAll(work: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(work)
  for (const r of results) if (r.status === 'rejected') throw r.reason
}
