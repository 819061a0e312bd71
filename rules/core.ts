import type { DecodeResult, EventCodec } from '../kafka/codec.ts'
import { RiskError } from '../lib/errors.ts'
import { MERCHANT_EVENT, RULE_HIT, TERMINAL_TRANSACTION } from '../schemas/contract.ts'
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { type ValidateOptions, validateMerchantEvent, validateTransaction } from '../schemas/validate.ts'
import { merchantOrder } from './by-merchant.ts'
import type { HitUpdate, RuleEngine } from './engine/engine.ts'
import {
  type ActivityRecord,
  applyMerchantEvent,
  cardActivityOf,
  encodeActivities,
  entityKeyOf,
  entityPartitioner,
} from './entity/activity.ts'
import { ruleHitOf } from './hits.ts'

/** An event that passed validation, with its id. */
type Valid =
  | { kind: 'transactions'; id: string; value: TerminalTransaction }
  | { kind: 'merchantEvents'; id: string; value: MerchantEvent }

/** Event time between two sweeps of idle merchants: the sweep walks every merchant. */
const EVICT_EVERY_MS = 3_600_000

/** A part of one input topic, as the rules stage hands it over (its records' envelopes already checked). */
export interface PartInput {
  readonly transactions: boolean
  /** The values of the records whose key and headers carry no card number, in offset order. */
  readonly values: readonly (Buffer | null)[]
  /** Each value's time for validation: its record's Kafka timestamp, or the clock where it has none. */
  readonly stamps: ArrayLike<number>
  /** Partitions of the entity-activity topic: the part's activity goes out as one message per partition. */
  readonly activityPartitions: number
}

/** A keyed message body, ready to produce. */
export interface Keyed {
  readonly key: string
  readonly value: Buffer
}

/** The part's activity records bound for one partition of the entity-activity topic, as one message. */
export interface ActivityBatch {
  readonly partition: number
  readonly records: number
  readonly value: Buffer
}

/** What a part did to the rules' state, and what the stage publishes for it. */
export interface AppliedPart {
  /** Valid events read (duplicates included). */
  readonly events: number
  /** Values ingest dead-letters (undecodable, invalid), skipped. */
  readonly invalid: number
  /** The same event read again, applied once. */
  readonly duplicates: number
  /** The last update of each hit the part changed, encoded for the rule-hits topic, keyed by merchant. */
  readonly hits: readonly Keyed[]
  /** Rule and category of each of `hits`, in the same order (metrics). */
  readonly hitRules: readonly (readonly [ruleId: string, category: string])[]
  /** The part's entity activity, one message per partition of the entity-activity topic it goes to. */
  readonly activity: readonly ActivityBatch[]
  /** Idle merchants dropped by the sweep this part ran, if it ran one. */
  readonly evicted: number
  /** Rule timings sampled while the part ran (rule id, seconds), for the metrics of the thread that has them. */
  readonly timings: readonly (readonly [ruleId: string, seconds: number])[]
  readonly state: CoreState
}

/** How far the rules' state has come, after the last call. */
export interface CoreState {
  readonly latestEventTime: number
  readonly merchants: number
  readonly retentionDays: number
}

/** A stored event, as a rebuild replays it. */
export type StoredEvent =
  | { readonly kind: 'transactions'; readonly value: TerminalTransaction }
  | { readonly kind: 'merchantEvents'; readonly value: MerchantEvent }

/**
 * The rules stage's state and its work on it, behind an asynchronous interface so that it can live on
 * another thread (rules/worker-client.ts) or on the stage's own (LocalRules). A partition number's state
 * is usable only between `load` and `forget`: `apply` on any other partition throws a retriable
 * RISK_ERR_RULES_WORKER, and the stage rebuilds the partition (a worker that died lost every partition).
 */
export interface RulesCoreApi {
  apply(partition: number, part: PartInput): Promise<AppliedPart>
  /** Replays stored events of a partition being rebuilt (in event-time order, as rebuilt). */
  replay(partition: number, events: readonly StoredEvent[]): Promise<void>
  /** The partition's state is complete: parts may be applied to it. */
  load(partition: number): Promise<void>
  /** Drops a partition's merchants and remembered ids; the number of merchants dropped. */
  forget(partition: number): Promise<number>
  /** The engine's counters, for the stop log. */
  stats(): Promise<Record<string, number>>
  /** The latest state reported (latest event time, merchants, widest window). */
  readonly state: CoreState
}

