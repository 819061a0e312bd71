/**
 * Replays a stream of events through the production code, in process: the per-merchant rule engine
 * (createEngine), the cross-merchant EntityEngine fed with the activity records ingest derives
 * (activitiesOf), and the scoring model (applyHit). Several rule configurations run side by side on the
 * same pass, each with its own engines and scorer state, so a comparison sees exactly the same events.
 *
 * Peers and baselines come from ClickHouse as in production: the events go into a (temporary) store
 * through the real writers, and rules/baselines.ts recomputes cohorts and own baselines from
 * `merchant_daily` at every local day boundary, from the days before it only. A look-alike is thus
 * judged against the peers it would have had on that day, never against the future.
 */
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { Baselines } from '../rules/baselines.ts'
import type { RulesConfig } from '../rules/engine/config.ts'
import { createEngine } from '../rules/engine/config.ts'
import type { HitUpdate, RuleEngine } from '../rules/engine/engine.ts'
import { type ActivityRecord, activitiesOf, applyMerchantEvent } from '../rules/entity/activity.ts'
import { EntityEngine } from '../rules/entity/engine.ts'
import { ruleHitOf } from '../rules/hits.ts'
import type { StoredBatch } from '../schemas/stages.ts'
import type { MerchantEvent, RiskLevel, TerminalTransaction } from '../schemas/types.generated.ts'
import { incomingHitOf } from '../scoring/hits.ts'
import {
  advanceClock,
  applyHit,
  CATEGORIES,
  capacityOf,
  type DecayClock,
  decayTo,
  emptyMerchantState,
  type Levels,
  levelRank,
  levelsForCapacity,
  type MerchantScoreState,
  newDecayClock,
  type Outcome,
  type ScoringModel,
  scoreCategory,
  withLevels,
} from '../scoring/model.ts'
import type { SimEvent } from '../simulator/history.ts'
import type { Store } from '../store/client.ts'
import { merchantEventRow } from '../store/merchant-events.ts'
import { transactionRow } from '../store/transactions.ts'
import { localDateOf, type MerchantResult } from './metrics.ts'

const DAY_MS = 86_400_000
const STORE_TOPIC = 'backtest'

export interface ReplayOptions {
  /** The configurations to measure, each under a name. */
  configs: readonly { name: string; config: RulesConfig }[]
  timeZoneOf: (acquirerId: string) => string
  /** Fixed UTC offset of the day boundaries at which baselines are refreshed, ms. */
  dayOffsetMs: number
  allowedLatenessMs: number
  /**
   * Event time between the entity engine's sweeps. Production sweeps every 5 minutes of event time, and
   * each sweep walks every live entity (hundreds of thousands of cards): fine at live rates, where 5
   * minutes hold many events, but a replay crosses a month in minutes and would spend nearly all its
   * time sweeping. An hour only delays the re-evaluation of a terminal overlap waiting on the clock.
   */
  entitySweepMs: number
  /**
   * UTC ms where measuring starts. Earlier events (the history that warms windows, peers and
   * baselines) go through the store, the engines and the scorer like the others, but their hits,
   * scores and alerts are not counted, nor their days.
   */
  measureFrom: number
  /**
   * The store the events are loaded into and the baselines computed from; null replays without peers
   * or own baselines (every rule on its absolute thresholds), which is faster but not what production sees.
   */
  reference: { store: Store; baselines: Baselines } | null
  /** Merchants whose every hit update and score change is told to `onTrace` (why was it flagged, or not). */
  trace?: { merchants: ReadonlySet<string>; onTrace: (line: string) => void }
  /** Called after each replayed day with sales, with its local day number (days since 1970) and the events so far. */
  progress?: (localDay: number, events: number) => void
}

/** The queue at the end of one measured local day, scored at midnight. */
export interface QueueDay {
  /** Local date, YYYY-MM-DD. */
  date: string
  /** Merchants that first reached MEDIUM or above (either category) that day. */
  entered: number
  /** Merchants at MEDIUM or above (either category) at the end of the day, after decay. */
  queue: number
}

export interface ConfigRun {
  name: string
  hash: string
  merchants: MerchantResult[]
  /** The queue day by day over the measured days. */
  queue: QueueDay[]
  /** Hit updates of each rule (a hit growing over days is one hit id with several updates). */
  hitUpdates: number
  alerts: number
}

export interface ReplayResult {
  runs: ConfigRun[]
  events: number
  transactions: number
  /** UTC ms of the first and last event. */
  firstEvent: number
  lastEvent: number
  /** Measured local days with transactions. */
  days: number
  baselineRefreshes: number
}

