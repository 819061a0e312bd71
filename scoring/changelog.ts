import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { asRiskError, RiskError } from '../lib/errors.ts'
import type { MerchantScoreState } from './model.ts'

/**
 * The scoring stage's state changelog (pos.scoring-state): a compacted topic with one record per
 * merchant (its whole score state, JSON) and, per partition, a checkpoint record naming the hits-topic
 * offset the state reflects. Partition p of the changelog holds the state of partition p of the hits
 * topic. Records are written in the same Kafka transaction as the alerts and the consumer offsets, so
 * the committed changelog, the published alerts and the committed offsets always agree: reading the
 * changelog (read_committed) up to the checkpoint of the committed offset gives exactly the state that
 * processing up to that offset produced.
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
  /** Changelog partition → the hits-topic offset its checkpoint must reach (the committed offset). */
  targets: ReadonlyMap<number, bigint>
  /** Consumer group id prefix for the short-lived restore consumer. */
  groupPrefix: string
  timeoutMs: number
}

export interface Restored {
  states: Map<number, Map<string, MerchantScoreState>>
  records: number
  /** Records that did not parse and were skipped. */
  bad: number
}

/**
 * Reads changelog partitions from their start up to the checkpoint of each target offset. kafkajs has
 * no manual assignment, so a short-lived consumer group of one member subscribes to the changelog and
 * pauses every partition it does not need (or has finished). Throws RISK_ERR_KAFKA (retriable) when a
 * checkpoint is not reached in time.
 */
export async function restoreChangelog(kafka: Kafka, topic: string, req: RestoreRequest): Promise<Restored> {
  const states = new Map<number, Map<string, MerchantScoreState>>()
  for (const p of req.targets.keys()) states.set(p, new Map())
  const result: Restored = { states, records: 0, bad: 0 }
  const pending = new Set(req.targets.keys())
  if (pending.size === 0) return result

  const groupId = `${req.groupPrefix}.restore.${randomUUID()}`
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 200 })
  const admin = kafka.admin()
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    finish = resolve
  })
  try {
    await admin.connect()
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const p = batch.partition
        const target = req.targets.get(p)
        const map = states.get(p)
        if (target === undefined || map === undefined || !pending.has(p)) {
          consumer.pause([{ topic, partitions: [p] }])
          return
        }
        for (const m of batch.messages) {
          result.records++
          const key = m.key?.toString('utf8') ?? ''
          if (key === CHECKPOINT_KEY) {
            const offset = parseCheckpoint(m.value)
            if (offset !== null && offset >= target) {
              pending.delete(p)
              consumer.pause([{ topic, partitions: [p] }])
              if (pending.size === 0) finish()
              return
            }
            continue
          }
          if (m.value === null) {
            map.delete(key)
            continue
          }
          const state = parseState(m.value)
          if (state === null) result.bad++
          else map.set(key, state)
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
      throw new RiskError(
        'RISK_ERR_KAFKA',
        'the scoring state changelog did not reach its checkpoint in time',
        {
          context: { topic, partitions: [...pending].join(','), timeoutMs: req.timeoutMs },
        },
      )
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
