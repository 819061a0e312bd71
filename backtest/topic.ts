/**
 * A backtest's events from Kafka: a range of the transactions topic (and of the merchant-events topic)
 * on every partition, decoded with ingest's codec and validated as ingest validates, then merged across
 * partitions into one stream for the same replay as a file.
 *
 * Reading: kafkajs cannot assign partitions without a group, so the reader joins a group of its own
 * (`backtest-<random>`), seeks every partition to the start of its range, never commits an offset and
 * deletes the group at the end. A live consumer group is never touched: membership is per group id.
 * Each partition's range ends at most at its high-water mark when the backtest starts, so the run ends
 * while producers go on writing.
 *
 * Order: within a partition, Kafka keeps the order records were produced in, which is the order the
 * service sees; across partitions there is none. The partitions are merged by delivery time (the
 * simulator's `x-delivered-at` header on a late record, else the event time), then event time, then id:
 * the order a simulated file is written in (simulator/late.ts), so a topic replay of the simulator's
 * output equals the file replay of the same events. Each partition is read to a temporary file first,
 * so the merge holds one event per partition in memory, not the month.
 */

import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IHeaders, Kafka } from 'kafkajs'
import type { EventCodec } from '../kafka/codec.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import {
  EVERY_ACQUIRER,
  parseIsoInstant,
  type ValidateOptions,
  validateMerchantEvent,
  validateTransaction,
} from '../schemas/validate.ts'
import type { SimEvent } from '../simulator/history.ts'
import { deliveryOrder } from '../simulator/late.ts'
import { DELIVERED_AT_HEADER, type ReadStats, readEventsFile } from '../simulator/stream.ts'

/** One end of a range: an offset (the same on every partition) or a time (the records' Kafka timestamps). */
export type RangeBound = { offset: number } | { time: number }

/** `--from` / `--to`: a non-negative integer is an offset, anything else must be an ISO-8601 instant. */
export function parseBound(text: string): RangeBound {
  if (/^\d+$/.test(text)) {
    const offset = Number(text)
    if (!Number.isSafeInteger(offset)) throw new Error(`offset ${text} is too large`)
    return { offset }
  }
  const time = parseIsoInstant(text)
  if (time === null) throw new Error(`"${text}" is neither an offset nor an ISO-8601 time with a zone`)
  return { time }
}

/** The records [start, end) of one partition. */
export interface PartitionRange {
  topic: string
  partition: number
  start: number
  end: number
}

/**
 * The range of every partition of `topic`: from `from` (inclusive; the earliest offset by default) to
 * `to` (exclusive), never beyond the high-water mark read now. A time selects by Kafka timestamp: the
 * first record stamped at or after it.
 */
export async function resolveRanges(
  kafka: Kafka,
  topic: string,
  range: { from: RangeBound | null; to: RangeBound | null },
): Promise<PartitionRange[]> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    // kafkajs retries a missing topic for half a minute before it says so.
    if (!(await admin.listTopics()).includes(topic)) throw new Error(`topic ${topic} does not exist`)
    const offsets = await admin.fetchTopicOffsets(topic)
    const atTime = async (time: number) =>
      new Map(
        (await admin.fetchTopicOffsetsByTimestamp(topic, time)).map((p) => [p.partition, Number(p.offset)]),
      )
    const fromTime = range.from !== null && 'time' in range.from ? await atTime(range.from.time) : null
    const toTime = range.to !== null && 'time' in range.to ? await atTime(range.to.time) : null
    return offsets
      .map((p) => {
        const low = Number(p.low)
        const high = Number(p.high)
        const bound = (b: RangeBound | null, byTime: Map<number, number> | null, dflt: number) =>
          b === null ? dflt : 'offset' in b ? b.offset : (byTime?.get(p.partition) ?? high)
        const start = Math.min(high, Math.max(low, bound(range.from, fromTime, low)))
        const end = Math.max(start, Math.min(high, bound(range.to, toTime, high)))
        return { topic, partition: p.partition, start, end }
      })
      .sort((a, b) => a.partition - b.partition)
  } finally {
    await admin.disconnect()
  }
}