export interface RulesCoreOptions {
  engine: RuleEngine
  codec: EventCodec
  acquirers: { isKnown: (acquirerId: string) => boolean }
  /** As ingest's: an event further ahead of its Kafka timestamp is not an event (ingest dead-letters it). */
  maxFutureSkewMs: number
  /** Events this far behind their merchant's latest change no rule state, and need no de-duplication. */
  allowedLatenessMs: number
  /** Rule timings sampled since the last part, taken by `apply` (the engine's ruleTiming writes here). */
  timings?: [string, number][]
  /**
   * The activity records the cross-merchant rules can use (EntityEngine.wants, activityWanted): only
   * those are published. Every record when absent.
   */
  wantsActivity?: (r: ActivityRecord) => boolean
}

/**
 * The rule engine with what the stage keeps beside it: the decode and validation of what it reads (what
 * ingest dead-letters is skipped), the ids of recent events per merchant (the same event produced twice
 * reaches the engine once), each merchant's partition (so a partition's state can be dropped), and the
 * sweep of idle merchants. Runs wherever it is put: on the stage's thread, or in the rules worker.
 */
export class RulesCore {
  readonly #opts: RulesCoreOptions
  /** Recent event ids and the partition of each merchant the engine holds. */
  readonly #seen = new RecentIds()
  readonly #loaded = new Set<number>()
  #latest = Number.NEGATIVE_INFINITY
  #lastEviction = Number.NEGATIVE_INFINITY
  #partitioners = new Map<number, (key: string) => number>()

  readonly #validateOpts: ValidateOptions

