import { createHash } from 'node:crypto'
import type { Basis, RuleCategory } from '../schemas/stages.ts'
import type { AlertReason, RiskAlert, RiskLevel } from '../schemas/types.generated.ts'

/**
 * The scoring model, pure: rule hits in, two scores per merchant (fraud, compliance) with a level, a
 * breakdown and the alert decisions out. No I/O and no clock: "now" is event time, the newest detection
 * time among the merchant's hits or the partition's watermark when the clock alone moves (decayTo), so
 * replaying the same hits in the same order gives the same scores, the same alerts and the same ids.
 */

export const LEVELS: readonly RiskLevel[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']
export const CATEGORIES: readonly RuleCategory[] = ['fraud', 'compliance']

export function levelRank(level: RiskLevel): number {
  return LEVELS.indexOf(level)
}

export interface Levels {
  readonly medium: number
  readonly high: number
  readonly critical: number
}

/** How one rule scores: what the configuration (scoring section) resolved for it. */
export interface RuleScoring {
  readonly category: RuleCategory
  readonly family: string
  /** Points a fresh hit adds. */
  readonly points: number
  /** A strong rule counts alone; a weak one only when hits of another family are live too. */
  readonly strong: boolean
  /** Regulation makes the follow-up mandatory: a hit opens a case by itself. */
  readonly mandatoryCase: boolean
}

export interface ScoringModel {
  /** Short hash of the scoring section, for the logs and the score rows' provenance. */
  readonly hash: string
  readonly rules: ReadonlyMap<string, RuleScoring>
  /** Half-life of each rule family's points, ms. */
  readonly halfLifeMs: ReadonlyMap<string, number>
  /** Lowest score of each level above LOW, as configured. */
  readonly levels: Levels
  /**
   * Levels calibrated to an acquirer's review capacity (levelsForCapacity), where they differ from the
   * configured ones: never lower than those. Empty in a configuration; set by the capacity calibration.
   */
  readonly levelsByAcquirer: ReadonlyMap<string, Levels>
  /** New merchants at MEDIUM or above an acquirer's analysts can review in a day. */
  readonly capacity: {
    readonly perDay: number
    readonly byAcquirer: ReadonlyMap<string, number>
    /** Days of entries the calibration looks back over. */
    readonly days: number
  }
  /** Event time between the decay passes over a partition's merchants (decayTo), ms. */
  readonly decayTickMs: number
  /** Distinct live families needed before weak rules count. */
  readonly weakMinFamilies: number
  /** A hit whose decayed points fall below this is forgotten (and no longer makes a family live). */
  readonly minLivePoints: number
  /**
   * Share of its points a hit must keep to corroborate another family: to make weak rules count (with
   * `weakMinFamilies`) or to anchor a provisional hit. 0.5: evidence within one half-life of its
   * latest update; 0: any live hit, however faded.
   */
  readonly corroborationShare: number
  readonly alerts: {
    /** Levels below this never alert. */
    readonly minLevel: RiskLevel
    /** After an alert, re-entering a level not above the last alerted one, or a new family at the same level, waits this long. */
    readonly cooldownMs: number
    /** Reasons carried in an alert, strongest first. */
    readonly maxReasons: number
  }
  readonly cases: {
    /** After a mandatory case for a merchant and rule, the next one waits this long. */
    readonly reopenAfterMs: number
  }
}

/** A rule hit as the scorer keeps it: the newest version of each hit id. */
export interface ScoredHit {
  hitId: string
  ruleId: string
  ruleVersion: number
  observed: number
  threshold: number
  windowStart: number
  windowEnd: number
  sampleTxnIds: string[]
  detail: string
  /** Event time of the hit's latest update; its points decay from here. */
  detectedAt: number
  /**
   * What a relative rule's threshold was calibrated on (rules/engine/calibration.ts); absent for rules
   * that compare with nothing. A weak hit without a peer basis counts only beside calibrated evidence.
   */
  basis?: Basis
}

export interface Contribution {
  readonly hit: ScoredHit
  readonly family: string
  readonly strong: boolean
  /** Points of a fresh hit. */
  readonly points: number
  /** Points after decay. */
  readonly decayed: number
  /** A weak hit compared with no peers (a thin cohort, or no baseline yet): it needs calibrated company. */
  readonly provisional: boolean
  /**
   * False for a weak rule without a second live family, a provisional hit without calibrated evidence of
   * another family, and every hit of a rule but its strongest: shown in the breakdown, adds nothing.
   */
  readonly counted: boolean
}

export interface CategoryScore {
  readonly category: RuleCategory
  /** 0-100, the rounded sum of counted decayed points, capped. */
  readonly score: number
  readonly level: RiskLevel
  /** Counted contributions first, each group strongest first. */
  readonly contributions: readonly Contribution[]
  /** Families of the counted contributions, sorted. */
  readonly families: readonly string[]
}

/** The level thresholds in force for an acquirer: calibrated to its capacity, or as configured. */
export function levelsOf(model: ScoringModel, acquirerId: string | null): Levels {
  return (acquirerId === null ? undefined : model.levelsByAcquirer.get(acquirerId)) ?? model.levels
}

export function levelOf(model: ScoringModel, score: number, acquirerId: string | null = null): RiskLevel {
  const { medium, high, critical } = levelsOf(model, acquirerId)
  if (score >= critical) return 'CRITICAL'
  if (score >= high) return 'HIGH'
  if (score >= medium) return 'MEDIUM'
  return 'LOW'
}

export function decayedPoints(points: number, halfLifeMs: number, ageMs: number): number {
  return points * 2 ** (-Math.max(0, ageMs) / halfLifeMs)
}

/**
 * Scores one category of a merchant at event time `now` from its live hits.
 *
 * A strong rule counts alone. A weak rule counts when hits of at least `weakMinFamilies` families are
 * live. A provisional hit (a weak rule compared with the population only, its cohort being too thin, or
 * with an absolute threshold by design) counts only when a strong or calibrated weak hit of another
 * family is live: two uncalibrated hits never make a pair, since a car dealer without a cohort of car
 * dealers is "above the population" on credit share, ticket and round amounts at once, by being a car
 * dealer. A weak hit on floors alone (basis none: no baseline yet) is shown and never counted.
 *
 * "Live" for corroboration means current: a family corroborates, or anchors, only while a hit of it
 * keeps `corroborationShare` of its points. Without that, a weak hit lingering at a few points for
 * months (a cards hit of 35 points stays above `minLivePoints` for half a year) let any single fresh
 * weak hit of another family count, so a legitimate merchant needed only one ordinary blip a season to
 * enter the queue: the longer the service ran, the more did.
 */
export function scoreCategory(
  model: ScoringModel,
  hits: Iterable<ScoredHit>,
  category: RuleCategory,
  now: number,
  acquirerId: string | null = null,
): CategoryScore {
  const live: LiveHit[] = []
  for (const hit of hits) {
    const rule = model.rules.get(hit.ruleId)
    if (rule === undefined || rule.category !== category) continue
    const decayed = decayedPoints(rule.points, halfLifeOf(model, rule), now - hit.detectedAt)
    if (decayed >= model.minLivePoints) live.push({ hit, rule, decayed })
  }
  return scoreLive(model, live, category, acquirerId)
}

/** A hit with points left, its rule and its decayed points: what scoring reads of it. */
interface LiveHit {
  readonly hit: ScoredHit
  readonly rule: RuleScoring
  readonly decayed: number
}

function halfLifeOf(model: ScoringModel, rule: RuleScoring): number {
  return model.halfLifeMs.get(rule.family) ?? Number.POSITIVE_INFINITY
}

/** scoreCategory of hits already found live and of the category, in the merchant's order of hits. */
function scoreLive(
  model: ScoringModel,
  live: readonly LiveHit[],
  category: RuleCategory,
  acquirerId: string | null,
): CategoryScore {
  // Each contribution is made once, `counted` set below (same keys in the same order as the type's).
  const raw: { -readonly [K in keyof Contribution]: Contribution[K] }[] = []
  const anchors = new Set<string>()
  for (const { hit, rule, decayed } of live) {
    const provisional =
      !rule.strong && (hit.basis === 'population' || hit.basis === 'absolute' || hit.basis === 'none')
    if (!provisional && decayed >= rule.points * model.corroborationShare) anchors.add(rule.family)
    raw.push({
      hit,
      family: rule.family,
      strong: rule.strong,
      points: rule.points,
      decayed,
      provisional,
      counted: false,
    })
  }
  // A weak hit on floors alone (no baseline yet) is shown, never counted.
  const eligible = (c: Contribution) =>
    !c.provisional || (c.hit.basis !== 'none' && hasOther(anchors, c.family))
  const liveFamilies = new Set<string>()
  for (const c of raw)
    if (eligible(c) && c.decayed >= c.points * model.corroborationShare) liveFamilies.add(c.family)
  const combined = liveFamilies.size >= model.weakMinFamilies
  // One rule counts once: a rolling-window rule reports the same pattern for each day's window, which
  // is one piece of evidence, not one per day. Its strongest live hit counts; the others are shown.
  const best = new Map<string, number>()
  for (const c of raw) best.set(c.hit.ruleId, Math.max(best.get(c.hit.ruleId) ?? 0, c.decayed))
  for (const c of raw) {
    const top = best.get(c.hit.ruleId) === c.decayed
    // Equal strongest hits of one rule (same points, same time): only the first is counted.
    if (top) best.set(c.hit.ruleId, Number.POSITIVE_INFINITY)
    c.counted = top && eligible(c) && (c.strong || combined)
  }
  const contributions: Contribution[] = raw
  contributions.sort(
    (a, b) =>
      Number(b.counted) - Number(a.counted) ||
      b.decayed - a.decayed ||
      (a.hit.hitId < b.hit.hitId ? -1 : a.hit.hitId > b.hit.hitId ? 1 : 0),
  )
  let sum = 0
  const families = new Set<string>()
  for (const c of contributions) {
    if (!c.counted) continue
    sum += c.decayed
    families.add(c.family)
  }
  const score = Math.min(100, Math.round(sum))
  return {
    category,
    score,
    level: levelOf(model, score, acquirerId),
    contributions,
    families: [...families].sort(),
  }
}

function hasOther(families: ReadonlySet<string>, family: string): boolean {
  for (const f of families) if (f !== family) return true
  return false
}

/** What the scorer remembers of one category between hits. */
export interface CategoryState {
  /** Level at the last scoring; null before the first hit of this category. */
  level: RiskLevel | null
  /** Score written last, so that an unchanged score writes no row. */
  score: number | null
  lastAlertAt: number | null
  lastAlertLevel: RiskLevel | null
  /** Families behind the last alert: a new one at the same level is news. */
  alertedFamilies: string[]
  /**
   * Alerts raised so far: part of the alert id, so that an escalation after a fall (decay) has an id of
   * its own even when the same hits are behind it. Absent in states written before it existed (0).
   */
  escalations?: number
}

export function emptyCategoryState(): CategoryState {
  return {
    level: null,
    score: null,
    lastAlertAt: null,
    lastAlertLevel: null,
    alertedFamilies: [],
    escalations: 0,
  }
}

/**
 * Whether this scoring escalates: the merchant enters a level (at or above the alert minimum), rises
 * above the level it had, or a new rule family fires at the same level. The cool-down holds back
 * repeats: a new family at the same level, or re-entering a level no higher than the last alerted one.
 * A rise above the last alerted level is never held back: an escalation must not wait.
 */
export function shouldAlert(
  model: ScoringModel,
  state: CategoryState,
  result: CategoryScore,
  now: number,
): boolean {
  const rank = levelRank(result.level)
  if (rank < levelRank(model.alerts.minLevel)) return false
  const previous = state.level === null ? -1 : levelRank(state.level)
  const inCooldown = state.lastAlertAt !== null && now - state.lastAlertAt < model.alerts.cooldownMs
  const aboveLastAlert = state.lastAlertLevel === null || rank > levelRank(state.lastAlertLevel)
  if (rank > previous) return aboveLastAlert || !inCooldown
  if (rank < previous) return false
  const alerted = new Set(state.alertedFamilies)
  return !inCooldown && result.families.some((f) => !alerted.has(f))
}

/**
 * The alert id: a hash of the merchant, category, level, the escalation's number (the merchant's alerts
 * in this category so far) and the hits behind the score. The same escalation always gets the same id,
 * whoever computes it and however often it is replayed, so consumers can de-duplicate on it; a merchant
 * that falls and climbs again on the same hits raises a new escalation with a new id.
 */
export function alertIdOf(
  acquirerId: string,
  merchantId: string,
  category: RuleCategory,
  level: RiskLevel,
  hitIds: readonly string[],
  escalation = 0,
): string {
  const h = createHash('sha256')
  h.update(
    [acquirerId, merchantId, category, level, String(escalation), [...hitIds].sort().join(',')].join(
      '\u0000',
    ),
  )
  return h.digest('hex').slice(0, 32)
}

export function reasonsOf(result: CategoryScore, maxReasons: number): AlertReason[] {
  return result.contributions
    .filter((c) => c.counted)
    .slice(0, maxReasons)
    .map((c) => ({
      rule_id: c.hit.ruleId,
      rule_version: c.hit.ruleVersion,
      description: c.hit.detail,
      observed: c.hit.observed,
      threshold: c.hit.threshold,
      window_start: c.hit.windowStart,
      window_end: c.hit.windowEnd,
      sample_txn_ids: c.hit.sampleTxnIds,
    }))
}

export function buildAlert(
  model: ScoringModel,
  acquirerId: string,
  merchantId: string,
  previous: RiskLevel | null,
  result: CategoryScore,
  now: number,
  escalation = 0,
): RiskAlert {
  const counted = result.contributions.filter((c) => c.counted).map((c) => c.hit.hitId)
  return {
    alert_id: alertIdOf(acquirerId, merchantId, result.category, result.level, counted, escalation),
    created_at: now,
    acquirer_id: acquirerId,
    merchant_id: merchantId,
    category: result.category === 'fraud' ? 'FRAUD' : 'COMPLIANCE',
    level: result.level,
    score: result.score,
    previous_level: previous,
    reasons: reasonsOf(result, model.alerts.maxReasons),
  }
}

/** Everything the scorer keeps of one merchant; serialisable as JSON (the state changelog). */
export interface MerchantScoreState {
  acquirerId: string
  merchantId: string
  /** Newest detection time among the merchant's hits: the scorer's "now" for this merchant. */
  watermark: number
  /**
   * The live hits by id, in the order they came first (an update keeps its place). A Map: hits are
   * forgotten as they decay, and an object that keys are deleted from keeps them in a dictionary whose
   * values came out sorted again at every scoring. The changelog writes each hit as its own record.
   */
  hits: Map<string, ScoredHit>
  fraud: CategoryState
  compliance: CategoryState
  /** When a mandatory case was last opened, per rule id. */
  casesOpened: Record<string, number>
}

export function emptyMerchantState(acquirerId: string, merchantId: string): MerchantScoreState {
  return {
    acquirerId,
    merchantId,
    watermark: 0,
    hits: new Map(),
    fraud: emptyCategoryState(),
    compliance: emptyCategoryState(),
    casesOpened: {},
  }
}

/** A hit as it reaches the scorer. */
export interface IncomingHit extends ScoredHit {
  acquirerId: string
  merchantId: string
}

export interface ScoreChange {
  readonly result: CategoryScore
  readonly at: number
}

export interface CaseRequest {
  readonly caseId: string
  readonly acquirerId: string
  readonly merchantId: string
  readonly ruleId: string
  readonly reason: string
  readonly at: number
}

export interface AlertOut {
  readonly alert: RiskAlert
  /** Rule families behind the alert (not in the RiskAlert record; stored with it). */
  readonly families: readonly string[]
}

export interface Outcome {
  /** Whether the state changed at all (a duplicate or stale hit changes nothing). */
  changed: boolean
  scores: ScoreChange[]
  alerts: AlertOut[]
  cases: CaseRequest[]
  /** Ids of the hits this step forgot (decayed to nothing): the changelog deletes their records. */
  forgotten: string[]
}

export function caseIdOf(acquirerId: string, merchantId: string, ruleId: string, hitId: string): string {
  return createHash('sha256')
    .update(`${acquirerId}\u0000${merchantId}\u0000${ruleId}\u0000${hitId}`)
    .digest('hex')
    .slice(0, 32)
}

/**
 * Applies one hit to a merchant's state (mutating it) and says what follows: score changes to store,
 * alerts to publish, cases to open. A hit the state already holds at the same or a newer version
 * changes nothing, so duplicates on the hits topic (it is written at least once) are harmless.
 */
export function applyHit(model: ScoringModel, state: MerchantScoreState, hit: IncomingHit): Outcome {
  const outcome = emptyOutcome()
  const rule = model.rules.get(hit.ruleId)
  if (rule === undefined) return outcome
  const known = state.hits.get(hit.hitId)
  if (known !== undefined && known.detectedAt >= hit.detectedAt) return outcome
  outcome.changed = true
  // Only what scoring reads: the incoming record also carries routing and provenance fields, and the
  // state is written to the changelog on every change.
  state.hits.set(hit.hitId, {
    hitId: hit.hitId,
    ruleId: hit.ruleId,
    ruleVersion: hit.ruleVersion,
    observed: hit.observed,
    threshold: hit.threshold,
    windowStart: hit.windowStart,
    windowEnd: hit.windowEnd,
    sampleTxnIds: hit.sampleTxnIds,
    detail: hit.detail,
    detectedAt: hit.detectedAt,
    ...(hit.basis === undefined ? {} : { basis: hit.basis }),
  })
  if (hit.detectedAt > state.watermark) state.watermark = hit.detectedAt
  const now = state.watermark

  // A replay re-sends old hits the state has already forgotten; they must not open a case again.
  const live =
    decayedPoints(rule.points, halfLifeOf(model, rule), now - hit.detectedAt) >= model.minLivePoints
  if (rule.mandatoryCase && known === undefined && live) {
    const last = state.casesOpened[hit.ruleId]
    if (last === undefined || now - last >= model.cases.reopenAfterMs) {
      state.casesOpened[hit.ruleId] = now
      outcome.cases.push({
        caseId: caseIdOf(state.acquirerId, state.merchantId, hit.ruleId, hit.hitId),
        acquirerId: state.acquirerId,
        merchantId: state.merchantId,
        ruleId: hit.ruleId,
        reason: `${hit.ruleId}: ${hit.detail}`,
        at: now,
      })
    }
  }

  rescore(model, state, now, outcome, rule.category)
  return outcome
}

/**
 * Scores both categories at `now`, forgets hits that decayed to nothing, and records score changes (a
 * new score, level or breakdown) and alerts in `outcome`. Also used when time alone moved on (decay can only lower a score, so that
 * never alerts, but the stored score and level follow).
 */
export function rescore(
  model: ScoringModel,
  state: MerchantScoreState,
  now: number,
  outcome: Outcome,
  /** The category a new or updated hit belongs to: its breakdown changed even if its score did not. */
  touched: RuleCategory | null = null,
): void {
  // One pass decays every hit once: the dead ones (and those of rules no longer configured) are
  // forgotten, the others are scored in their category, in the state's order.
  const live: Record<RuleCategory, LiveHit[]> = { fraud: [], compliance: [] }
  for (const [id, hit] of state.hits) {
    const rule = model.rules.get(hit.ruleId)
    const decayed =
      rule === undefined ? 0 : decayedPoints(rule.points, halfLifeOf(model, rule), now - hit.detectedAt)
    if (rule === undefined || decayed < model.minLivePoints) {
      state.hits.delete(id)
      outcome.forgotten.push(id)
      outcome.changed = true
    } else live[rule.category].push({ hit, rule, decayed })
  }
  for (const category of CATEGORIES) {
    const cat = state[category]
    const result = scoreLive(model, live[category], category, state.acquirerId)
    if (cat.level === null && result.contributions.length === 0) continue
    if (shouldAlert(model, cat, result, now)) {
      const escalation = cat.escalations ?? 0
      outcome.alerts.push({
        alert: buildAlert(model, state.acquirerId, state.merchantId, cat.level, result, now, escalation),
        families: result.families,
      })
      cat.escalations = escalation + 1
      cat.lastAlertAt = now
      cat.lastAlertLevel = result.level
      cat.alertedFamilies = [...result.families]
    }
    if (result.score !== cat.score || result.level !== cat.level || category === touched) {
      outcome.scores.push({ result, at: now })
      outcome.changed = true
    }
    cat.score = result.score
    cat.level = result.level
  }
}

export function emptyOutcome(): Outcome {
  return { changed: false, scores: [], alerts: [], cases: [], forgotten: [] }
}

/**
 * Scores a merchant again at event time `now` when no hit of its own came: its points decay with the
 * clock, so the queue shows who is risky now, not who once was. Called for every merchant of a
 * partition whenever the partition's event-time watermark crosses a tick (see DecayClock); a merchant
 * whose own clock is already at or past `now` is left alone. Mutates the state like applyHit and says
 * what follows: score changes (and forgotten hits) to store; never an alert from decay alone, since decay
 * only lowers a score, except where capacity calibration has lowered a threshold meanwhile.
 */
export function decayTo(model: ScoringModel, state: MerchantScoreState, now: number): Outcome {
  const outcome = emptyOutcome()
  if (now <= state.watermark) return outcome
  rescore(model, state, now, outcome)
  // The clock moves only with a change to store: a pass that changed nothing leaves the state exactly
  // as the changelog has it, so a restart resumes from the same state as a run that never stopped.
  if (outcome.changed) state.watermark = now
  return outcome
}

/**
 * A decay pass over a partition's merchants at tick `at`: the outcomes of those whose state changed,
 * by key, in the map's order.
 */
export function decayAll(
  model: ScoringModel,
  states: ReadonlyMap<string, MerchantScoreState>,
  at: number,
): Map<string, Outcome> {
  const out = new Map<string, Outcome>()
  for (const [key, state] of states) {
    const o = decayTo(model, state, at)
    if (o.changed) out.set(key, o)
  }
  return out
}

/**
 * A partition's decay clock after a restore from the changelog: at its merchants' newest clock, with
 * the tick it passed. A tick passed but not yet written before a crash is passed again, to the same
 * effect, by the next hit.
 */
export function restoreClock(states: Iterable<MerchantScoreState>, tickMs: number): DecayClock {
  let watermark = Number.NEGATIVE_INFINITY
  for (const s of states) if (s.watermark > watermark) watermark = s.watermark
  return watermark === Number.NEGATIVE_INFINITY
    ? newDecayClock()
    : { watermark, lastTick: Math.floor(watermark / tickMs) * tickMs }
}

/** A partition's event-time clock for the decay passes: its watermark and the last tick it passed. */
export interface DecayClock {
  watermark: number
  lastTick: number
}

export function newDecayClock(): DecayClock {
  return { watermark: Number.NEGATIVE_INFINITY, lastTick: Number.NEGATIVE_INFINITY }
}

/**
 * Moves a partition's clock to the event time of the next hit, before that hit is applied. Returns the
 * tick the clock passed (a multiple of `tickMs`), at which every merchant of the partition is to be
 * decayed (decayTo) before the hit; null when no tick was passed. Ticks are whole multiples of event
 * time and passed in the order of the hits topic, so a replay of a partition decays its merchants at
 * the same times, between the same hits, whatever the batch boundaries.
 */
export function advanceClock(clock: DecayClock, at: number, tickMs: number): number | null {
  if (at > clock.watermark) clock.watermark = at
  const tick = Math.floor(clock.watermark / tickMs) * tickMs
  if (tick <= clock.lastTick) return null
  const first = clock.lastTick === Number.NEGATIVE_INFINITY
  clock.lastTick = tick
  // The partition's first hit sets the clock: nothing is older than it yet.
  return first ? null : tick
}

/**
 * Level thresholds that fit a review capacity: with the configured thresholds, `entrants` merchants
 * (their peak scores) reached MEDIUM or above over the last `days` days. When more than `perDay` a day
 * did, MEDIUM rises to the peak score of the (perDay · days)-th of them, so about `perDay` a day enter
 * the queue, the highest first; HIGH and CRITICAL keep at least their configured distance above it.
 * Never below the configured thresholds: capacity narrows a queue, it never fills one.
 */
export function levelsForCapacity(
  configured: Levels,
  entrants: readonly number[],
  perDay: number,
  days: number,
): Levels {
  const room = Math.max(1, Math.round(perDay * days))
  if (entrants.length <= room) return configured
  const sorted = [...entrants].sort((a, b) => b - a)
  // The score of the last merchant that fits; ties at that score all stay in (the order is by score).
  const medium = Math.min(98, Math.max(configured.medium, sorted[room - 1] ?? configured.medium))
  const high = Math.min(
    99,
    Math.max(configured.high, medium + (configured.high - configured.medium), medium + 1),
  )
  const critical = Math.min(
    100,
    Math.max(configured.critical, high + (configured.critical - configured.high), high + 1),
  )
  return { medium, high, critical }
}

/** The model with capacity-calibrated levels for some acquirers (levelsByAcquirer replaced). */
export function withLevels(model: ScoringModel, levels: ReadonlyMap<string, Levels>): ScoringModel {
  return { ...model, levelsByAcquirer: levels }
}

/** An acquirer's review capacity: new merchants at MEDIUM or above a day. */
export function capacityOf(model: ScoringModel, acquirerId: string): number {
  return model.capacity.byAcquirer.get(acquirerId) ?? model.capacity.perDay
}
