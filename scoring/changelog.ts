import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { asRiskError, RiskError } from '../lib/errors.ts'
import type { MerchantScoreState } from './model.ts'

/**
 * The scoring stage's state changelog (pos.scoring-state): a compacted topic with one record per
 * merchant (its whole score state, JSON) and, per partition, a checkpoint record naming the hits-topic
 * offset the state reflects. Partition p of the changelog holds the state of partition p of the hits
 * topic. Records are written in the same Kafka transaction as the alerts and the consumer offsets, so
 * the committed changelog, the published alerts and the committed offsets always agree.
 */

/** Key of the checkpoint record; merchant keys never start with NUL. */
export const CHECKPOINT_KEY = '\u0000checkpoint'

export function stateKeyOf(acquirerId: string, merchantId: string): string {
  return `${acquirerId}\u0000${merchantId}`
}

export function encodeCheckpoint(nextOffset: string): Buffer {
  return Buffer.from(JSON.stringify({ offset: nextOffset }), 'utf8')
}

function parseCheckpoint(value: Buffer | null): bigint | null {
  if (value === null) return null
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'))
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'offset' in parsed &&
      typeof parsed.offset === 'string'
    )
      return BigInt(parsed.offset)
  } catch {}
  return null
}

function parseState(value: Buffer): MerchantScoreState | null {
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'))
    // Written by this stage only; a shape check keeps a corrupt record from crashing the scorer.
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'acquirerId' in parsed &&
      'merchantId' in parsed &&
      'hits' in parsed &&
      'fraud' in parsed &&
      'compliance' in parsed
    ) {
      const s: MerchantScoreState = JSON.parse(value.toString('utf8'))
      s.casesOpened ??= {}
      return s
    }
  } catch {}
  return null
}

export interface RestoreRequest {
  partitions: readonly number[]
  /** Consumer group id prefix for the short-lived restore consumer. */
  groupPrefix: string
  timeoutMs: number
}

export interface Restored {
  states: Map<number, Map<string, MerchantScoreState>>
  /** Per partition, the hits-topic offset of the last checkpoint read (null when none). */
  checkpoints: Map<number, bigint | null>
  records: number
  /** Records that did not parse and were skipped. */
  bad: number
}

/**
 * Reads changelog partitions from their start to their end: the newest committed state. The caller
 * must have started the partition's transactional producer first, so that no transaction an earlier
 * writer began is left open while this reads.
 *
 * kafkajs has no manual assignment, so a short-lived consumer group of one member subscribes to the
 * changelog and pauses the partitions it does not need. The end is where a fetched batch reaches the
 * high watermark; that is watched through the consumer's END_BATCH_PROCESS events, which also fire for
 * batches holding only transaction markers or aborted records, which never reach eachBatch.
 *
 * Reading to the end rather than to the committed offset's checkpoint makes a replay safe too: after an
 * operator rewinds the group, the old hits meet a state that already holds them and change nothing.
 * Throws RISK_ERR_KAFKA (retriable) when the end is not reached in time.
 */
export async function restoreChangelog(kafka: Kafka, topic: string, req: RestoreRequest): Promise<Restored> {
  const states = new Map<number, Map<string, MerchantScoreState>>()
  const checkpoints = new Map<number, bigint | null>()
  for (const p of req.partitions) {
    states.set(p, new Map())
    checkpoints.set(p, null)
  }
  const result: Restored = { states, checkpoints, records: 0, bad: 0 }
  const wanted = new Set(req.partitions)
  const admin = kafka.admin()
  const groupId = `${req.groupPrefix}.restore.${randomUUID()}`
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 200 })
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  const pending = new Set<number>()
  const done = (p: number) => {
    pending.delete(p)
    consumer.pause([{ topic, partitions: [p] }])
    if (pending.size === 0) finish()
  }
  try {
    await admin.connect()
    for (const o of await admin.fetchTopicOffsets(topic)) {
      // An empty partition (never written, or nothing left after retention) has nothing to read.
      if (wanted.has(o.partition) && o.high !== o.low) pending.add(o.partition)
    }
    if (pending.size === 0) return result
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const p = e.payload.partition
      if (e.payload.topic === topic && pending.has(p) && BigInt(e.payload.offsetLag) <= 0n) done(p)
    })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const p = batch.partition
        const map = states.get(p)
        if (map === undefined || !pending.has(p)) {
          consumer.pause([{ topic, partitions: [p] }])
          return
        }
        for (const m of batch.messages) {
          result.records++
          const key = m.key?.toString('utf8') ?? ''
          if (key === CHECKPOINT_KEY) {
            checkpoints.set(p, parseCheckpoint(m.value))
          } else if (m.value === null) {
            map.delete(key)
          } else {
            const state = parseState(m.value)
            if (state === null) result.bad++
            else map.set(key, state)
          }
        }
      },
    })
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), req.timeoutMs)
    })
    const outcome = await Promise.race([finished.then(() => 'done' as const), timedOut])
    clearTimeout(timer)
    if (outcome === 'timeout') {
      throw new RiskError('RISK_ERR_KAFKA', 'the scoring state changelog was not read to its end in time', {
        context: { topic, partitions: [...pending].join(','), timeoutMs: req.timeoutMs },
      })
    }
    return result
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot restore the scoring state', { topic })
  } finally {
    await consumer.disconnect().catch(() => {})
    // The group was for this read only; leaving it behind would only clutter the broker.
    await admin.deleteGroups([groupId]).catch(() => {})
    await admin.disconnect().catch(() => {})
  }
}