interface Stack {
  name: string
  config: RulesConfig
  engine: RuleEngine
  entities: EntityEngine
  /** The scoring model in force: the configuration's, with levels calibrated to capacity day by day. */
  model: ScoringModel
  clock: DecayClock
  states: Map<string, MerchantScoreState>
  /** Merchants that reached MEDIUM at the configured thresholds: the day they first did, their peak since. */
  entrants: Map<string, { acquirerId: string; day: number; peak: number }>
  results: Map<string, MerchantResult>
  queue: QueueDay[]
  hitUpdates: number
  alerts: number
}

export async function replay(
  events: AsyncIterable<SimEvent> | Iterable<SimEvent>,
  opts: ReplayOptions,
): Promise<ReplayResult> {
  const ref = opts.reference
  const stacks: Stack[] = opts.configs.map(({ name, config }) => ({
    name,
    config,
    engine: createEngine(config, {
      timeZoneOf: opts.timeZoneOf,
      allowedLatenessMs: opts.allowedLatenessMs,
      ...(ref === null
        ? {}
        : {
            peersOf: (a: string, mcc: string | null, lat: number | null, lon: number | null) =>
              ref.baselines.peersOf(a, mcc, lat, lon),
            baselineOf: (a: string, m: string) => ref.baselines.baselineOf(a, m),
          }),
    }),
    entities: new EntityEngine({
      rules: config.entityRules,
      isWhitelisted: config.isWhitelisted,
      configHash: config.hash,
      sweepEveryMs: opts.entitySweepMs,
    }),
    model: config.scoring,
    clock: newDecayClock(),
    states: new Map(),
    entrants: new Map(),
    results: new Map(),
    queue: [],
    hitUpdates: 0,
    alerts: 0,
  }))

  let txnBuffer: TerminalTransaction[] = []
  let eventBuffer: MerchantEvent[] = []
  let offset = 0
  let day: number | null = null
  let count = 0
  let transactions = 0
  let firstEvent = Number.POSITIVE_INFINITY
  let lastEvent = Number.NEGATIVE_INFINITY
  const txnDays = new Set<number>()
  let refreshes = 0

  /** Loads the buffered events into the store and recomputes the references from them. */
  const closeDay = async (latest: number) => {
    if (ref !== null) {
      if (eventBuffer.length > 0) {
        const rows = eventBuffer.map((event) =>
          merchantEventRow({ event, topic: STORE_TOPIC, partition: 0, offset: String(offset++) }, latest),
        )
        await load(ref.store, 'merchant_events', rows)
      }
      const tz = new Map<string, string>()
      const rows = txnBuffer.map((txn) => {
        let zone = tz.get(txn.acquirer_id)
        if (zone === undefined) {
          zone = opts.timeZoneOf(txn.acquirer_id)
          tz.set(txn.acquirer_id, zone)
        }
        return transactionRow(
          { txn, topic: STORE_TOPIC, partition: 0, offset: String(offset++) },
          zone,
          latest,
        )
      })
      for (let i = 0; i < rows.length; i += 50_000)
        await load(ref.store, 'transactions', rows.slice(i, i + 50_000))
      await ref.baselines.refresh(latest)
      refreshes++
      for (const s of stacks) s.engine.referencesChanged()
    }
    txnBuffer = []
    eventBuffer = []
  }

  for await (const e of events) {
    const t = e.value.event_time
    const d = Math.floor((t + opts.dayOffsetMs) / DAY_MS)
    // Days without sales (the lifecycle history before the first one) need no references: their
    // events wait in the buffer for the next day that has sales.
    if (day !== null && d > day && txnBuffer.length > 0) {
      await closeDay(lastEvent)
      const dayEnd = (day + 1) * DAY_MS - opts.dayOffsetMs
      for (const s of stacks) calibrateCapacity(s, day)
      if (dayEnd > opts.measureFrom) for (const s of stacks) closeQueueDay(s, day, dayEnd)
      opts.progress?.(day, count)
    }
    if (day === null || d > day) day = d
    count++
    if (t < firstEvent) firstEvent = t
    if (t > lastEvent) lastEvent = t
    if (e.topic === 'transactions') {
      transactions++
      if (t >= opts.measureFrom) txnDays.add(d)
      txnBuffer.push(e.value)
      const batch: StoredBatch = { kind: 'transactions', items: [e.value] }
      for (const s of stacks) {
        score(s, s.engine.onTransaction(e.value), opts.measureFrom, opts.dayOffsetMs, opts.trace)
        for (const r of activitiesOf(batch)) entity(s, r, opts.measureFrom, opts.dayOffsetMs, opts.trace)
      }
    } else {
      eventBuffer.push(e.value)
      for (const s of stacks) {
        const { hits, records } = applyMerchantEvent(s.engine, e.value)
        score(s, hits, opts.measureFrom, opts.dayOffsetMs, opts.trace)
        for (const r of records) entity(s, r, opts.measureFrom, opts.dayOffsetMs, opts.trace)
      }
    }
  }
  if (txnBuffer.length > 0 || eventBuffer.length > 0) await closeDay(lastEvent)
  if (day !== null) {
    const dayEnd = (day + 1) * DAY_MS - opts.dayOffsetMs
    if (dayEnd > opts.measureFrom) for (const s of stacks) closeQueueDay(s, day, dayEnd)
  }
  for (const s of stacks) endLevels(s, lastEvent)

  return {
    runs: stacks.map((s) => ({
      name: s.name,
      hash: s.config.hash,
      merchants: [...s.results.values()],
      queue: s.queue,
      hitUpdates: s.hitUpdates,
      alerts: s.alerts,
    })),
    events: count,
    transactions,
    firstEvent,
    lastEvent,
    days: txnDays.size,
    baselineRefreshes: refreshes,
  }
}

