import { randomUUID } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import { asRiskError, RiskError } from '../lib/errors.ts'
import type { MerchantScoreState, Outcome, ScoredHit } from './model.ts'

/**
 * The scoring stage's state changelog (pos.scoring-state): a compacted topic holding, per merchant, a
 * head record (its score state without its hits, JSON) and one record per live hit, and, per partition,
 * a checkpoint record naming the hits-topic offset the state reflects. Partition p of the changelog
 * holds the state of partition p of the hits topic. Records are written in the same Kafka transaction
 * as the alerts and the consumer offsets, so the committed changelog, the published alerts and the
 * committed offsets always agree.
 *
 * Why a record per hit: a part writes what it changed, the merchant's head and the hits it added,
 * updated or forgot (a tombstone), not the merchant's whole state. A merchant holds up to hundreds of
 * live hits, each with its sample transactions; writing them all on every change made the changelog the
 * largest thing the service wrote, growing with a merchant's history.
 *
 * Earlier versions wrote the whole state, hits included, under the head's key. The restore still reads
 * such a record, and the stage writes every hit of a merchant restored from one on its next change,
 * before compaction drops the old record for the new head.
 */

/** Key of the checkpoint record; merchant keys never start with NUL. */
export const CHECKPOINT_KEY = '\u0000checkpoint'

export function stateKeyOf(acquirerId: string, merchantId: string): string {
  return `${acquirerId}\u0000${merchantId}`
}

/** Key of a hit's record: its merchant's key, NUL, the hit id. */
export function hitKeyOf(stateKey: string, hitId: string): string {
  return `${stateKey}\u0000${hitId}`
}

export function encodeCheckpoint(nextOffset: string): Buffer {
  return Buffer.from(JSON.stringify({ offset: nextOffset }), 'utf8')
}

/** A changelog record, before the stage adds its partition. */
export interface ChangelogRecord {
  key: string
  value: Buffer | null
}

/**
 * What a merchant's change writes: a record for each hit of `hitIds` (a tombstone for one the state no
 * longer holds) and, with `allHits` (a merchant restored from a whole-state record), for every hit the
 * state holds; then the head. A merchant the stage no longer holds gets a tombstone head.
 */
export function changelogRecords(
  key: string,
  state: MerchantScoreState | undefined,
  hitIds: ReadonlySet<string>,
  allHits = false,
): ChangelogRecord[] {
  if (state === undefined) return [{ key, value: null }]
  const out: ChangelogRecord[] = []
  const hitRecord = (id: string) => {
    const hit = state.hits.get(id)
    out.push({
      key: hitKeyOf(key, id),
      value: hit === undefined ? null : Buffer.from(JSON.stringify(hit), 'utf8'),
    })
  }
  for (const id of hitIds) hitRecord(id)
  if (allHits) for (const id of state.hits.keys()) if (!hitIds.has(id)) hitRecord(id)
  const head: MerchantHead = {
    acquirerId: state.acquirerId,
    merchantId: state.merchantId,
    watermark: state.watermark,
    fraud: state.fraud,
    compliance: state.compliance,
    casesOpened: state.casesOpened,
  }
  out.push({ key, value: Buffer.from(JSON.stringify(head), 'utf8') })
  return out
}

/**
 * What a part changed, merchant by merchant, for the changelog: the merchants whose state changed and,
 * for each, the hits whose records change (added, updated or forgotten).
 */
export class ChangedStates {
  readonly #hits = new Map<string, Set<string>>()

  /** A step's outcome for merchant `key`; `hitId` is the hit it applied (null for a decay pass). */
  note(key: string, outcome: Pick<Outcome, 'changed' | 'forgotten'>, hitId: string | null): void {
    if (!outcome.changed) return
    let hitIds = this.#hits.get(key)
    if (hitIds === undefined) {
      hitIds = new Set()
      this.#hits.set(key, hitIds)
    }
    if (hitId !== null) hitIds.add(hitId)
    for (const id of outcome.forgotten) hitIds.add(id)
  }

  /**
   * The records of every change noted, in the order noted. Merchants in `legacy` (restored from a
   * whole-state record) write all their hits and leave the set.
   */
  records(states: ReadonlyMap<string, MerchantScoreState>, legacy: Set<string>): ChangelogRecord[] {
    const out: ChangelogRecord[] = []
    for (const [key, hitIds] of this.#hits)
      out.push(...changelogRecords(key, states.get(key), hitIds, legacy.delete(key)))
    return out
  }
}

/** A merchant's state without its hits: what its head record holds. */
type MerchantHead = Omit<MerchantScoreState, 'hits'>

/**
 * A record's JSON object when it has every one of `keys`, else null. Written by this stage only; the
 * shape check keeps a corrupt record from crashing the scorer.
 */
function parseRecord(value: Buffer, keys: readonly string[]): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'))
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null
    for (const k of keys) if (!(k in parsed)) return null
    return parsed as Record<string, unknown>
  } catch {
    return null
  }
}

