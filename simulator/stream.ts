/**
 * Where a simulated history goes: a file of JSON lines (`{ "topic": ..., "value": ... }` in delivery
 * order, gzip when the name ends in .gz; a late event also has `"deliveredAt"`), or the service's Kafka
 * topics as framed Avro at a target rate (a late record with its delivery time in the
 * `x-delivered-at` header). The backtest reads the same file back, validating every event as ingest does.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import { type Kafka, type Message, Partitioners } from 'kafkajs'
import { type EventCodec, valueSubject } from '../kafka/codec.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import { EVERY_ACQUIRER, validateMerchantEvent, validateTransaction } from '../schemas/validate.ts'
import type { SimEvent } from './history.ts'

/**
 * Header of a record the simulator delivers late: the simulated time (epoch ms) it reached the acquirer.
 * The Kafka timestamp cannot carry it: it is the real time of production, and a simulated month in the
 * past as record timestamps would fall to the topic's time-based retention at once.
 */
export const DELIVERED_AT_HEADER = 'x-delivered-at'

/** Called now and then on long runs with the events written so far and the event time reached. */
export type Progress = (done: number, eventTime: number) => void

/** Writes the events as JSON lines; returns how many. */
export async function writeEventsFile(
  path: string,
  events: Iterable<SimEvent>,
  progress?: Progress,
): Promise<number> {
  const file = createWriteStream(path)
  const gzip = path.endsWith('.gz') ? createGzip({ level: 4 }) : null
  const out: Writable = gzip ?? file
  if (gzip !== null) gzip.pipe(file)
  let n = 0
  let chunk: string[] = []
  const flush = async () => {
    if (chunk.length === 0) return
    // Respect back-pressure: a month is hundreds of MB of text.
    if (!out.write(`${chunk.join('\n')}\n`)) await new Promise((r) => out.once('drain', r))
    chunk = []
  }
  for (const e of events) {
    chunk.push(JSON.stringify(e))
    n++
    if (chunk.length >= 5000) {
      await flush()
      progress?.(n, e.value.event_time)
    }
  }
  await flush()
  out.end()
  await finished(file)
  return n
}

export interface ReadStats {
  read: number
  /** Lines that are not a valid event (bad JSON, unknown topic, failed validation); never replayed. */
  rejected: number
  /** The first few reasons, for the report. */
  problems: string[]
}

/**
 * Reads an events file back, validating each event with ingest's own validation (so a hand-edited
 * file cannot feed the engine what the service would dead-letter, such as a raw card number).
 */
export async function* readEventsFile(path: string, stats: ReadStats): AsyncGenerator<SimEvent> {
  const raw: Readable = createReadStream(path)
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
  // The file is a replay of the past: no event is "from the future", whatever the clock says; and its
  // acquirers are those of the labelled stream, not of a deployment.
  const opts = { now: 0, maxFutureSkewMs: Number.MAX_SAFE_INTEGER, isKnownAcquirer: EVERY_ACQUIRER }
  const reject = (why: string) => {
    stats.rejected++
    if (stats.problems.length < 5) stats.problems.push(`line ${stats.read}: ${why}`)
  }
  for await (const line of lines) {
    if (line.trim() === '') continue
    stats.read++
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      reject('not JSON')
      continue
    }
    if (typeof parsed !== 'object' || parsed === null || !('topic' in parsed) || !('value' in parsed)) {
      reject('expected { "topic", "value" }')
      continue
    }
    const late =
      'deliveredAt' in parsed && typeof parsed.deliveredAt === 'number' && Number.isFinite(parsed.deliveredAt)
        ? { deliveredAt: parsed.deliveredAt }
        : {}
    if (parsed.topic === 'transactions') {
      const v = validateTransaction(parsed.value, opts)
      if (!v.ok) reject(v.error.message)
      else yield { topic: 'transactions', value: v.value, ...late }
    } else if (parsed.topic === 'merchantEvents') {
      const v = validateMerchantEvent(parsed.value, opts)
      if (!v.ok) reject(v.error.message)
      else yield { topic: 'merchantEvents', value: v.value, ...late }
    } else reject(`unknown topic ${JSON.stringify(parsed.topic)}`)
  }
}

export interface ProduceOptions {
  topics: { transactions: string; merchantEvents: string }
  /** Events per second; null: as fast as the broker takes them. */
  ratePerSecond: number | null
  /** Messages per produce request. */
  batchSize?: number
  progress?: Progress
  /** Injected for tests; the real clock and timers by default. */
  now?: () => number
  sleep?: (ms: number) => Promise<void>
}

/**
 * Produces the events to the service's topics as framed Avro keyed by merchant (the path real terminal
 * gateways take), in order, at the target rate. Lifecycle events and transactions go in separate
 * requests but keep their relative order, so a merchant is onboarded before its first sale arrives.
 */
export async function produceEvents(
  kafka: Kafka,
  codec: EventCodec,
  events: Iterable<SimEvent> | AsyncIterable<SimEvent>,
  opts: ProduceOptions,
): Promise<number> {
  const now = opts.now ?? Date.now
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const producer = kafka.producer({
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  const batchSize =
    opts.batchSize ??
    (opts.ratePerSecond === null ? 2000 : Math.max(1, Math.min(2000, Math.ceil(opts.ratePerSecond / 10))))
  const started = now()
  let sent = 0
  let batch: { topic: 'transactions' | 'merchantEvents'; messages: Message[] } | null = null
  let lastTime = 0
  const send = async () => {
    if (batch === null || batch.messages.length === 0) return
    await producer.send({ topic: opts.topics[batch.topic], messages: batch.messages })
    sent += batch.messages.length
    batch = null
    opts.progress?.(sent, lastTime)
    if (opts.ratePerSecond !== null) {
      const due = started + (sent / opts.ratePerSecond) * 1000
      const wait = due - now()
      if (wait > 0) await sleep(wait)
    }
  }
  try {
    for await (const e of events) {
      if (batch !== null && (batch.topic !== e.topic || batch.messages.length >= batchSize)) await send()
      const value =
        e.topic === 'transactions'
          ? await codec.encode(TERMINAL_TRANSACTION, e.value, 'avro', {
              subject: valueSubject(opts.topics.transactions),
            })
          : await codec.encode(MERCHANT_EVENT, e.value, 'avro', {
              subject: valueSubject(opts.topics.merchantEvents),
            })
      batch ??= { topic: e.topic, messages: [] }
      batch.messages.push(
        e.deliveredAt === undefined
          ? { key: e.value.merchant_id, value }
          : { key: e.value.merchant_id, value, headers: { [DELIVERED_AT_HEADER]: String(e.deliveredAt) } },
      )
      lastTime = e.value.event_time
    }
    await send()
  } finally {
    await producer.disconnect()
  }
  return sent
}