/**
 * Inserts rows built by the store's own row functions (the columns, local day and flags the writers
 * derive). Not through insertTransactions: its look-up of already-stored ids is what makes ingest
 * exactly-once, finds nothing in a fresh store, and was most of the replay's time.
 */
async function load(
  store: Store,
  table: 'transactions' | 'merchant_events',
  rows: readonly object[],
): Promise<void> {
  if (rows.length === 0) return
  const query =
    table === 'transactions'
      ? 'INSERT INTO {db:Identifier}.transactions FORMAT JSONEachRow'
      : 'INSERT INTO {db:Identifier}.merchant_events FORMAT JSONEachRow'
  const result = await store.client.exec({
    query,
    query_params: { db: store.database },
    values: Readable.from([`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`]),
  })
  result.stream.resume()
  await finished(result.stream)
}

/**
 * Applies an activity record to the entity engine and the records it derives (card_ring's links),
 * which the service publishes to the entity-activity topic and reads back; here they go straight in.
 */
function entity(
  s: Stack,
  r: ActivityRecord,
  measureFrom: number,
  dayOffsetMs: number,
  trace?: ReplayOptions['trace'],
): void {
  score(s, s.entities.onRecord(r), measureFrom, dayOffsetMs, trace)
  for (let derived = s.entities.takeDerived(); derived.length > 0; derived = s.entities.takeDerived())
    for (const d of derived) score(s, s.entities.onRecord(d), measureFrom, dayOffsetMs, trace)
}

/**
 * Scores hit updates as the scoring stage does (decay passes as the event-time clock crosses a tick,
 * then the hit), and records what each merchant went through.
 */
function score(
  s: Stack,
  hits: readonly HitUpdate[],
  measureFrom: number,
  dayOffsetMs: number,
  trace?: ReplayOptions['trace'],
): void {
  for (const h of hits) {
    const tick = advanceClock(s.clock, h.detectedAt, s.model.decayTickMs)
    if (tick !== null)
      for (const state of s.states.values())
        record(s, state, decayTo(s.model, state, tick), tick, measureFrom, dayOffsetMs)
    const measured = h.detectedAt >= measureFrom
    if (measured) s.hitUpdates++
    const key = `${h.acquirerId}\u0000${h.merchantId}`
    let state = s.states.get(key)
    if (state === undefined) {
      state = emptyMerchantState(h.acquirerId, h.merchantId)
      s.states.set(key, state)
    }
    const outcome = applyHit(s.model, state, incomingHitOf(ruleHitOf(h)))
    if (trace?.merchants.has(h.merchantId) === true) {
      const f = h.finding
      trace.onTrace(
        `${s.name} ${new Date(h.detectedAt).toISOString()} ${h.merchantId} ${h.ruleId}(${f.basis ?? '-'}) ` +
          `${f.observed.toPrecision(4)} > ${f.threshold.toPrecision(4)}` +
          outcome.scores.map((c) => ` => ${c.result.category} ${c.result.score} ${c.result.level}`).join(''),
      )
    }
    if (measured) {
      const rules = resultOf(s, h.acquirerId, h.merchantId).rules
      if (!rules.includes(h.ruleId)) rules.push(h.ruleId)
    }
    record(s, state, outcome, h.detectedAt, measureFrom, dayOffsetMs)
  }
}