function parseCheckpoint(value: Buffer | null): bigint | null {
  const parsed = value === null ? null : parseRecord(value, ['offset'])
  return typeof parsed?.offset === 'string' ? BigInt(parsed.offset) : null
}

/** A head record, or a whole state as earlier versions wrote it (with `hits`); null when malformed. */
function parseHead(value: Buffer): (MerchantHead & { hits?: Record<string, ScoredHit> }) | null {
  const parsed = parseRecord(value, ['acquirerId', 'merchantId', 'fraud', 'compliance'])
  if (parsed === null) return null
  if ('hits' in parsed && (typeof parsed.hits !== 'object' || parsed.hits === null)) return null
  const s = parsed as unknown as MerchantHead & { hits?: Record<string, ScoredHit> }
  s.casesOpened ??= {}
  return s
}

function parseHit(value: Buffer): ScoredHit | null {
  return parseRecord(value, ['hitId', 'ruleId', 'detectedAt']) as ScoredHit | null
}

/** One partition's records folded as they are read: heads and hits apart, joined at the end. */
export class ChangelogFold {
  readonly heads = new Map<string, MerchantHead>()
  /** Hits per merchant: from hit records, or all of a whole-state record's. */
  readonly hits = new Map<string, Map<string, ScoredHit>>()
  /**
   * Merchants whose latest head is a whole state (an earlier version's record). The stage's first
   * change of such a merchant writes every hit it holds and a tombstone for each it forgot, so its hit
   * records then say what the whole state said, with or without the old record beside them.
   */
  readonly legacy = new Set<string>()
  checkpoint: bigint | null = null

  /** Takes one record; false when it did not parse (it is skipped). */
  take(key: string, value: Buffer | null): boolean {
    if (key === CHECKPOINT_KEY) {
      this.checkpoint = parseCheckpoint(value)
      return true
    }
    const cut = key.indexOf('\u0000', key.indexOf('\u0000') + 1)
    if (cut >= 0) {
      const merchant = key.slice(0, cut)
      const id = key.slice(cut + 1)
      if (value === null) {
        this.hits.get(merchant)?.delete(id)
        return true
      }
      const hit = parseHit(value)
      if (hit === null) return false
      let hits = this.hits.get(merchant)
      if (hits === undefined) {
        hits = new Map()
        this.hits.set(merchant, hits)
      }
      hits.set(id, hit)
      return true
    }
    if (value === null) {
      this.heads.delete(key)
      this.hits.delete(key)
      this.legacy.delete(key)
      return true
    }
    const head = parseHead(value)
    if (head === null) return false
    if (head.hits === undefined) {
      this.legacy.delete(key)
    } else {
      // A whole state: its hits are all the merchant had then.
      this.hits.set(key, new Map(Object.entries(head.hits)))
      this.legacy.add(key)
      delete head.hits
    }
    this.heads.set(key, head)
    return true
  }

  /** The merchants' states; a hit record without its merchant's head (none is written so) is dropped. */
  states(): Map<string, MerchantScoreState> {
    const out = new Map<string, MerchantScoreState>()
    for (const [key, head] of this.heads) {
      out.set(key, { ...head, hits: new Map(this.hits.get(key)) })
    }
    return out
  }
}

export interface RestoreRequest {
  partitions: readonly number[]
  /** Consumer group id prefix for the short-lived restore consumer. */
  groupPrefix: string
  timeoutMs: number
}

export interface Restored {
  states: Map<number, Map<string, MerchantScoreState>>
  /**
   * Per partition, the merchants restored from a whole-state record of an earlier version: their next
   * change writes all their hits (see changelogRecords).
   */
  legacy: Map<number, Set<string>>
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
  const folds = new Map<number, ChangelogFold>()
  for (const p of req.partitions) folds.set(p, new ChangelogFold())
  const counts = { records: 0, bad: 0 }
  const result = (): Restored => {
    const out: Restored = { states: new Map(), legacy: new Map(), checkpoints: new Map(), ...counts }
    for (const [p, fold] of folds) {
      out.states.set(p, fold.states())
      out.legacy.set(p, fold.legacy)
      out.checkpoints.set(p, fold.checkpoint)
    }
    return out
  }
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
    if (pending.size === 0) return result()
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
        const fold = folds.get(p)
        if (fold === undefined || !pending.has(p)) {
          consumer.pause([{ topic, partitions: [p] }])
          return
        }
        for (const m of batch.messages) {
          counts.records++
          if (!fold.take(m.key?.toString('utf8') ?? '', m.value)) counts.bad++
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
    return result()
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot restore the scoring state', { topic })
  } finally {
    await consumer.disconnect().catch(() => {})
    // The group was for this read only; leaving it behind would only clutter the broker.
    await admin.deleteGroups([groupId]).catch(() => {})
    await admin.disconnect().catch(() => {})
  }
}