  constructor(opts: RulesCoreOptions) {
    this.#opts = opts
    const acquirers = opts.acquirers
    this.#validateOpts = {
      now: 0,
      maxFutureSkewMs: opts.maxFutureSkewMs,
      isKnownAcquirer: (id: string) => acquirers.isKnown(id),
    }
  }

  get state(): CoreState {
    const e = this.#opts.engine
    return { latestEventTime: e.latestEventTime, merchants: e.merchantCount, retentionDays: e.retentionDays }
  }

  async apply(partition: number, part: PartInput): Promise<AppliedPart> {
    if (!this.#loaded.has(partition))
      throw new RiskError('RISK_ERR_RULES_WORKER', 'no rule state for this partition: it is rebuilt', {
        context: { partition },
      })
    const engine = this.#opts.engine
    const hits: HitUpdate[] = []
    const activity = new Map<number, ActivityRecord[]>()
    const partitionOf = this.#partitioner(part.activityPartitions)
    const wants = this.#opts.wantsActivity
    let events = 0
    let invalid = 0
    let duplicates = 0
    // The part's new events, in delivery order.
    const accepted: Valid[] = []
    for (let i = 0; i < part.values.length; i++) {
      const value = part.values[i] ?? null
      const schema = part.transactions ? TERMINAL_TRANSACTION : MERCHANT_EVENT
      const codec = this.#opts.codec
      const decoded = codec.decodeNow(schema, value) ?? (await codec.decode(schema, value))
      const event = this.#validated(part.transactions, decoded, part.stamps[i] ?? 0)
      if (event === null) {
        invalid++
        continue
      }
      events++
      const { acquirer_id, merchant_id, event_time } = event.value
      if (!this.#admit(partition, acquirer_id, merchant_id, event.id, event_time)) {
        duplicates++
        continue
      }
      accepted.push(event)
      if (event_time > this.#latest) this.#latest = event_time
    }
    // Through the engine a merchant at a time (see merchantOrder: its state stays in the cache), and
    // the activity in delivery order, as the cross-merchant rules would have read it.
    const order = merchantOrder(accepted.map((e) => e.value.merchant_id))
    const lifecycleRecords: ActivityRecord[][] = []
    for (const k of order) {
      const event = accepted[k]
      if (event === undefined) continue
      if (event.kind === 'transactions') {
        for (const h of engine.onTransaction(event.value)) hits.push(h)
      } else {
        const applied = applyMerchantEvent(engine, event.value)
        for (const h of applied.hits) hits.push(h)
        lifecycleRecords[k] = applied.records
      }
    }
    const add = (r: ActivityRecord) => {
      if (wants !== undefined && !wants(r)) return
      const p = partitionOf(entityKeyOf(r))
      const to = activity.get(p)
      if (to === undefined) activity.set(p, [r])
      else to.push(r)
    }
    for (let k = 0; k < accepted.length; k++) {
      const event = accepted[k]
      if (event === undefined) continue
      if (event.kind === 'transactions') {
        const r = cardActivityOf(event.value)
        if (r !== null) add(r)
      } else for (const r of lifecycleRecords[k] ?? []) add(r)
    }
    const evicted = this.#evictIfDue()
    const latest = new Map<string, HitUpdate>()
    for (const h of hits) latest.set(h.hitId, h)
    const updates = [...latest.values()]
    // Each hit's last update only (the map above), keyed by merchant: see rules/hits.ts.
    const encoded: Keyed[] = []
    for (const h of updates)
      encoded.push({
        key: h.merchantId,
        value: await this.#opts.codec.encode(RULE_HIT, ruleHitOf(h), 'avro'),
      })
    const timings = this.#opts.timings === undefined ? [] : this.#opts.timings.splice(0)
    return {
      events,
      invalid,
      duplicates,
      hits: encoded,
      hitRules: updates.map((h) => [h.ruleId, h.category] as const),
      activity: batches(activity),
      evicted,
      timings,
      state: this.state,
    }
  }

  #partitioner(partitions: number): (key: string) => number {
    let p = this.#partitioners.get(partitions)
    if (p === undefined) {
      p = entityPartitioner(partitions)
      this.#partitioners.set(partitions, p)
    }
    return p
  }

  replay(partition: number, events: readonly StoredEvent[]): void {
    const engine = this.#opts.engine
    // A merchant at a time, as apply does: each merchant's events in their order.
    for (const k of merchantOrder(events.map((e) => e.value.merchant_id))) {
      const event = events[k]
      if (event === undefined) continue
      if (event.kind === 'transactions') {
        const t = event.value
        this.#admit(partition, t.acquirer_id, t.merchant_id, t.txn_id, t.event_time)
        engine.onTransaction(t)
      } else {
        const e = event.value
        this.#admit(partition, e.acquirer_id, e.merchant_id, e.event_id, e.event_time)
        engine.onMerchantEvent(e)
      }
    }
  }

  load(partition: number): void {
    this.#loaded.add(partition)
  }

  /** Forgets a partition number's merchants: their rule state and remembered ids. */
  forget(partition: number): number {
    this.#loaded.delete(partition)
    const seen = this.#seen
    const dropped = this.#opts.engine.drop((a, m) => seen.partitionOf(a, m) === partition)
    seen.retain((_a, _m, p) => p !== partition)
    return dropped
  }

  stats(): Record<string, number> {
    return { ...this.#opts.engine.stats }
  }

  /** A decoded value validated as ingest validates it; null for what ingest dead-letters. */
  #validated(isTxns: boolean, decoded: DecodeResult, at: number): Valid | null {
    if (!decoded.ok) {
      // The Schema Registry unreachable is an outage to wait for, not a bad event.
      if (decoded.error.retriable) throw decoded.error
      return null
    }
    // One options object for every event: only the time changes (validation keeps no reference).
    const opts = this.#validateOpts
    opts.now = at
    if (isTxns) {
      const v = validateTransaction(decoded.record, opts)
      return v.ok ? { kind: 'transactions', id: v.value.txn_id, value: v.value } : null
    }
    const v = validateMerchantEvent(decoded.record, opts)
    return v.ok ? { kind: 'merchantEvents', id: v.value.event_id, value: v.value } : null
  }

  /** Whether an event is new to the engine; remembers it and its partition either way. */
  #admit(partition: number, acquirerId: string, merchantId: string, id: string, eventTime: number): boolean {
    return this.#seen.admit(partition, acquirerId, merchantId, id, eventTime, this.#opts.allowedLatenessMs)
  }

  /**
   * Drops merchants idle for longer than the widest rule window, by event time, at most once per hour
   * of event time: the sweep walks every merchant, so it is coalesced rather than run per event.
   */
  #evictIfDue(): number {
    if (this.#latest - this.#lastEviction < EVICT_EVERY_MS) return 0
    this.#lastEviction = this.#latest
    const engine = this.#opts.engine
    const dropped = engine.evict(this.#latest)
    // A merchant's ids go with its rule state, not before: an idle merchant's state still takes a
    // second copy of its last event (the engine's lateness is per merchant), so its ids must catch it.
    if (dropped > 0) this.#seen.retain((a, m) => engine.has(a, m))
    return dropped
  }
}