/** Records what an outcome of a merchant's scoring at `at` means for its result and the queue. */
function record(
  s: Stack,
  state: MerchantScoreState,
  outcome: Outcome,
  at: number,
  measureFrom: number,
  dayOffsetMs: number,
): void {
  if (outcome.scores.length === 0 && outcome.alerts.length === 0) return
  const day = Math.floor((at + dayOffsetMs) / DAY_MS)
  const key = `${state.acquirerId}\u0000${state.merchantId}`
  const configured = s.config.scoring.levels.medium
  for (const change of outcome.scores) {
    if (change.result.score < configured) continue
    const e = s.entrants.get(key)
    if (e === undefined) s.entrants.set(key, { acquirerId: state.acquirerId, day, peak: change.result.score })
    else if (change.result.score > e.peak) e.peak = change.result.score
  }
  if (at < measureFrom) return
  const minRank = levelRank(s.model.alerts.minLevel)
  const result = resultOf(s, state.acquirerId, state.merchantId)
  for (const change of outcome.scores) {
    const c = change.result
    if (c.score > result.max_score) result.max_score = c.score
    if (c.category === 'fraud' && c.score > result.max_fraud) result.max_fraud = c.score
    if (result.max_level === null || levelRank(c.level) > levelRank(result.max_level))
      result.max_level = c.level
    // Standing at this level alerted, now or (during the history) before: the merchant is in the queue.
    if (levelRank(c.level) >= minRank) flag(result, c.category, day)
  }
  for (const a of outcome.alerts) {
    s.alerts++
    const category = a.alert.category === 'FRAUD' ? 'fraud' : 'compliance'
    flag(result, category, day)
    const rules = [...new Set(a.alert.reasons.map((r) => r.rule_id))]
    const bases: Record<string, string> = {}
    for (const h of state.hits.values()) if (rules.includes(h.ruleId)) bases[h.ruleId] = h.basis ?? '-'
    result.alerts.push({ at: a.alert.created_at, category, level: a.alert.level, rules, bases })
  }
}

/**
 * The capacity calibration at the end of local day `day`: per acquirer, the merchants that first reached
 * MEDIUM (at the configured thresholds) within the capacity's days, and the levels that fit them into
 * its review capacity (levelsForCapacity). As the service would run it from the stored score history.
 */
function calibrateCapacity(s: Stack, day: number): void {
  const configured = s.config.scoring
  const since = day - configured.capacity.days
  const peaks = new Map<string, number[]>()
  for (const e of s.entrants.values()) {
    if (e.day <= since) continue
    peaks.set(e.acquirerId, [...(peaks.get(e.acquirerId) ?? []), e.peak])
  }
  const levels = new Map<string, Levels>()
  for (const [acquirerId, list] of peaks) {
    const l = levelsForCapacity(
      configured.levels,
      list,
      capacityOf(configured, acquirerId),
      configured.capacity.days,
    )
    if (l !== configured.levels) levels.set(acquirerId, l)
  }
  s.model = withLevels(configured, levels)
}

function flag(result: MerchantResult, category: 'fraud' | 'compliance', day: number): void {
  result.alerted = true
  if (category === 'fraud') result.fraud_alerted = true
  else result.compliance_alerted = true
  result.first_alerted_day ??= day
}

/** The levels a merchant's state gives at `at`, per category (pure: the state is not changed). */
function levelsAt(
  s: Stack,
  state: MerchantScoreState,
  at: number,
): Record<'fraud' | 'compliance', RiskLevel> {
  const hits = [...state.hits.values()]
  const [fraud, compliance] = CATEGORIES.map(
    (c) => scoreCategory(s.model, hits, c, at, state.acquirerId).level,
  )
  return { fraud: fraud ?? 'LOW', compliance: compliance ?? 'LOW' }
}

/** Records the queue at the end of local day `day`. */
function closeQueueDay(s: Stack, day: number, dayEnd: number): void {
  const minRank = levelRank(s.model.alerts.minLevel)
  let queue = 0
  for (const state of s.states.values()) {
    const l = levelsAt(s, state, dayEnd)
    if (levelRank(l.fraud) >= minRank || levelRank(l.compliance) >= minRank) queue++
  }
  let entered = 0
  for (const r of s.results.values()) if (r.first_alerted_day === day) entered++
  s.queue.push({ date: localDateOf(day), entered, queue })
}

/** The levels every merchant has at the end of the replay, decayed to its last event. */
function endLevels(s: Stack, at: number): void {
  for (const state of s.states.values()) {
    const l = levelsAt(s, state, at)
    const r = s.results.get(`${state.acquirerId}\u0000${state.merchantId}`)
    if (r === undefined) continue
    r.end_fraud = l.fraud
    r.end_compliance = l.compliance
  }
}

function resultOf(s: Stack, acquirerId: string, merchantId: string): MerchantResult {
  const key = `${acquirerId}\u0000${merchantId}`
  let r = s.results.get(key)
  if (r === undefined) {
    r = {
      acquirer_id: acquirerId,
      merchant_id: merchantId,
      rules: [],
      max_score: 0,
      max_level: null,
      max_fraud: 0,
      fraud_alerted: false,
      compliance_alerted: false,
      first_alerted_day: null,
      end_fraud: null,
      end_compliance: null,
      alerted: false,
      alerts: [],
    }
    s.results.set(key, r)
  }
  return r
}