export interface TopicSource {
  /** The transactions topic: `from` and `to` select its records. */
  transactions: string
  /** The merchant-events (lifecycle) topic, read from its earliest offset, to `to` if a time; null reads none. */
  merchantEvents: string | null
  from: RangeBound | null
  to: RangeBound | null
}

export interface TopicReadStats extends ReadStats {
  /** Every partition's range, once resolved. */
  ranges: PartitionRange[]
}

/** Kafka's own errors carry no code of ours; a stuck read names the partitions it waits for. */
const STALL_MS = 120_000

/**
 * The events of the source's range, merged across partitions (see the top of the file). Records that
 * do not decode or validate are counted in `stats` with their place and reason (never their content)
 * and skipped, as ingest would dead-letter them.
 */
export async function* readTopicRange(
  kafka: Kafka,
  codec: EventCodec,
  source: TopicSource,
  stats: TopicReadStats,
): AsyncGenerator<SimEvent> {
  const range = { from: source.from, to: source.to }
  // Lifecycle events are the merchants' state, not traffic: read from the start, so that a merchant
  // onboarded before the range still has its profile; cut only at a time, which means the same on
  // both topics (an offset of the transactions topic says nothing about the other).
  const lifecycle = { from: null, to: source.to !== null && 'time' in source.to ? source.to : null }
  const ranges = [
    ...(await resolveRanges(kafka, source.transactions, range)),
    ...(source.merchantEvents === null ? [] : await resolveRanges(kafka, source.merchantEvents, lifecycle)),
  ]
  stats.ranges = ranges
  const dir = mkdtempSync(join(tmpdir(), 'backtest-topic-'))
  try {
    const files = await spill(kafka, codec, source, ranges, dir, stats)
    const spilled: ReadStats = { read: 0, rejected: 0, problems: [] }
    const readers = files.map((f) => readEventsFile(f, spilled))
    const heads: (SimEvent | undefined)[] = []
    for (const r of readers) heads.push((await r.next()).value ?? undefined)
    for (;;) {
      let best = -1
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i]
        const b = heads[best]
        if (h !== undefined && (b === undefined || deliveryOrder(h, b) < 0)) best = i
      }
      const next = heads[best]
      const reader = readers[best]
      if (next === undefined || reader === undefined) break
      yield next
      heads[best] = (await reader.next()).value ?? undefined
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Reads every partition's range into a file of its own (JSON lines, as simulated files); returns the files. */
async function spill(
  kafka: Kafka,
  codec: EventCodec,
  source: TopicSource,
  ranges: readonly PartitionRange[],
  dir: string,
  stats: TopicReadStats,
): Promise<string[]> {
  interface Reading {
    range: PartitionRange
    next: number
    out: WriteStream
    file: string
  }
  const key = (topic: string, partition: number) => `${topic}\u0000${partition}`
  const open = new Map<string, Reading>()
  const files: string[] = []
  for (const range of ranges) {
    if (range.end <= range.start) continue
    const file = join(dir, `${files.length}.jsonl`)
    files.push(file)
    open.set(key(range.topic, range.partition), {
      range,
      next: range.start,
      out: createWriteStream(file),
      file,
    })
  }
  const closeAll = async () => {
    for (const r of open.values()) {
      r.out.end()
      if (!r.out.closed) await once(r.out, 'close')
    }
  }
  if (open.size === 0) return files
  let waiting = open.size
  // A replay of the past, as for files: no event is "from the future", whatever the clock says; and
  // the acquirers are those of the labelled stream, not of a deployment.
  const opts = { now: 0, maxFutureSkewMs: Number.MAX_SAFE_INTEGER, isKnownAcquirer: EVERY_ACQUIRER }
  const groupId = `backtest-${randomBytes(6).toString('hex')}`
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false })
  let finish: () => void = () => {}
  let fail: (e: unknown) => void = () => {}
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve
    fail = reject
  })
  let progressAt = Date.now()
  const stall = setInterval(() => {
    if (Date.now() - progressAt < STALL_MS) return
    const behind = [...open.values()]
      .filter((r) => r.next < r.range.end)
      .map((r) => `${r.range.topic}[${r.range.partition}] at ${r.next} of ${r.range.end}`)
    fail(new Error(`no record for ${STALL_MS / 1000} s; still reading ${behind.join(', ')}`))
  }, 5_000)
  try {
    await consumer.connect()
    const topics = [source.transactions, ...(source.merchantEvents === null ? [] : [source.merchantEvents])]
    await consumer.subscribe({ topics, fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const r = open.get(key(batch.topic, batch.partition))
        if (r === undefined || r.next >= r.range.end) return
        progressAt = Date.now()
        // A failure ends the read: kafkajs would retry the batch, after part of it was counted.
        try {
          const lines: string[] = []
          for (const m of batch.messages) {
            const offset = Number(m.offset)
            // Before the seek took effect (a first fetch from the earliest offset), or past the range.
            if (offset < r.next || offset >= r.range.end) continue
            r.next = offset + 1
            stats.read++
            const isTxn = batch.topic === source.transactions
            const line = await decodeLine(codec, isTxn, m.value, m.headers, opts)
            if (typeof line === 'string') lines.push(line)
            else {
              stats.rejected++
              const where = `${batch.topic}[${batch.partition}]@${offset}`
              if (stats.problems.length < 5) stats.problems.push(`${where}: ${line.error}`)
            }
          }
          // Offsets without a record (transaction markers, compacted records) still count as read.
          const last = Number(batch.lastOffset())
          if (batch.firstOffset() !== null && last + 1 > r.next) r.next = Math.min(r.range.end, last + 1)
          if (lines.length > 0 && !r.out.write(`${lines.join('\n')}\n`)) await once(r.out, 'drain')
        } catch (e) {
          fail(e)
          return
        }
        if (r.next >= r.range.end) {
          waiting--
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }])
          if (waiting === 0) finish()
        }
      },
    })
    for (const r of open.values())
      consumer.seek({ topic: r.range.topic, partition: r.range.partition, offset: String(r.range.start) })
    await done
  } finally {
    clearInterval(stall)
    await consumer.disconnect()
    await closeAll()
    const admin = kafka.admin()
    try {
      await admin.connect()
      await admin.deleteGroups([groupId])
    } catch {
      // The group holds no offsets and expires on its own; deleting it is only tidiness.
    } finally {
      await admin.disconnect()
    }
  }
  return files
}