/** Records per activity message at most: a message stays far below the broker's 1 MB default. */
export const ACTIVITY_BATCH = 1_000

/** The activity of a part as messages: per partition, in order, ACTIVITY_BATCH records or fewer each. */
function batches(byPartition: ReadonlyMap<number, readonly ActivityRecord[]>): ActivityBatch[] {
  const out: ActivityBatch[] = []
  for (const [partition, records] of byPartition)
    for (let i = 0; i < records.length; i += ACTIVITY_BATCH) {
      const chunk = records.slice(i, i + ACTIVITY_BATCH)
      out.push({ partition, records: chunk.length, value: encodeActivities(chunk) })
    }
  return out
}

/** A RulesCore on the calling thread. */
export class LocalRules implements RulesCoreApi {
  readonly #core: RulesCore

  constructor(opts: RulesCoreOptions) {
    this.#core = new RulesCore(opts)
  }

  get state(): CoreState {
    return this.#core.state
  }

  apply(partition: number, part: PartInput): Promise<AppliedPart> {
    return this.#core.apply(partition, part)
  }

  async replay(partition: number, events: readonly StoredEvent[]): Promise<void> {
    this.#core.replay(partition, events)
  }

  async load(partition: number): Promise<void> {
    this.#core.load(partition)
  }

  async forget(partition: number): Promise<number> {
    return this.#core.forget(partition)
  }

  async stats(): Promise<Record<string, number>> {
    return this.#core.stats()
  }
}

/**
 * Event ids per merchant while they can still matter: an event whose time is further behind its
 * merchant's latest than the allowed lateness changes no rule state, so neither can its second copy.
 * With each merchant, the partition its latest event came from (what a partition's release drops).
 * Merchants by acquirer, then id: no key string made per event.
 */
export class RecentIds {
  readonly #byAcquirer = new Map<string, Map<string, RecentOfMerchant>>()
  /** Seeds the ids' hash, per instance: no list of ids collides the same way in every process. */
  readonly #seed = Math.floor(Math.random() * 0x1_0000_0000) | 0

  /** True the first time an id is seen for a merchant (within the lateness horizon); remembers it. */
  admit(
    partition: number,
    acquirerId: string,
    merchantId: string,
    id: string,
    eventTime: number,
    latenessMs: number,
  ): boolean {
    let merchants = this.#byAcquirer.get(acquirerId)
    if (merchants === undefined) {
      merchants = new Map()
      this.#byAcquirer.set(acquirerId, merchants)
    }
    let m = merchants.get(merchantId)
    if (m === undefined) {
      m = { partition, watermark: eventTime, ids: new MerchantIds(), pruneAt: MIN_PRUNE_AT }
      merchants.set(merchantId, m)
    }
    m.partition = partition
    if (!m.ids.add(id, idHash(id, this.#seed), eventTime)) return false
    if (eventTime > m.watermark) m.watermark = eventTime
    // What fell behind the horizon goes when the set has doubled since the last sweep: amortised
    // constant time per event, at most twice the ids a merchant's lateness window holds.
    if (m.ids.size >= m.pruneAt) {
      m.ids.prune(m.watermark - latenessMs)
      m.pruneAt = Math.max(MIN_PRUNE_AT, m.ids.size * 2)
    }
    return true
  }

  /** The partition of the merchant's latest event; undefined for a merchant not seen (or forgotten). */
  partitionOf(acquirerId: string, merchantId: string): number | undefined {
    return this.#byAcquirer.get(acquirerId)?.get(merchantId)?.partition
  }

  /** Keeps the merchants `keep` says to, and forgets the others. */
  retain(keep: (acquirerId: string, merchantId: string, partition: number) => boolean): void {
    for (const [acquirerId, merchants] of this.#byAcquirer) {
      for (const [merchantId, m] of merchants)
        if (!keep(acquirerId, merchantId, m.partition)) merchants.delete(merchantId)
      if (merchants.size === 0) this.#byAcquirer.delete(acquirerId)
    }
  }
}

interface RecentOfMerchant {
  partition: number
  watermark: number
  ids: MerchantIds
  pruneAt: number
}

/** A non-zero 32-bit hash of an id (FNV-1a from a seed, then Murmur3's finaliser for the low bits). */
export function idHash(id: string, seed: number): number {
  let h = seed ^ 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) | 0 || 1
}

/** The fewest ids a merchant holds before the first sweep (RecentIds.admit), and after each: then twice those left. */
const MIN_PRUNE_AT = 64
/** Slots a look-up walks at most before a merchant's ids move to a Map (see MerchantIds). */
export const MAX_PROBE = 64
const MIN_SLOTS = 8

/**
 * One merchant's recent ids and their event times: an open-addressing table (linear probing, at most
 * half full) of the ids' hashes in a typed array, so that the look-up of each event reads one small
 * array where a Map walks a chain of key strings (RecentIds.admit was 8% of the rules worker's CPU).
 * A walk longer than MAX_PROBE slots (ids whose hashes collide, as a flood of crafted ids could make
 * them) moves the merchant's ids to a Map for good, whose hash V8 seeds and whose cost stays bounded.
 */
export class MerchantIds {
  #hashes = new Int32Array(MIN_SLOTS)
  #keys: (string | undefined)[] = new Array<string | undefined>(MIN_SLOTS).fill(undefined)
  #times = new Float64Array(MIN_SLOTS)
  #count = 0
  #map: Map<string, number> | null = null

  get size(): number {
    return this.#map === null ? this.#count : this.#map.size
  }

  /** Whether the ids moved to a Map (a test's view of the fallback). */
  get crowded(): boolean {
    return this.#map !== null
  }

  /** Adds an id and its time: false, and nothing changed, when the id is there already. */
  add(id: string, hash: number, time: number): boolean {
    const map = this.#map
    if (map !== null) {
      if (map.has(id)) return false
      map.set(id, time)
      return true
    }
    const hashes = this.#hashes
    const mask = hashes.length - 1
    let i = hash & mask
    for (let walked = 0; hashes[i] !== 0; walked++) {
      if (hashes[i] === hash && this.#keys[i] === id) return false
      if (walked === MAX_PROBE) {
        this.#toMap(Number.NEGATIVE_INFINITY)
        return this.add(id, hash, time)
      }
      i = (i + 1) & mask
    }
    hashes[i] = hash
    this.#keys[i] = id
    this.#times[i] = time
    this.#count++
    if (this.#count * 2 > hashes.length) this.#rebuild(hashes.length * 2, Number.NEGATIVE_INFINITY)
    return true
  }

  /** Forgets the ids whose time is before `horizon`. */
  prune(horizon: number): void {
    const map = this.#map
    if (map !== null) {
      for (const [k, t] of map) if (t < horizon) map.delete(k)
      return
    }
    let kept = 0
    for (let i = 0; i < this.#hashes.length; i++)
      if (this.#hashes[i] !== 0 && (this.#times[i] ?? 0) >= horizon) kept++
    // Room for the ids until the next sweep (RecentIds.admit's pruneAt), so that it need not grow.
    const room = Math.max(MIN_PRUNE_AT, kept * 2)
    let slots = MIN_SLOTS
    while (slots < room * 2) slots *= 2
    this.#rebuild(slots, horizon)
  }

  /** The table again with `slots` slots, keeping the ids of `horizon` or later. */
  #rebuild(slots: number, horizon: number): void {
    const hashes = this.#hashes
    const keys = this.#keys
    const times = this.#times
    const toHashes = new Int32Array(slots)
    const toKeys = new Array<string | undefined>(slots).fill(undefined)
    const toTimes = new Float64Array(slots)
    const mask = slots - 1
    let count = 0
    for (let from = 0; from < hashes.length; from++) {
      const hash = hashes[from] ?? 0
      const time = times[from] ?? 0
      if (hash === 0 || time < horizon) continue
      let i = hash & mask
      for (let walked = 0; toHashes[i] !== 0; walked++) {
        if (walked === MAX_PROBE) {
          this.#toMap(horizon)
          return
        }
        i = (i + 1) & mask
      }
      toHashes[i] = hash
      toKeys[i] = keys[from]
      toTimes[i] = time
      count++
    }
    this.#hashes = toHashes
    this.#keys = toKeys
    this.#times = toTimes
    this.#count = count
  }

  /** Moves the ids of `horizon` or later to a Map, for good. */
  #toMap(horizon: number): void {
    const map = new Map<string, number>()
    for (let i = 0; i < this.#hashes.length; i++) {
      const key = this.#keys[i]
      const time = this.#times[i] ?? 0
      if (this.#hashes[i] !== 0 && key !== undefined && time >= horizon) map.set(key, time)
    }
    this.#map = map
    this.#hashes = new Int32Array(0)
    this.#keys = []
    this.#times = new Float64Array(0)
    this.#count = 0
  }
}