async function decodeLine(
  codec: EventCodec,
  isTransaction: boolean,
  value: Buffer | null,
  headers: IHeaders | undefined,
  opts: ValidateOptions,
): Promise<string | { error: string }> {
  const decoded = await codec.decode(isTransaction ? TERMINAL_TRANSACTION : MERCHANT_EVENT, value)
  if (!decoded.ok) {
    // An unreachable Schema Registry is not a bad record: the backtest cannot go on without it.
    if (decoded.error.retriable) throw decoded.error
    return { error: decoded.error.message }
  }
  const v = isTransaction
    ? validateTransaction(decoded.record, opts)
    : validateMerchantEvent(decoded.record, opts)
  if (!v.ok) return { error: v.error.message }
  const deliveredAt = headerNumber(headers?.[DELIVERED_AT_HEADER])
  return JSON.stringify({
    topic: isTransaction ? 'transactions' : 'merchantEvents',
    value: v.value,
    ...(deliveredAt === null ? {} : { deliveredAt }),
  })
}

function headerNumber(h: Buffer | string | (Buffer | string)[] | undefined): number | null {
  const first = Array.isArray(h) ? h[0] : h
  if (first === undefined) return null
  const n = Number(first.toString())
  return Number.isSafeInteger(n) ? n : null
}
